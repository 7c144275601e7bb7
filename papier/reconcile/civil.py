"""Civil status: the declarations collected on paper ("fiches de recueil") that must become acts.

A fiche de recueil is not an act (code civil art. 52 forbids loose sheets): each must be drawn up on the
official register. Deadlines:
- naissance: the declaration is due within five days of the birth (code civil art. 55); when the last day is a
  Saturday, Sunday or public holiday the delay runs to the next working day. The act is drawn up at once, so the
  deadline shown is birth date + 5 days (extended as above).
- décès: the act is drawn up "dans les meilleurs délais" (art. 78–79); the common practice of 24 hours after the
  declaration is shown as an indicative deadline.

The follow-up ("Acte dressé le … n° …") is read from the fiche; when it is blank the restored civil-status
software is searched for the act (same type and date, same name when transcribed).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from papier.reconcile.common import date_of, field as get, is_page_block, next_working_day, sheet_ref
from papier.reconcile.restored import Act, RestoredData

BIRTH_DELAY_DAYS = 5       # code civil art. 55
DEATH_PRACTICE_DAYS = 1    # "dans les meilleurs délais": 24 h in practice


@dataclass
class Fiche:
    type: str                      # naissance | deces
    fiche: str                     # pre-printed number N-0001 / D-0001
    sheet: str
    status: str                    # a_dresser | dresse | dresse_logiciel | annulee | a_verifier
    declared: _dt.date | None = None
    event: _dt.date | None = None  # birth or death date (usable values only)
    event_read: str = ""           # what was read, even when awaiting review
    nom: str | None = None
    prenoms: str | None = None
    deadline: _dt.date | None = None
    deadline_note: str = ""
    passed: bool | None = None
    acte_date: _dt.date | None = None
    acte_numero: str | None = None
    review: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class CivilResult:
    fiches: list[Fiche]

    def by_status(self, status: str) -> list[Fiche]:
        return [f for f in self.fiches if f.status == status]


NAMES = {"naissance": ("enfant_nom", "enfant_prenoms", "date_naissance"),
         "deces": ("defunt_nom", "defunt_prenoms", "date_deces")}


def analyse_civil(entries: list[dict[str, Any]], restored: RestoredData, today: _dt.date) -> CivilResult:
    out = []
    for e in sorted((x for x in entries if x.get("form") in NAMES and not is_page_block(x)),
                    key=lambda x: (str(x.get("form")), str((x.get("printed") or {}).get("fiche") or ""),
                                   str(x.get("page_key")), int(x.get("copy") or 0))):
        out.append(_fiche(e, restored, today))
    return CivilResult(out)


def _text(e: dict[str, Any], name: str, review: list[str], label: str) -> str | None:
    f = get(e, name)
    if f.in_review:
        review.append(label)
        return None
    if f.illegible:
        review.append(f"{label} illisible")
        return None
    return f.value if f.usable and f.value else None


def _fiche(e: dict[str, Any], restored: RestoredData, today: _dt.date) -> Fiche:
    kind = str(e["form"])
    nom_f, prenoms_f, date_f = NAMES[kind]
    fi = Fiche(kind, str((e.get("printed") or {}).get("fiche") or ""), sheet_ref(e), "a_dresser")
    if e.get("sheet_status") == "conflict":
        fi.status = "a_verifier"
        fi.review.append("feuille en conflit (deux images différentes)")
        return fi
    ann = get(e, "annulee")
    if ann.in_review:
        fi.status = "a_verifier"
        fi.review.append("case « fiche annulée »")
    elif ann.usable and ann.value is True:
        fi.status = "annulee"
        return fi
    d = get(e, "date_declaration")
    if d.usable:
        fi.declared = date_of(d.value, "date_ddmmyyyy")
    elif d.in_review:
        fi.review.append("date de déclaration")
    if d.illegible:
        fi.review.append("date de déclaration illisible")
    ev = get(e, date_f)
    fi.event_read = str(ev.value or "")
    if ev.usable:
        fi.event = date_of(ev.value, "date_ddmmyyyy")
    elif ev.in_review:
        fi.review.append("date de naissance" if kind == "naissance" else "date du décès")
    if ev.illegible:
        fi.review.append(("date de naissance" if kind == "naissance" else "date du décès") + " illisible")
    fi.nom = _text(e, nom_f, fi.review, "nom")
    fi.prenoms = _text(e, prenoms_f, fi.review, "prénoms")

    # follow-up written on the fiche
    ad, an = get(e, "acte_date"), get(e, "acte_numero")
    if ad.in_review or an.in_review:
        fi.review.append("suivi « acte dressé »")
    elif ad.illegible or an.illegible:
        fi.review.append("suivi « acte dressé » illisible")
    else:
        fi.acte_date = date_of(ad.value, "date_ddmmyyyy") if ad.usable else None
        fi.acte_numero = str(an.value) if an.usable and an.value else None
        if fi.acte_numero or fi.acte_date:
            fi.status = "dresse" if fi.status == "a_dresser" else fi.status
            if not (fi.acte_numero and fi.acte_date):
                fi.notes.append("suivi incomplet (date ou n° d'acte manquant)")

    # the legal deadline
    if kind == "naissance":
        base = fi.event
        if base:
            fi.deadline = next_working_day(base + _dt.timedelta(days=BIRTH_DELAY_DAYS))
            fi.deadline_note = "5 jours après la naissance (c. civ. art. 55)"
        else:
            fi.deadline_note = "date de naissance à vérifier : échéance inconnue"
    else:
        base = fi.declared
        if base:
            fi.deadline = base + _dt.timedelta(days=DEATH_PRACTICE_DAYS)
            fi.deadline_note = "dans les meilleurs délais (c. civ. art. 78-79 ; usage : 24 h après la déclaration)"
        else:
            fi.deadline_note = "date de déclaration à vérifier : échéance inconnue"

    # already drawn up in the restored software?
    if fi.status in ("a_dresser", "a_verifier") and restored.has("actes"):
        act = _find_act(fi, restored.acts)
        if act is not None:
            fi.acte_numero, fi.acte_date = act.numero, None
            fi.notes.append(f"acte n° {act.numero} trouvé dans le logiciel ({act.where})")
            if fi.status == "a_dresser":
                fi.status = "dresse_logiciel"
    if fi.deadline and fi.status in ("a_dresser", "a_verifier"):
        fi.passed = today > fi.deadline
    elif fi.deadline and fi.status == "dresse" and fi.acte_date:
        fi.passed = fi.acte_date > fi.deadline
    return fi


def _norm(s: str | None) -> str:
    import unicodedata

    s = unicodedata.normalize("NFKD", s or "").encode("ascii", "ignore").decode().upper()
    return " ".join(s.replace("-", " ").split())


def _find_act(fi: Fiche, acts: list[Act]) -> Act | None:
    if fi.event is None:
        return None
    for a in sorted(acts, key=lambda a: a.numero):
        if a.type != fi.type or a.date != fi.event:
            continue
        if fi.nom and a.nom and _norm(fi.nom) != _norm(a.nom):
            continue
        if not fi.nom:
            continue  # a date alone is not enough to say two people are the same
        return a
    return None

"""What people write: realistic, valid values for every field of a register page.

Values are in the EXPORT format of CONTRACTS.md:
choice -> option value or None; multi -> list of option values; checkbox -> bool;
digits -> the digit string written, left to right, blank boxes skipped (None when nothing is written);
text -> the string the writer meant (None when nothing is written).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np

from papier.checks import DATE_FORMATS, ean13_check_digit, luhn_check_digit

# A crisis that starts on a Monday in the autumn (the forms' example says "oct. 2026").
DEFAULT_START = dt.date(2026, 9, 14)

MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")

FIRST_F = ("Marie", "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Sophie", "Nathalie",
           "Isabelle", "Céline", "Sandrine", "Aurélie", "Laura", "Lucie", "Zoé", "Jade", "Louise", "Alice", "Lina")
FIRST_M = ("Thomas", "Nicolas", "Julien", "Lucas", "Hugo", "Louis", "Nathan", "Gabriel", "Arthur", "Jules",
           "Pierre", "Antoine", "Mehdi", "Karim", "Olivier", "David", "Sébastien", "Jérôme", "Paul", "Noah", "Léo")
SURNAMES = ("MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU",
            "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT", "FOURNIER",
            "MOREL", "GIRARD", "ANDRE", "MERCIER", "DUPONT", "LAMBERT", "BONNET", "FRANCOIS", "MARTINEZ", "LEGRAND",
            "DELATTRE", "DHAINAUT", "VANDAMME", "LESAGE", "WATTIER", "CUVELIER", "BOUCHER", "HAMEL", "COLIN")
TOWNS = ("Aulnoye-Aymeries", "Maubeuge", "Valenciennes", "Lille", "Avesnes-sur-Helpe", "Berlaimont",
         "Hautmont", "Le Quesnoy", "Cambrai", "Douai", "Pont-sur-Sambre", "Leval", "Bachant", "Amiens")
STREETS = ("rue Jean Jaurès", "rue de la Gare", "av. de la République", "rue Victor Hugo", "place du Marché",
           "rue Pasteur", "rue des Écoles", "allée des Tilleuls", "rue Émile Zola", "bd Gambetta")
PROFESSIONS = ("infirmière", "ouvrier", "enseignante", "sans profession", "employé", "agent d'entretien",
               "aide-soignante", "chauffeur", "commerçante", "retraité", "technicien", "cuisinier", "comptable")
MATERNITY = "Maternité CH Maubeuge"
HOSPITALS = ("CH Maubeuge", "domicile", "EHPAD Les Tilleuls", "CH Valenciennes", "Clinique du Parc")
AGENTS = ("M. Leroy", "S. Dhainaut", "C. Martin", "A. Vandamme", "P. Lesage", "J. Wattier")
INITIALS = ("ML", "SD", "CM", "AV", "PL", "JW", "NB", "FG")
EVENTS = (
    "Écrans bloqués, message de rançon sur les postes",
    "Câbles réseau débranchés, Wi-Fi coupé",
    "Appel au prestataire informatique",
    "Cellule de crise réunie en salle du conseil",
    "Plainte déposée à la gendarmerie",
    "Notification CNIL envoyée",
    "Passage en mode dégradé : registres papier",
    "Appel ANSSI / cybermalveillance.gouv.fr",
    "Information des agents : ne pas rallumer",
    "Affichage à l'accueil : paiements par chèque",
    "Point presse avec le maire",
    "Sauvegarde hors ligne retrouvée, intacte",
    "Restauration du serveur de la régie",
    "Appel de l'assureur, dossier ouvert",
    "Prêt d'ordinateurs par la communauté de communes",
    "Retour du réseau pour le service état civil",
)
EVENT_AUTHORS = ("DGS", "Maire", "M. Leroy", "Resp. informatique", "S. Dhainaut", "Accueil")


@lru_cache(maxsize=1)
def _roster() -> dict[str, tuple[str, str]]:
    """family number -> (NOM, Prénom) from the built-in sample roster (empty when unavailable)."""
    try:
        from papier.sample_data import sample_roster
    except ImportError:
        return {}
    return {f["numero_famille"]: (f["nom"], f["prenom"]) for f in sample_roster()}


@lru_cache(maxsize=1)
def _catalog() -> dict[str, dict[str, str]]:
    try:
        from papier.sample_data import sample_catalog
    except ImportError:
        return {}
    return {d["code_barres"]: d for d in sample_catalog()}


def _pick(rng: np.random.Generator, seq: Any) -> Any:
    return seq[int(rng.integers(len(seq)))]


def fmt_date(d: dt.date, semantic: str) -> str:
    return d.strftime(DATE_FORMATS.get(semantic, DATE_FORMATS["date_ddmmyy"]))


def fmt_time(h: int, m: int) -> str:
    return f"{h:02d}{m:02d}"


def random_time(rng: np.random.Generator, lo: int = 8 * 60 + 30, hi: int = 17 * 60 + 30) -> str:
    t = int(rng.integers(lo, hi))
    return fmt_time(t // 60, t % 60)


def family_name(num: str, rng: np.random.Generator) -> str:
    """The payer's name as an agent writes it (from the roster when the number is known)."""
    nom, prenom = _roster().get(num) or (_pick(rng, SURNAMES), _pick(rng, FIRST_F + FIRST_M))
    r = rng.random()
    if r < 0.5:
        return nom
    if r < 0.8:
        return f"{nom} {prenom}"
    return f"{'Mme' if prenom in FIRST_F or rng.random() < 0.5 else 'M.'} {nom}"


def period_text(d: dt.date, rng: np.random.Generator) -> str:
    m = d.month if rng.random() < 0.7 else (d.month % 12) + 1
    y = d.year if m >= d.month else d.year + 1
    return f"{MONTHS_SHORT[m - 1]} {y}"


SERVICE_AMOUNTS = {  # cents: (low, high, step)
    "restauration": (3_50, 95_00, 35),       # meals at 3,50 €
    "creche": (45_00, 480_00, 5),
    "centre_loisirs": (8_00, 160_00, 50),
    "periscolaire": (12_00, 75_00, 10),
    "autre": (5_00, 60_00, 100),
}


def amount_for(service: str, rng: np.random.Generator) -> int:
    lo, hi, step = SERVICE_AMOUNTS.get(service, (5_00, 60_00, 100))
    if service == "restauration":
        return 350 * int(rng.integers(1, 28))
    v = int(rng.integers(lo // step, hi // step + 1)) * step
    return max(v, step)


def payment_values(rng: np.random.Generator, fams: list[str], day: dt.date, *, service: str | None = None,
                   famille: str | None = None, amount: int | None = None) -> dict[str, Any]:
    service = service or _pick(rng, ("restauration",) * 5 + ("creche",) * 2 + ("centre_loisirs",) * 2
                               + ("periscolaire", "autre"))
    modes = ["especes", "cheque", "cheque", "cheque", "cb", "virement"]
    if service in ("creche", "centre_loisirs", "periscolaire"):
        modes.append("cesu")  # CESU is not accepted for school meals
    mode = _pick(rng, modes)
    famille = famille or _pick(rng, fams)
    return {
        "date": fmt_date(day, "date_ddmmyy"),
        "famille": famille,
        "montant": str(amount if amount is not None else amount_for(service, rng)),
        "payeur": family_name(famille, rng),
        "service": service,
        "nature": _pick(rng, ("total",) * 8 + ("acompte", "solde")),
        "mode": mode,
        "periode": period_text(day, rng),
        "cheque": f"{int(rng.integers(0, 10**7)):07d}" if mode == "cheque" else None,
        "visa": _pick(rng, INITIALS),
        "annulee": False,
    }


# Share of payments by a family absent from the printed roster, and of loans / returns of an item absent from the
# printed catalogue (a family registered after the kit was printed, a new book). Their numbers are one slip away
# from a printed one (near_outside): the hardest case for the reader's known sets, which must flag them.
OUTSIDE_KNOWN_SHARE = 0.03
# Share of journal lines (payments, loans, returns, log entries) written late: a forgotten line added afterwards,
# dated 1-10 days before the lines around it. Journal order (papier.digits.journal) must not make them silent
# errors: they stay hypotheses the reader can read, and an accepted date out of order goes to review.
LATE_LINE_SHARE = 0.03


def near_outside(known: Any, check: str | None, rng: np.random.Generator) -> str:
    """A valid number absent from `known` but one digit away from one of its values (check digit recomputed:
    `check` is "luhn" or "ean13"; None: a number without a check digit, e.g. a reader's card, any digit changed)."""
    vals = sorted(known)
    pool = set(vals)
    while True:
        v = vals[int(rng.integers(len(vals)))]
        body = list(v if check is None else v[:-1])
        i = int(rng.integers(len(body)))
        body[i] = str((int(body[i]) + int(rng.integers(1, 10))) % 10)
        b = "".join(body)
        c = b if check is None else b + (luhn_check_digit(b) if check == "luhn" else ean13_check_digit(b))
        if c not in pool:
            return c


def _doc(rng: np.random.Generator, docs: list[str]) -> dict[str, str]:
    code = _pick(rng, docs)
    info = _catalog().get(code)
    if info:
        return info
    return {"code_barres": code, "cote": "R " + _pick(rng, SURNAMES)[:3], "titre": "Le petit prince",
            "support": "livre"}


def reader_card(rng: np.random.Generator, readers: list[str], among: list[str] | None = None) -> str | None:
    """A loan's card number: a reader of the printed list (of `among`, the readers who come, when given), or
    (OUTSIDE_KNOWN_SHARE) a card one digit away from the list (a reader registered after the kit was printed:
    cards are numbered in sequence, so a new card is a near neighbour of printed ones). None without a list
    (loan_values then draws a random card number)."""
    if not readers:
        return None
    return near_outside(readers, None, rng) if rng.random() < OUTSIDE_KNOWN_SHARE else _pick(rng, among or readers)


def loan_values(rng: np.random.Generator, docs: list[str], day: dt.date, *, returned: dt.date | None = None,
                card: str | None = None, doc: dict[str, str] | None = None) -> dict[str, Any]:
    doc = doc or _doc(rng, docs)
    title = doc["titre"]
    return {
        "date": fmt_date(day, "date_ddmmyy"),
        "carte": card or ("2" + "".join(str(int(d)) for d in rng.integers(0, 10, 9))),
        "code_barres": doc["code_barres"],
        "cote": doc.get("cote") or None,
        "titre": title,
        "support": doc.get("support") if doc.get("support") in ("livre", "bd", "revue", "cd", "dvd", "jeu")
        else "autre",
        "retour_prevu": fmt_date(day + dt.timedelta(days=21), "date_ddmmyy"),
        "rendu": returned is not None,
        "date_retour": fmt_date(returned, "date_ddmmyy") if returned else None,
        "visa": _pick(rng, INITIALS),
        "annule": False,
    }


def _person(rng: np.random.Generator, female: bool) -> tuple[str, str]:
    return _pick(rng, SURNAMES), _pick(rng, FIRST_F if female else FIRST_M)


def _address(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 120))} {_pick(rng, STREETS)}, {_pick(rng, TOWNS[:4])}"


def birth_values(rng: np.random.Generator, day: dt.date) -> dict[str, Any]:
    born = day - dt.timedelta(days=int(rng.integers(0, 4)))
    mere_nom, mere_pre = _person(rng, True)
    pere_nom, pere_pre = _person(rng, False)
    sexe = "f" if rng.random() < 0.5 else "m"
    child_first = _pick(rng, FIRST_F if sexe == "f" else FIRST_M)
    qual = _pick(rng, ("pere", "pere", "mere", "sage_femme", "maternite"))
    return {
        "date_declaration": fmt_date(day, "date_ddmmyyyy"),
        "heure_declaration": random_time(rng),
        "annulee": False,
        "enfant_nom": pere_nom,
        "enfant_prenoms": f"{child_first} {_pick(rng, FIRST_F if sexe == 'f' else FIRST_M)}",
        "sexe": sexe,
        "date_naissance": fmt_date(born, "date_ddmmyyyy"),
        "heure_naissance": random_time(rng, 0, 24 * 60),
        "lieu_naissance": MATERNITY,
        "declaration_conjointe_nom": _pick(rng, ("oui", "non", "non")),
        "mere_nom": mere_nom,
        "mere_prenoms": mere_pre,
        "mere_date_naissance": fmt_date(dt.date(int(rng.integers(1984, 2003)), int(rng.integers(1, 13)),
                                                int(rng.integers(1, 29))), "date_ddmmyyyy"),
        "mere_lieu_naissance": _pick(rng, TOWNS),
        "mere_profession": _pick(rng, PROFESSIONS),
        "mere_domicile": _address(rng),
        "pere_nom": pere_nom,
        "pere_prenoms": pere_pre,
        "pere_date_naissance": fmt_date(dt.date(int(rng.integers(1980, 2001)), int(rng.integers(1, 13)),
                                                int(rng.integers(1, 29))), "date_ddmmyyyy"),
        "pere_lieu_naissance": _pick(rng, TOWNS),
        "pere_profession": _pick(rng, PROFESSIONS),
        "pere_domicile": _address(rng),
        "reconnaissance_anticipee": _pick(rng, ("aucune", "aucune", "pere", "deux")),
        "declarant_qualite": qual,
        "declarant_identite": f"{pere_pre} {pere_nom}" if qual == "pere" else f"{mere_pre} {mere_nom}"
        if qual == "mere" else f"{_pick(rng, FIRST_F)} {_pick(rng, SURNAMES)}",
        "pieces": [p for p in ("certificat", "identite", "livret", "reconnaissance", "choix_nom")
                   if rng.random() < {"certificat": 0.95, "identite": 0.9}.get(p, 0.3)],
        "agent": _pick(rng, AGENTS),
        "acte_date": None,
        "acte_numero": None,
    }


def death_values(rng: np.random.Generator, day: dt.date) -> dict[str, Any]:
    died = day - dt.timedelta(days=int(rng.integers(0, 3)))
    sexe = "f" if rng.random() < 0.5 else "m"
    nom, pre = _person(rng, sexe == "f")
    situation = _pick(rng, ("marie", "veuf", "veuf", "celibataire", "divorce", "pacse"))
    pere_inconnu = rng.random() < 0.15
    mere_inconnue = rng.random() < 0.08
    unknown_time = rng.random() < 0.1
    return {
        "date_declaration": fmt_date(day, "date_ddmmyyyy"),
        "heure_declaration": random_time(rng),
        "annulee": False,
        "date_deces": fmt_date(died, "date_ddmmyyyy"),
        "heure_deces": None if unknown_time else random_time(rng, 0, 24 * 60),
        "date_inconnue": unknown_time,
        "lieu_deces": _pick(rng, HOSPITALS),
        "defunt_nom": nom,
        "defunt_prenoms": pre,
        "sexe": sexe,
        "defunt_date_naissance": fmt_date(dt.date(int(rng.integers(1925, 1975)), int(rng.integers(1, 13)),
                                                  int(rng.integers(1, 29))), "date_ddmmyyyy"),
        "defunt_lieu_naissance": _pick(rng, TOWNS),
        "defunt_profession": _pick(rng, PROFESSIONS),
        "defunt_domicile": _address(rng),
        "domicile_autre_commune": bool(rng.random() < 0.2),
        "situation": situation,
        "conjoint": None if situation == "celibataire" else f"{_pick(rng, FIRST_F if sexe == 'm' else FIRST_M)} "
                                                           f"{_pick(rng, SURNAMES)}",
        "pere": None if pere_inconnu else f"{_pick(rng, FIRST_M)} {nom}",
        "pere_inconnu": pere_inconnu,
        "mere": None if mere_inconnue else f"{_pick(rng, FIRST_F)} {_pick(rng, SURNAMES)}",
        "mere_inconnue": mere_inconnue,
        "declarant_lien": _pick(rng, ("funeraire", "funeraire", "enfant", "conjoint", "famille")),
        "declarant_identite": f"{_pick(rng, FIRST_F + FIRST_M)} {_pick(rng, SURNAMES)}",
        "certificat_vu": True,
        "agent": _pick(rng, AGENTS),
        "acte_date": None,
        "acte_numero": None,
    }


def log_values(rng: np.random.Generator, day: dt.date, minutes: int, event: str | None = None) -> dict[str, Any]:
    return {
        "date": fmt_date(day, "date_ddmmyy"),
        "heure": fmt_time(minutes // 60, minutes % 60),
        "auteur": _pick(rng, EVENT_AUTHORS),
        "annule": False,
        "evenement": event or _pick(rng, EVENTS),
    }


# --- generic values (forms the simulator has no specific knowledge of) --------------------------------------------


def generic_value(f: dict[str, Any], rng: np.random.Generator, known: dict[str, list[str]], day: dt.date) -> Any:
    t = f["type"]
    if t == "choice":
        return _pick(rng, f["options"])["value"]
    if t == "multi":
        return [o["value"] for o in f["options"] if rng.random() < 0.35]
    if t == "checkbox":
        return bool(rng.random() < 0.3)
    if t == "text":
        return _pick(rng, SURNAMES).capitalize() + " " + _pick(rng, FIRST_F + FIRST_M)
    if t != "digits":
        return None
    n = len(f["boxes"])
    sem = f.get("semantic")
    if f.get("known") and known.get(f["known"]):
        vals = [v for v in known[f["known"]] if len(v) == n]
        if vals:
            return _pick(rng, vals)
    if sem and sem.startswith("date_"):
        return fmt_date(day, sem)
    if sem == "time_hhmm":
        return random_time(rng)
    if sem == "amount_cents":
        return str(int(rng.integers(1, 200)) * 50)
    if f.get("check") == "luhn":
        p = "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))
        return p + luhn_check_digit(p)
    if f.get("check") == "ean13" and n == 13:
        p = "".join(str(int(d)) for d in rng.integers(0, 10, 12))
        return p + ean13_check_digit(p)
    k = n if rng.random() < 0.7 else int(rng.integers(1, n + 1))
    return str(int(rng.integers(1, 10))) + "".join(str(int(d)) for d in rng.integers(0, 10, k - 1))


def blank_value(ftype: str) -> Any:
    if ftype == "multi":
        return []
    if ftype == "checkbox":
        return False
    return None


def is_blank(ftype: str, v: Any) -> bool:
    return v is None or v is False or v == [] or v == ""


def entry_fields(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in entry["fields"]}


# --- the page ----------------------------------------------------------------------------------------------------


def make_values(page: dict[str, Any], known_values: dict[str, list[str]], rng: np.random.Generator, *,
                fill_rate: float = 0.8, scenario: dict[str, Any] | None = None) -> dict[int, dict[str, Any]]:
    """Values for every entry of a layout.json page: row -> field name -> value (export format).

    Only entries with ink are returned (blank lines are absent). ``scenario`` may give ``"day"`` (datetime.date,
    the first day written on the page), ``"copy"`` (copy number to write in the header, 0 for none) and ``"rows"``
    ({row: {field: value}}, used as is instead of random values)."""
    scenario = scenario or {}
    form = page["form"]
    day: dt.date = scenario.get("day") or DEFAULT_START + dt.timedelta(days=int(rng.integers(0, 40)))
    fams = list(known_values.get("familles") or []) or ["10009"]
    docs = list(known_values.get("documents") or []) or ["9782070612758"]
    readers = list(known_values.get("lecteurs") or [])  # card numbers of the readers' list printed in the kit
    entries = [e for e in page["entries"] if e["kind"] != "page"]
    page_entry = next((e for e in page["entries"] if e["kind"] == "page"), None)
    out: dict[int, dict[str, Any]] = {}

    if "rows" in scenario:
        out = {int(r): dict(v) for r, v in scenario["rows"].items()}
    else:
        # people fill from the top; sometimes a line is skipped
        n = len(entries)
        k = int(rng.binomial(n, fill_rate)) if n > 1 else int(rng.random() < fill_rate)
        rows = [e["row"] for e in entries[:k]]
        if k and k < n and rng.random() < 0.3:  # a skipped line in the middle
            skip = int(rng.integers(0, k))
            rows = [r for i, r in enumerate(rows) if i != skip] + [entries[k]["row"]]
        minutes = int(rng.integers(8 * 60, 10 * 60))
        for e in entries:
            if e["row"] not in rows:
                continue
            if rng.random() < 0.25:
                day = day + dt.timedelta(days=int(rng.integers(1, 3)))
            outside = rng.random() < OUTSIDE_KNOWN_SHARE
            late = rng.random() < LATE_LINE_SHARE
            when = day - dt.timedelta(days=int(rng.integers(1, 11))) if late else day
            if form == "paiement":
                v = payment_values(rng, fams, when, famille=near_outside(fams, "luhn", rng) if outside else None)
            elif form == "pret":
                ret = when + dt.timedelta(days=int(rng.integers(3, 25))) if rng.random() < 0.3 else None
                doc = _doc(rng, [near_outside(docs, "ean13", rng)]) if outside else None
                v = loan_values(rng, docs, when, returned=ret, doc=doc, card=reader_card(rng, readers))
            elif form == "retour":
                code = near_outside(docs, "ean13", rng) if outside else _pick(rng, docs)
                v = {"date": fmt_date(when, "date_ddmmyy"), "code_barres": code,
                     "visa": _pick(rng, INITIALS), "annule": False}
            elif form == "main_courante":
                minutes += int(rng.integers(5, 120))
                if minutes >= 19 * 60:
                    day, minutes = day + dt.timedelta(days=1), int(rng.integers(8 * 60, 9 * 60))
                v = log_values(rng, when, int(rng.integers(8 * 60, 19 * 60)) if late else minutes)
            elif form == "naissance":
                v = birth_values(rng, day)
            elif form == "deces":
                v = death_values(rng, day)
            else:
                v = {f["name"]: generic_value(f, rng, known_values, day) for f in e["fields"]
                     if rng.random() < 0.85}
            # a few cancelled lines (the agent ticks "annulé·e" and goes on)
            cancel = next((f["name"] for f in e["fields"] if f["type"] == "checkbox"
                           and f["name"].startswith("annul")), None)
            if cancel and rng.random() < 0.05:
                v[cancel] = True
            out[e["row"]] = v
    # complete every entry with all its fields (blank ones as blank values), drop unknown names
    for e in entries:
        if e["row"] not in out:
            continue
        fields = entry_fields(e)
        v = out[e["row"]]
        out[e["row"]] = {name: v.get(name, blank_value(f["type"])) for name, f in fields.items()}

    if page_entry is not None:
        pf = entry_fields(page_entry)
        pv: dict[str, Any] = {name: blank_value(f["type"]) for name, f in pf.items()}
        copy = scenario.get("copy", 0)
        if "copie" in pf and copy:
            pv["copie"] = str(int(copy))
        for name, f in pf.items():
            src = f.get("sum_of")
            if not src:
                continue
            tot = sum(int(v[src]) for r, v in out.items() if v.get(src)
                      and not any(v.get(c) is True for c in v if c.startswith("annul")))
            has = any(v.get(src) for v in out.values())
            if has and not scenario.get("no_total"):
                pv[name] = str(tot)
        if any(not is_blank(pf[k]["type"], x) for k, x in pv.items()):
            out[page_entry["row"]] = pv
    return out

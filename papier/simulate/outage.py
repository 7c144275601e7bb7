"""A whole outage on paper: weeks of registers filled at the counters, then scanned (for the demo and the
reconciliation tests).

``simulate_outage`` writes into ``out_dir``:

- ``lot0_manifeste.pdf`` (the kit's manifest pages: its lists of families, documents and readers, scanned with
  the registers as the kit says), ``lot1_regie.pdf`` (the régie's payment journal) and ``lot2_autres.pdf``
  (library, civil status, crisis log) — or .tif / .jpg files, by the profile's format when ``fmt="auto"``;
- ``truth.jsonl`` exactly as ``simulate_batch`` writes it (what is on each scanned image);
- ``scenario.json``: the business facts the sheets were written from (payments with receipt numbers, families,
  amounts, dates; loans and returns; births and deaths; crisis-log lines; which pages were lost before the scan
  and which page went through the scanner twice).

What happens, deterministic from ``seed``: payments every working day by families of the roster (canteen,
crèche, leisure centre amounts that make sense; cheques with their numbers), a few receipts cancelled and
rewritten on the next line, one payment written twice by mistake, registers running out and continued on
numbered photocopies of a blank page, loans and returns of catalogue items, a few births and deaths, the crisis
log; then one or two payment pages go missing before the scan and one page is scanned twice.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from papier.simulate.batch import (
    BatchSink, TruthWriter, entry_truth, fillable_pages, load_kit, make_page_image,
)
from papier.simulate.degrade import degrade, get_profile, jpeg_quality
from papier.simulate.ink import make_writer
from papier.simulate.values import (
    DEFAULT_START, EVENTS, _catalog, _pick, birth_values, death_values, family_name, fmt_date, loan_values,
    log_values, make_values, payment_values, reader_card,
)

SCENARIO_SCHEMA = "papier.simulate.outage/1"
MANIFEST_STREAM = 7_000_001  # second seed word of the manifest pages' scan noise


def _working_days(start: dt.date, weeks: int) -> list[dt.date]:
    days = [start + dt.timedelta(days=i) for i in range(weeks * 7)]
    return [d for d in days if d.weekday() < 5]


def _iso(s: str | None, semantic: str = "date_ddmmyy") -> str | None:
    if not s:
        return None
    if semantic == "date_ddmmyyyy":
        return dt.date(int(s[4:8]), int(s[2:4]), int(s[:2])).isoformat()
    return dt.date(2000 + int(s[4:6]), int(s[2:4]), int(s[:2])).isoformat()


class _Register:
    """The pages of one register as they get used: originals first, then numbered photocopies of blanks."""

    def __init__(self, pages: list[dict[str, Any]]):
        self.pages = sorted(pages, key=lambda p: p.get("serial", p["pdf_page"]))
        self.used = 0

    def lines_per_page(self) -> int:
        return sum(1 for e in self.pages[0]["entries"] if e["kind"] != "page")

    def next_page(self) -> tuple[dict[str, Any], int]:
        i = self.used
        self.used += 1
        n = len(self.pages)
        return self.pages[i % n], i // n  # copy 0 = the original, then copies 1, 2, … of each page


def simulate_outage(kit_dir: str | Path, out_dir: str | Path, *, weeks: int = 6, seed: int = 0,
                    profile: str = "scanner_200", roster: list[dict[str, str]] | None = None,
                    fmt: str = "pdf", start: dt.date = DEFAULT_START) -> Path:
    """Simulate a `weeks`-long outage on the kit in `kit_dir`; returns the path of truth.jsonl (scenario.json is
    beside it). ~40–80 pages for 6 weeks."""
    prof = get_profile(profile)
    layout, pdf_path = load_kit(kit_dir)
    known = layout.get("known_values", {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    by_form: dict[str, list[dict[str, Any]]] = {}
    for p in fillable_pages(layout):
        by_form.setdefault(p["form"], []).append(p)
    days = _working_days(start, weeks)

    # --- who: the families of the roster printed in the kit ---------------------------------------------------------
    kit_fams = set(known.get("familles") or [])
    if roster is None:
        try:
            from papier.sample_data import sample_roster
            roster = sample_roster()
        except ImportError:
            roster = []
    names = {r["numero_famille"]: (r.get("nom", ""), r.get("prenom", "")) for r in roster}
    fams = sorted(f for f in (kit_fams or set(names)) if not names or f in names) or sorted(kit_fams)
    if not fams:
        raise ValueError("no family numbers: neither the kit's known_values nor a roster")
    active = [fams[int(i)] for i in rng.choice(len(fams), size=min(len(fams), 60), replace=False)]
    fam_service = {f: _pick(rng, ("restauration",) * 5 + ("creche",) * 2 + ("centre_loisirs",) * 2
                            + ("periscolaire",)) for f in active}

    def payer(f: str) -> str:
        if f in names:
            nom, prenom = names[f]
            r = rng.random()
            return nom if r < 0.5 else f"{nom} {prenom}" if r < 0.8 else f"Mme {nom}"
        return family_name(f, rng)

    scenario: dict[str, Any] = {"schema": SCENARIO_SCHEMA, "kit_id": layout.get("kit_id"), "seed": seed,
                                "profile": prof.name, "start": days[0].isoformat(), "end": days[-1].isoformat(),
                                "payments": [], "loans": [], "returns": [], "births": [], "deaths": [],
                                "log": [], "pages": [], "missing_pages": [], "rescanned": []}

    # --- payments -------------------------------------------------------------------------------------------------
    pay_rows: list[dict[str, Any]] = []   # chronological lines of the journal (each a dict of field values)
    pay_facts: list[dict[str, Any]] = []
    dup_done = False
    for day in days:
        for _ in range(int(rng.integers(2, 6))):
            f = _pick(rng, active)
            v = payment_values(rng, fams, day, service=fam_service[f], famille=f)
            v["payeur"] = payer(f)
            fact = {"famille": f, "payeur": v["payeur"], "service": v["service"],
                    "amount_cents": int(v["montant"]), "date": day.isoformat(), "nature": v["nature"],
                    "mode": v["mode"], "cheque": v["cheque"], "periode": v["periode"], "cancelled": False,
                    "duplicate_of": None, "replaces": None}
            if rng.random() < 0.04:  # a mistake noticed at once: cancelled, rewritten on the next line
                wrong = dict(v)
                wrong["montant"] = str(max(int(v["montant"]) + int(rng.choice([-1, 1])) * 100 * int(
                    rng.integers(1, 5)), 100))
                wrong["annulee"] = True
                pay_rows.append(wrong)
                pay_facts.append(dict(fact, amount_cents=int(wrong["montant"]), cancelled=True))
                fact["replaces"] = len(pay_facts) - 1
            pay_rows.append(v)
            pay_facts.append(fact)
            if not dup_done and day >= days[len(days) // 3] and rng.random() < 0.3:
                # the same payment written twice (two receipts for one cheque)
                pay_rows.append(dict(v, visa=v["visa"]))
                pay_facts.append(dict(fact, duplicate_of=len(pay_facts) - 1))
                dup_done = True

    # --- library --------------------------------------------------------------------------------------------------
    docs = list(known.get("documents") or [])
    cat = _catalog()
    loan_rows: list[dict[str, Any]] = []
    return_rows: list[dict[str, Any]] = []
    # the readers who come during the crisis: 80 of the kit's list (a few new readers' cards are off the list)
    readers = list(known.get("lecteurs") or [])
    regulars = [readers[int(i)] for i in rng.choice(len(readers), size=min(len(readers), 80), replace=False)] \
        if readers else []

    if docs:
        lent = [docs[int(i)] for i in rng.choice(len(docs), size=min(len(docs), 200), replace=False)]
        li = 0
        for day in days:
            for _ in range(int(rng.integers(0, 3))):
                if li >= len(lent):
                    break
                code = lent[li]
                li += 1
                back = day + dt.timedelta(days=int(rng.integers(5, 30)))
                returned = back if back <= days[-1] and rng.random() < 0.6 else None
                doc = cat.get(code) or {"code_barres": code, "cote": None, "titre": None, "support": "autre"}
                v = loan_values(rng, docs, day, returned=returned, doc=doc,
                                card=reader_card(rng, readers, regulars))
                loan_rows.append(v)
                scenario["loans"].append({"date": day.isoformat(), "carte": v["carte"], "code_barres": code,
                                          "titre": v["titre"], "support": v["support"],
                                          "due": _iso(v["retour_prevu"]),
                                          "returned": returned.isoformat() if returned else None,
                                          "cancelled": False})
        # documents lent before the crisis, returned during it
        for day in days[: max(len(days) // 2, 1)]:
            if rng.random() < 0.5:
                code = docs[int(rng.integers(len(docs)))]
                return_rows.append({"date": fmt_date(day, "date_ddmmyy"), "code_barres": code,
                                    "visa": _pick(rng, ("ML", "SD", "CM")), "annule": False})
                scenario["returns"].append({"date": day.isoformat(), "code_barres": code})

    # --- civil status and the crisis log ---------------------------------------------------------------------------
    birth_rows = []
    for _ in range(int(rng.integers(2, 5))):
        day = days[int(rng.integers(len(days)))]
        v = birth_values(rng, day)
        birth_rows.append(v)
    birth_rows.sort(key=lambda v: v["date_declaration"][4:] + v["date_declaration"][2:4] + v["date_declaration"][:2])
    death_rows = []
    for _ in range(int(rng.integers(1, 4))):
        day = days[int(rng.integers(len(days)))]
        death_rows.append(death_values(rng, day))
    death_rows.sort(key=lambda v: v["date_declaration"][4:] + v["date_declaration"][2:4] + v["date_declaration"][:2])
    log_rows = []
    minutes = 8 * 60 + 12
    for i, ev in enumerate(EVENTS[:12]):
        log_rows.append(log_values(rng, days[0], minutes, ev))
        minutes += int(rng.integers(5, 45))
    for day in days[1:]:
        if rng.random() < 0.35:
            ev = EVENTS[12 + int(rng.integers(0, len(EVENTS) - 12))]
            log_rows.append(log_values(rng, day, int(rng.integers(8 * 60, 18 * 60)), ev))

    # --- lay the lines out on pages -------------------------------------------------------------------------------
    planned: list[dict[str, Any]] = []   # {"page", "copy", "rows": {row: values}, "facts": [(kind, index)]}

    def lay(form: str, rows: list[dict[str, Any]], facts_kind: str | None, per_page: int | None = None) -> None:
        if form not in by_form or not rows:
            return
        reg = _Register(by_form[form])
        n = per_page or reg.lines_per_page()
        for start_i in range(0, len(rows), n):
            page, copy = reg.next_page()
            line_rows = [e["row"] for e in page["entries"] if e["kind"] != "page"]
            chunk = rows[start_i:start_i + n]
            planned.append({"page": page, "copy": copy, "form": form,
                            "rows": {line_rows[k]: v for k, v in enumerate(chunk)},
                            "facts": [(facts_kind, start_i + k) for k in range(len(chunk))] if facts_kind else []})

    lay("paiement", pay_rows, "payments")
    lay("pret", loan_rows, "loans")
    lay("retour", return_rows, "returns")
    lay("main_courante", log_rows, "log")
    lay("naissance", birth_rows, "births", 1)
    lay("deces", death_rows, "deaths", 1)

    # payments facts need their index in pay_facts; other registers build their facts from the rows
    for v in birth_rows:
        scenario["births"].append({"date_declaration": _iso(v["date_declaration"], "date_ddmmyyyy"),
                                   "enfant_nom": v["enfant_nom"], "enfant_prenoms": v["enfant_prenoms"],
                                   "sexe": v["sexe"], "date_naissance": _iso(v["date_naissance"], "date_ddmmyyyy")})
    for v in death_rows:
        scenario["deaths"].append({"date_declaration": _iso(v["date_declaration"], "date_ddmmyyyy"),
                                   "defunt_nom": v["defunt_nom"], "defunt_prenoms": v["defunt_prenoms"],
                                   "date_deces": _iso(v["date_deces"], "date_ddmmyyyy")})
    for v in log_rows:
        scenario["log"].append({"date": _iso(v["date"]), "heure": f"{v['heure'][:2]}:{v['heure'][2:]}",
                                "auteur": v["auteur"], "evenement": v["evenement"]})

    # --- what reaches the scanner: some payment pages lost, one page scanned twice -----------------------------------
    pay_pages = [i for i, pl in enumerate(planned) if pl["form"] == "paiement"]
    missing: set[int] = set()
    if len(pay_pages) >= 4:
        k = 2 if len(pay_pages) >= 10 else 1
        missing = {pay_pages[int(i)] for i in rng.choice(np.arange(1, len(pay_pages)), size=k, replace=False)}
    scanned = [i for i in range(len(planned)) if i not in missing]
    twice = scanned[int(rng.integers(len(scanned)))] if scanned else None

    manifest = BatchSink(out, "lot0_manifeste", fmt, prof) if layout.get("manifest_pages") else None
    regie = BatchSink(out, "lot1_regie", fmt, prof)
    others = BatchSink(out, "lot2_autres", fmt, prof)
    truth_path = out / "truth.jsonl"
    truth = TruthWriter(truth_path)
    from papier.simulate.io import KitRenderer

    renderer = KitRenderer(pdf_path)
    agents = [make_writer(rng) for _ in range(4)]
    where: dict[int, tuple[str, int]] = {}
    try:
        order = scanned + ([twice] if twice is not None else [])
        for n_seen, i in enumerate(order):
            pl = planned[i]
            page, copy = pl["page"], pl["copy"]
            rescan = n_seen == len(order) - 1 and twice is not None and n_seen >= len(scanned)
            if not rescan:
                values = make_values(page, known, rng, scenario={"rows": pl["rows"], "copy": copy})
                pl["values"] = values
                pl["writer"] = agents[int(rng.integers(len(agents)))]
            writer = pl["writer"]
            # the same sheet each time it is scanned: same ink (seeded per page), new scan noise
            page_rng = np.random.default_rng([seed, i])
            img, info = make_page_image(renderer, page, prof.dpi, page_rng, pl["values"], photocopied=copy > 0,
                                        styles={"writer": writer, "ambiguous_rate": 0.01})
            img = degrade(img, prof, rng)
            sink = regie if pl["form"] == "paiement" else others
            src, idx = sink.add(img, prof.dpi, jpeg_quality(prof, rng))
            rec: dict[str, Any] = {"type": "page", "source": src, "index": idx, "page_key": page["page_key"],
                                   "expect": "identified", "form": page["form"], "copy": copy,
                                   "profile": prof.name, "dpi": prof.dpi, "upside_down": prof.upside_down,
                                   "pen": writer.pen}
            if rescan:
                rec["rescan_of"] = {"source": where[i][0], "index": where[i][1]}
                scenario["rescanned"].append({"page_key": page["page_key"], "copy": copy,
                                              "first": rec["rescan_of"], "again": {"source": src, "index": idx}})
            else:
                where[i] = (src, idx)
            truth.write(rec)
            for line in entry_truth(page, info, src, idx, copy):
                if rescan:
                    line["rescan"] = True
                truth.write(line)
        # the kit's manifest pages go through the scanner too, as the kit tells staff (their own rng: the story's
        # draws above stay what they were)
        man_rng = np.random.default_rng([seed, MANIFEST_STREAM])
        for m in layout.get("manifest_pages", []) if manifest is not None else []:
            img = degrade(renderer.render(m["pdf_page"], prof.dpi), prof, man_rng)
            src, idx = manifest.add(img, prof.dpi, jpeg_quality(prof, man_rng))
            truth.write({"type": "page", "source": src, "index": idx, "page_key": None, "expect": "identified",
                         "form": None, "manifest": True, "copy": None, "profile": prof.name, "dpi": prof.dpi,
                         "upside_down": prof.upside_down})
    finally:
        renderer.close()
        if manifest is not None:
            manifest.close()
        regie.close()
        others.close()
        truth.close()

    # --- the facts, with where each one was written ------------------------------------------------------------------
    for i, pl in enumerate(planned):
        page = pl["page"]
        sc = where.get(i)
        scenario["pages"].append({"page_key": page["page_key"], "form": pl["form"], "copy": pl["copy"],
                                  "scanned": sc is not None,
                                  "source": sc[0] if sc else None, "index": sc[1] if sc else None})
        if sc is None:
            scenario["missing_pages"].append({"page_key": page["page_key"], "copy": pl["copy"]})
        rows = sorted(pl["rows"])
        for (kind, k), row in zip(pl["facts"], rows):
            ref = {"page_key": page["page_key"], "copy": pl["copy"], "row": row, "scanned": sc is not None}
            printed = next((e.get("printed", {}) for e in page["entries"] if e["row"] == row), {})
            if kind == "payments":
                pay_facts[k].update(ref, receipt=printed.get("quittance"))
            elif kind in scenario and k < len(scenario[kind]):
                scenario[kind][k].update(ref)
                if printed:
                    scenario[kind][k]["printed"] = printed
    for k, fact in enumerate(pay_facts):
        for key in ("duplicate_of", "replaces"):
            j = fact[key]
            if j is not None:
                fact[key] = {"receipt": pay_facts[j].get("receipt"), "copy": pay_facts[j].get("copy")}
    scenario["payments"] = pay_facts
    (out / "scenario.json").write_text(json.dumps(scenario, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth_path

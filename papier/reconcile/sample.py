"""The built-in "restored backup": what the business systems knew when the last backup before the outage was taken.

Generated deterministically from the built-in sample roster and catalogue (papier.sample_data), for the outage
that papier.simulate plays (starting on DEFAULT_START): family accounts, monthly invoices for the months before and
during the outage, payments received up to the backup date, library loans out at the backup date, and civil
status acts drawn up before it.

Given the simulator's scenario (its truth), it also plays "after recovery": a few paper payments already keyed in
by hand by the régie (so that "déjà connus" has members, one with a typing error to show a conflict), and the
loans whose return was written on the returns register (the item had to be out at the backup date).

`write_sample_sqlite(path)` writes it as a SQLite database that `papier/data/restored/sauvegarde_exemple.toml`
describes — the very path a commune's own restored database takes.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

from papier.reconcile.restored import Act, Family, Invoice, Loan, Payment, RestoredData

DEFAULT_START = _dt.date(2026, 9, 14)   # papier.simulate's default crisis start (a Monday)
DEFAULT_WEEKS = 6
SEED = 2020
SAMPLE_MAPPING = "sauvegarde_exemple.toml"

# monthly invoice amounts in cents: (low, high, step)
INVOICE_RANGES = {"restauration": (20_00, 95_00, 35), "periscolaire": (15_00, 75_00, 10),
                  "centre_loisirs": (16_00, 160_00, 50), "creche": (90_00, 480_00, 5)}
SUBSCRIPTION = (("restauration", 0.7), ("periscolaire", 0.4), ("centre_loisirs", 0.3), ("creche", 0.1))


def mapping_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "restored" / SAMPLE_MAPPING


def _month_start(d: _dt.date) -> _dt.date:
    return d.replace(day=1)


def _add_months(d: _dt.date, n: int) -> _dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    return _dt.date(d.year + y, m + 1, 1)


def _receipt(p: dict[str, Any]) -> str:
    q = str(p.get("receipt") or p.get("quittance") or "")
    copy = int(p.get("copy") or 0)
    return q + (f"-c{copy}" if q and copy else "")


def _amount(p: dict[str, Any]) -> int:
    return int(p["amount_cents"] if "amount_cents" in p else p["montant"])


def _scenario_payments(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """Paper payments of a simulator scenario that a family really made (no cancelled line, no duplicate)."""
    return [p for p in scenario.get("payments") or []
            if not p.get("cancelled") and not p.get("duplicate_of")]


def sample_restored(scenario: dict[str, Any] | None = None, start: _dt.date = DEFAULT_START,
                    weeks: int = DEFAULT_WEEKS) -> RestoredData:
    from papier.sample_data import sample_catalog, sample_readers, sample_roster

    if scenario:
        start = _dt.date.fromisoformat(str(scenario.get("start") or start)[:10])
        if scenario.get("end"):
            weeks = max(1, ((_dt.date.fromisoformat(str(scenario["end"])[:10]) - start).days + 7) // 7)
    rng = random.Random(SEED)
    backup = start - _dt.timedelta(days=1)
    end = start + _dt.timedelta(weeks=weeks)
    data = RestoredData(label="sauvegarde intégrée (exemple)",
                        sections=("familles", "factures", "paiements", "prets", "actes"), backup_date=backup)
    roster = sample_roster()
    for f in roster:
        data.families[f["numero_famille"]] = Family(f["numero_famille"], f["nom"], f["prenom"])

    # invoices: one a month per subscribed service, from two months before the outage to its last month
    months = []
    m = _add_months(_month_start(start), -2)
    while m <= _month_start(end):
        months.append(m)
        m = _add_months(m, 1)
    receipt = 0
    for f in roster:
        fam = f["numero_famille"]
        services = [s for s, p in SUBSCRIPTION if rng.random() < p] or ["restauration"]
        for s in services:
            lo, hi, step = INVOICE_RANGES[s]
            for month in months:
                amount = rng.randrange(lo // step, hi // step + 1) * step
                data.invoices.append(Invoice(fam, s, amount, month.strftime("%Y-%m"), "sauvegarde, factures"))
                # invoices of months already over at the backup were mostly paid before it
                due = _add_months(month, 1) + _dt.timedelta(days=9)
                paid_by_backup = due <= backup or (month <= backup and rng.random() < 0.15)
                if paid_by_backup and rng.random() < 0.9:
                    receipt += 1
                    latest = min(backup, due)
                    day = latest - _dt.timedelta(days=rng.randrange(0, 20))
                    data.payments.append(Payment(fam, amount, day, f"R{day.year % 100:02d}-{receipt:05d}", s,
                                                 rng.choice(("cheque", "cheque", "cb", "virement", "especes")),
                                                 "sauvegarde, encaissements"))

    # library loans out at the backup, and a few already returned
    catalog = sample_catalog()
    readers = sample_readers()
    docs = rng.sample(catalog, 160)
    for i, d in enumerate(docs):
        issued = backup - _dt.timedelta(days=rng.randrange(1, 40))
        card = rng.choice(readers)["numero_carte"]
        returned = (issued + _dt.timedelta(days=rng.randrange(1, 21))) if i % 4 == 0 else None
        if returned and returned > backup:
            returned = None
        data.loans.append(Loan(card, d["code_barres"], issued, issued + _dt.timedelta(days=21), returned,
                               "sauvegarde, prets"))

    # civil-status acts drawn up before the outage
    for i in range(12):
        day = backup - _dt.timedelta(days=rng.randrange(1, 60))
        kind = "naissance" if i % 3 else "deces"
        f = rng.choice(roster)
        data.acts.append(Act(kind, day, f"{(i + 1):05d}" if kind == "naissance" else f"{(i + 101):05d}",
                             f["nom"], f["prenom"], "sauvegarde, actes"))

    if scenario:
        _after_recovery(data, scenario, backup)
    data.invoices.sort(key=lambda x: (x.famille, x.service, x.periode))
    data.payments.sort(key=lambda x: (x.date, x.quittance, x.famille))
    data.loans.sort(key=lambda x: (x.date_pret, x.code_barres))
    data.acts.sort(key=lambda x: (x.type, x.numero))
    return data


def _after_recovery(data: RestoredData, scenario: dict[str, Any], backup: _dt.date) -> None:
    """Align the backup with a simulated outage: invoices of the families who paid at the counter, hand
    re-entries made after recovery, and the loans the paper returns imply."""
    pays = _scenario_payments(scenario)
    # invoices of the outage months for families who paid on paper: what they paid (they are square), except
    # every seventh (family, service), which still owes 15,00 €
    paid: dict[tuple[str, str, str], int] = {}
    for p in pays:
        k = (str(p["famille"]), str(p["service"]), str(p["date"])[:7])
        paid[k] = paid.get(k, 0) + _amount(p)
    pairs = sorted({(f, s) for f, s, _ in paid})
    owes = {pair for i, pair in enumerate(pairs) if i % 7 == 3}
    touched = {(f, s, m) for f, s, m in paid}
    data.invoices[:] = [i for i in data.invoices if (i.famille, i.service, i.periode) not in touched]
    for (f, s, m), amount in sorted(paid.items()):
        data.invoices.append(Invoice(f, s, amount + (1500 if (f, s) in owes else 0), m, "sauvegarde, factures"))
    # hand re-entries after recovery: one payment in twelve, the first of them with a typing error
    for i, p in enumerate(pays):
        if i % 12 != 5:
            continue
        typo = i == 5
        data.payments.append(Payment(str(p["famille"]), _amount(p) + (100 if typo else 0),
                                     _dt.date.fromisoformat(str(p["date"])[:10]), _receipt(p), str(p["service"]),
                                     str(p.get("mode") or ""), "saisie après reprise"))
    # loans out at the backup whose return was written on the returns register
    lent_on_paper = {str(x.get("code_barres")) for x in scenario.get("loans") or []}
    out = {ln.code_barres for ln in data.loans if ln.date_retour is None}
    rng = random.Random(SEED + 1)
    for r in scenario.get("returns") or []:
        bc = str(r.get("code_barres"))
        if bc in out or bc in lent_on_paper:
            continue
        issued = backup - _dt.timedelta(days=rng.randrange(1, 30))
        data.loans.append(Loan("2" + f"{rng.randrange(10**9):09d}", bc, issued, issued + _dt.timedelta(days=21),
                               None, "sauvegarde, prets"))
        out.add(bc)


def write_sample_sqlite(path: str | Path, scenario: dict[str, Any] | str | Path | None = None) -> Path:
    """Write the built-in backup as a SQLite database described by papier/data/restored/sauvegarde_exemple.toml."""
    if scenario is not None and not isinstance(scenario, dict):
        scenario = json.loads(Path(scenario).read_text(encoding="utf-8"))
    data = sample_restored(scenario)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists():
        p.unlink()
    conn = sqlite3.connect(p)
    try:
        c = conn.cursor()
        c.execute("CREATE TABLE familles (num_famille TEXT PRIMARY KEY, nom TEXT, prenom TEXT)")
        c.execute("CREATE TABLE factures (id INTEGER PRIMARY KEY, num_famille TEXT, code_service TEXT, "
                  "periode TEXT, montant_du REAL)")
        c.execute("CREATE TABLE encaissements (id INTEGER PRIMARY KEY, num_quittance TEXT, num_famille TEXT, "
                  "code_service TEXT, montant REAL, date_encaissement TEXT, mode TEXT)")
        c.execute("CREATE TABLE prets (id INTEGER PRIMARY KEY, cardnumber TEXT, barcode TEXT, issuedate TEXT, "
                  "date_due TEXT, returndate TEXT)")
        c.execute("CREATE TABLE actes (id INTEGER PRIMARY KEY, type_acte TEXT, date_evenement TEXT, nom TEXT, "
                  "prenoms TEXT, numero_acte TEXT)")
        codes = {"restauration": "CANT", "periscolaire": "PERI", "centre_loisirs": "ALSH", "creche": "CREC",
                 "autre": "DIV"}
        c.executemany("INSERT INTO familles VALUES (?,?,?)",
                      [(f.numero, f.nom, f.prenom) for f in sorted(data.families.values(), key=lambda f: f.numero)])
        c.executemany("INSERT INTO factures (num_famille, code_service, periode, montant_du) VALUES (?,?,?,?)",
                      [(i.famille, codes[i.service], i.periode, i.montant / 100) for i in data.invoices])
        c.executemany("INSERT INTO encaissements (num_quittance, num_famille, code_service, montant, "
                      "date_encaissement, mode) VALUES (?,?,?,?,?,?)",
                      [(x.quittance or None, x.famille, codes.get(x.service), x.montant / 100, x.date.isoformat(),
                        x.mode or None) for x in data.payments])
        c.executemany("INSERT INTO prets (cardnumber, barcode, issuedate, date_due, returndate) VALUES (?,?,?,?,?)",
                      [(x.carte, x.code_barres, x.date_pret.isoformat(),
                        x.date_retour_prevue.isoformat() if x.date_retour_prevue else None,
                        x.date_retour.isoformat() if x.date_retour else None) for x in data.loans])
        c.executemany("INSERT INTO actes (type_acte, date_evenement, nom, prenoms, numero_acte) VALUES (?,?,?,?,?)",
                      [("N" if a.type == "naissance" else "D", a.date.isoformat(), a.nom, a.prenoms, a.numero)
                       for a in data.acts])
        conn.commit()
    finally:
        conn.close()
    return p

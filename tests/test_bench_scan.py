"""The scan benchmark's digit table by kind: every digit field of the built-in forms falls in the kind its
definition gives it (check digit and list, crisis period, nothing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_scan  # noqa: E402
from papier.forms import builtin_form, builtin_versions  # noqa: E402


def test_every_builtin_digit_field_has_its_kind():
    kinds = {}
    for name, versions in builtin_versions().items():
        for v in versions:
            f = builtin_form(name, v)
            for fd in f.fields + f.page_fields:
                if fd.type == "digits":
                    kinds[name, fd.name] = bench_scan.digit_kind(name, v, fd.name)
    assert set(kinds.values()) <= set(bench_scan.KIND_ORDER)
    assert kinds["paiement", "famille"] == "n° de famille (Luhn + liste)"
    assert kinds["pret", "code_barres"] == "code-barres (EAN-13 + catalogue)"
    assert kinds["paiement", "date"] == "date récente (période)"
    assert kinds["naissance", "mere_date_naissance"] == "date (autre)"
    assert kinds["naissance", "date_naissance"] == kinds["deces", "date_deces"] == "toujours revu (formulaire)"
    assert kinds["main_courante", "heure"] == "heure"
    assert kinds["paiement", "montant"] == kinds["paiement", "total"] == "montant"
    assert kinds["paiement", "cheque"] == "nombre sans contrôle"
    assert bench_scan.digit_kind("pret", 1, "carte") == "nombre sans contrôle"
    assert bench_scan.digit_kind("pret", 2, "carte") == kinds["pret", "carte"] == "n° de carte (liste des lecteurs)"
    assert bench_scan.digit_kind("pret", 1, "copie") == "n° de copie"

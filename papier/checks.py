"""Check digits and value validation for digit fields (Luhn, EAN-13, dates, times, amounts)."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit to append to the digit string `payload`."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # positions that get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when `number` (digits, last one the check digit) passes the Luhn test."""
    if len(number) < 2 or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def ean13_check_digit(payload12: str) -> str:
    """The EAN-13 check digit for 12 digits."""
    if len(payload12) != 12 or not payload12.isdigit():
        raise ValueError("EAN-13 needs 12 digits before the check digit")
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(payload12))
    return str((10 - s % 10) % 10)


def ean13_valid(number: str) -> bool:
    return len(number) == 13 and number.isdigit() and ean13_check_digit(number[:12]) == number[12]


def parse_date(value: str, semantic: str) -> _dt.date | None:
    """The date a digit string stands for, or None when it is not a valid date."""
    if not value.isdigit():
        return None
    try:
        if semantic == "date_ddmmyy" and len(value) == 6:
            return _dt.date(2000 + int(value[4:6]), int(value[2:4]), int(value[0:2]))
        if semantic == "date_ddmmyyyy" and len(value) == 8:
            return _dt.date(int(value[4:8]), int(value[2:4]), int(value[0:2]))
        if semantic == "date_ddmm" and len(value) == 4:
            return _dt.date(2000, int(value[2:4]), int(value[0:2]))  # 2000 is a leap year
    except ValueError:
        return None
    return None


# How a date is written in the boxes of each date semantic (strftime).
DATE_FORMATS = {"date_ddmmyy": "%d%m%y", "date_ddmmyyyy": "%d%m%Y", "date_ddmm": "%d%m"}


OUT_OF_PERIOD = "date hors de la période de la crise"  # review reason of a `recent` date read outside its period


@lru_cache(maxsize=16)
def dates_between(start: _dt.date, end: _dt.date, semantic: str) -> frozenset[str]:
    """Every date from start to end (inclusive) written as a digit field of this date semantic."""
    fmt = DATE_FORMATS[semantic]
    return frozenset((start + _dt.timedelta(days=i)).strftime(fmt) for i in range((end - start).days + 1))


def time_valid(value: str) -> bool:
    return len(value) == 4 and value.isdigit() and int(value[:2]) < 24 and int(value[2:]) < 60


# Plausible amount for one payment at a régie (cents). Above this, a human looks.
MAX_PLAUSIBLE_AMOUNT_CENTS = 200_000


def value_problem(value: str, semantic: str | None, check: str | None) -> str | None:
    """Why a complete digit value is invalid for its field, in French, or None when it is valid."""
    if check == "luhn" and not luhn_valid(value):
        return "chiffre de contrôle (Luhn) faux"
    if check == "ean13" and not ean13_valid(value):
        return "code-barres EAN-13 invalide"
    if semantic and semantic.startswith("date_") and parse_date(value, semantic) is None:
        return "date impossible"
    if semantic == "time_hhmm" and not time_valid(value):
        return "heure impossible"
    if semantic == "amount_cents":
        if not value.isdigit():
            return "montant illisible"
        if int(value) == 0:
            return "montant nul"
        if int(value) > MAX_PLAUSIBLE_AMOUNT_CENTS:
            return "montant invraisemblable"
    return None

"""How one value is written to a CSV cell: the label, answers and audit CSVs all use this.

OWASP CSV injection: a spreadsheet runs a cell that starts with one of FORMULA_PREFIXES as a
formula, so text cells get a leading ' (numbers are never changed).
"""

from __future__ import annotations

from datetime import datetime

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Each prefix is one character: a set lookup of the first one is the hot path's test (the
# label CSV writes ~45 cells a row).
_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)


def csv_value(value: object, *, formula_guard: bool = True) -> object:
    """How one value is written to CSV: None as empty, times in ISO 8601 (UTC), and with
    `formula_guard` a text cell that starts like a formula behind a ' (numbers stay numbers).

    Times always carry microseconds: isoformat() drops them when they are 0, and one column
    in two shapes is left as text by pandas' parse_dates (it infers the format from one cell).
    """
    if value is None:
        return ""
    if value.__class__ is str:
        return f"'{value}" if formula_guard and value[:1] in _FORMULA_FIRST else value
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if formula_guard and isinstance(value, str):
        return neutralise_formula(value)
    return value


def neutralise_formula(text: str) -> str:
    """'=HYPERLINK(...)' becomes "'=HYPERLINK(...)": shown as text, never run (OWASP)."""
    return f"'{text}" if text[:1] in _FORMULA_FIRST else text

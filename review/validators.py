"""Bounds on input that the database or Python would otherwise refuse with a traceback.

NUL characters (PostgreSQL text and jsonb refuse them), integers past a column's range, dates
whose next day or time-zone shift leaves datetime's range, JSON nested deep enough to exhaust
the recursion limit: each becomes a ValidationError naming the field, so forms, the API and
views answer 400 instead of 500. Shared by review/forms/, review/api/ and the middleware.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

NUL = "\x00"
NUL_MESSAGE = "NUL characters (\\x00) are not allowed."

# PositiveIntegerField / IntegerField hold 32 bits on every backend; ids (BigAutoField) 64.
INT_MAX = 2**31 - 1
ID_MAX = 2**63 - 1

# Dates a filter may name: the day after, at midnight in any time zone, still fits datetime.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
DAY_VALIDATORS = [
    MinValueValidator(FIRST_DAY, message=f"Use a date from {FIRST_DAY} to {LAST_DAY}."),
    MaxValueValidator(LAST_DAY, message=f"Use a date from {FIRST_DAY} to {LAST_DAY}."),
]

# No request body the app reads nests deeper than 3; json's C parser recurses per level and
# raises RecursionError at ~1,000 (a 100,000-deep body is 200 KB).
JSON_MAX_DEPTH = 32
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth(text: str) -> int:
    """How deep `text`'s arrays and objects nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, *, max_depth: int = JSON_MAX_DEPTH, **kwargs: Any) -> Any:
    """json.loads, refusing (ValueError) text nested deeper than `max_depth`."""
    if isinstance(text, bytes | bytearray):
        text = text.decode()
    if json_depth(text) > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    return json.loads(text, **kwargs)


def field_with_nul(items: Iterable[tuple[str, Any]]) -> str | None:
    """The first name whose name or value holds a NUL character (values: str or lists of str)."""
    for name, value in items:
        values = value if isinstance(value, list) else [value]
        if NUL in name or any(isinstance(v, str) and NUL in v for v in values):
            return name.replace(NUL, "\\x00")
    return None


class BoundedJSONField(forms.JSONField):
    """forms.JSONField that answers a too-deep value as the field's error, not a 500."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and json_depth(value) > JSON_MAX_DEPTH:
            raise ValidationError(f"Nested deeper than {JSON_MAX_DEPTH} levels.", code="invalid")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if isinstance(data, str) and json_depth(data) > JSON_MAX_DEPTH:
            return forms.fields.InvalidJSONInput(data)
        return super().bound_data(data, initial)

"""One CSV record of human annotations -> one AnswerRow, for each accepted format.

Pure: no database. Formats (docs/formats.md, "Human annotations"):

- `long`: sample_id, annotator, value [, confidence] [, notes] -- value a category or a number;
- `emonet-binary`: path, annotator, value, emotion -- EmoNet-Face Binary's yes/no votes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from annotator.importers.issues import LineReport
from annotator.importers.storable import text_problem
from annotator.services.taxonomies import LabelResolver
from review.limits import NOTES_MAX_LENGTH

FORMAT_LONG = "long"
FORMAT_EMONET_BINARY = "emonet-binary"
FORMATS = (FORMAT_LONG, FORMAT_EMONET_BINARY)
COLUMNS = {
    FORMAT_LONG: (("sample_id", "annotator", "value"), ("confidence", "notes")),
    FORMAT_EMONET_BINARY: (("path", "annotator", "value", "emotion"), ()),
}
SAMPLE_COLUMN = {FORMAT_LONG: "sample_id", FORMAT_EMONET_BINARY: "path"}
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f"})
ID_MAX = 200  # Sample.external_id
USERNAME_MAX = 150
CONFIDENCE_MAX = 10.0
CATEGORY, NUMBER = "category", "number"


@dataclass(frozen=True, slots=True)
class AnswerRow:
    line: int
    sample: str  # the sample's external id, kept a string ("00042" stays "00042")
    annotator: str
    emotion: str  # long: the category answered ("" for a number); binary: the unit's emotion
    number: float | None = None  # long: a numeric answer
    confidence: float | None = None  # long: optional 0-10
    vote: bool | None = None  # binary: is the emotion present?
    notes: str = ""  # long: optional, at most NOTES_MAX_LENGTH characters


class RowParser:
    """Parses the records of one file; remembers what the file's first value was (a category
    or a number: a file holds one kind) and which values matched through a synonym."""

    def __init__(self, *, fmt: str, resolver: LabelResolver) -> None:
        self.fmt = fmt
        self.resolver = resolver
        self.kind = ""
        self.kind_line = 0
        self.synonyms: Counter[tuple[str, str]] = Counter()  # (value, label) -> rows
        self._username = UnicodeUsernameValidator()

    def parse(self, fields: dict[str, str], report: LineReport) -> AnswerRow | None:
        # A NUL (or anything else the database refuses) is named here, not at write time.
        for column, value in fields.items():
            problem = text_problem(value)
            if problem:
                report.error(column, problem)
        if report.issues:
            return None
        sample = self._sample(fields[SAMPLE_COLUMN[self.fmt]], SAMPLE_COLUMN[self.fmt], report)
        annotator = self._annotator(fields["annotator"], report)
        if self.fmt == FORMAT_EMONET_BINARY:
            emotion = self._label(fields["emotion"], "emotion", report)
            vote = _vote(fields["value"], report)
            if report.issues:
                return None
            return AnswerRow(report.line, sample, annotator, emotion, vote=vote)
        emotion, number = self._value(fields["value"], report)
        confidence = _confidence(fields.get("confidence", ""), report)
        notes = _notes(fields.get("notes", ""), report)
        if report.issues:
            return None
        return AnswerRow(report.line, sample, annotator, emotion, number, confidence, notes=notes)

    def _sample(self, value: str, field: str, report: LineReport) -> str:
        if not value:
            report.error(field, "missing")
        elif len(value) > ID_MAX:
            report.error(field, f"is longer than {ID_MAX} characters")
        return value

    def _annotator(self, value: str, report: LineReport) -> str:
        if not value:
            report.error("annotator", "missing")
            return value
        try:
            self._username(value)
            if len(value) > USERNAME_MAX:
                raise ValidationError(f"is longer than {USERNAME_MAX} characters")
        except ValidationError as exc:
            report.error("annotator", f"{value!r}: {' '.join(exc.messages)}")
        return value

    def _label(self, value: str, field: str, report: LineReport) -> str:
        if not value:
            report.error(field, "missing")
            return ""
        match = self.resolver.resolve(value)
        if match.label is None:
            report.error(field, match.problem)
            return ""
        if match.via_synonym:
            self.synonyms[(value, match.label)] += 1
        return match.label

    def _value(self, value: str, report: LineReport) -> tuple[str, float | None]:
        """(category, None) or ("", number); the first valid value fixes the file's kind."""
        if not value:
            report.error("value", "missing")
            return "", None
        number = _finite(value)
        kind = NUMBER if number is not None else CATEGORY
        if self.kind and kind != self.kind:
            message = (
                f"{value!r} is a {kind}, but line {self.kind_line} holds a {self.kind}: "
                "a file holds either categories or numbers"
            )
            report.error("value", message)
            return "", None
        if kind == NUMBER:
            self._fix_kind(NUMBER, report.line)
            return "", number
        label = self._label(value, "value", report)
        if label:
            self._fix_kind(CATEGORY, report.line)
        return label, None

    def _fix_kind(self, kind: str, line: int) -> None:
        if not self.kind:
            self.kind, self.kind_line = kind, line


def _finite(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _vote(value: str, report: LineReport) -> bool | None:
    key = value.casefold()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    report.error("value", f"{value!r} is not a yes/no value (True/False, 1/0, yes/no)")
    return None


def _notes(value: str, report: LineReport) -> str:
    if len(value) > NOTES_MAX_LENGTH:
        report.error("notes", f"is {len(value)} characters long; at most {NOTES_MAX_LENGTH}")
    return value


def _confidence(value: str, report: LineReport) -> float | None:
    if not value:
        return None
    number = _finite(value)
    if number is None or not 0.0 <= number <= CONFIDENCE_MAX:
        report.error("confidence", f"{value!r} is not a number in 0-{CONFIDENCE_MAX:g}")
        return None
    return number

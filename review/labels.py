"""The label a person gives a sample, as one value from the form or serializer to the model.

`Label` is what answers, blind answers, final-label versions and drafts store; LABEL_FIELDS
(its fields in form order) is the one list pages, serializers and history derive theirs from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Label:
    """An emotion, its confidence 0..10, the triplet and notes. As given until
    review.services.adjudication.check_label returns it in the taxonomy's spelling."""

    emotion: str
    confidence: float
    background: str = ""
    attribute: str = ""
    subject: str = ""
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TRIPLET_MAX_LENGTH = 300  # background, attribute, subject: the columns' max_length

LABEL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Label))
TRIPLET_FIELDS = ("background", "attribute", "subject")  # the label's B-A-S
TEXT_FIELDS = (*TRIPLET_FIELDS, "notes")  # optional, "" when left blank
# What a machine's proposal and a blind answer keep of a label: no notes.
LABEL_FIELDS_NO_NOTES = tuple(name for name in LABEL_FIELDS if name != "notes")


def label_from(data: Mapping[str, Any]) -> Label:
    """The label in a form's cleaned data or a serializer's validated data (blanks as "")."""
    return Label(
        emotion=data["emotion"],
        confidence=data["confidence"],
        **{name: data.get(name) or "" for name in TEXT_FIELDS},
    )


def label_of(row: Any) -> Label:
    """The label an answer, a final-label version or a blind answer stores (no notes: "")."""
    text = {name: getattr(row, name, "") for name in TEXT_FIELDS}
    return Label(emotion=row.emotion, confidence=row.confidence, **text)


def label_rows(*, theirs: Any, yours: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, theirs, yours) per label field: a conflict's side-by-side (theirs may be None)."""
    return [
        (name, getattr(theirs, name) if theirs is not None else None, yours.get(name))
        for name in LABEL_FIELDS
    ]

"""Drafts: a form's unsaved state, autosaved while someone works, restored when they return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from annotator.models import Sample
from review.labels import LABEL_FIELDS
from review.limits import NOTES_MAX_LENGTH
from review.models import Draft
from review.validators import INT_MAX, NUL, NUL_MESSAGE

# A draft keeps the label's fields (the answer / adjudication form's), each cut to a sane
# length; notes to what a save accepts, so a restored draft never holds more than the form takes.
MAX_VALUE_LENGTH = 4000
MAX_LENGTH = {"notes": NOTES_MAX_LENGTH}


def clean_draft_data(data: Mapping[str, Any]) -> dict[str, str]:
    """Only the known fields, as strings; a draft never needs to be valid yet, but it must be
    storable: NUL (which PostgreSQL's jsonb refuses) is a ValidationError naming the field."""
    cleaned = {}
    for name in LABEL_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        text = str(value).replace("\r\n", "\n")  # as the form counts a line break
        if NUL in text:
            raise ValidationError({name: NUL_MESSAGE})
        cleaned[name] = text[: MAX_LENGTH.get(name, MAX_VALUE_LENGTH)]
    return cleaned


def save_draft(
    *, sample: Sample, author: Any, data: Mapping[str, Any], base_version: int = 0
) -> Draft:
    """Create or replace the author's draft on the sample; ValidationError for what the
    database cannot store (NUL, a base_version past the column's range)."""
    if base_version > INT_MAX:
        raise ValidationError({"base_version": f"Use a version from 0 to {INT_MAX}."})
    draft, _ = Draft.objects.update_or_create(
        sample=sample,
        author=author,
        defaults={"data": clean_draft_data(data), "base_version": max(base_version, 0)},
    )
    return draft


def discard_draft(*, sample: Sample, author: Any) -> bool:
    deleted, _ = Draft.objects.filter(sample=sample, author=author).delete()
    return bool(deleted)

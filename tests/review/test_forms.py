"""The answer / adjudication form: notes are bounded (and a line break counts once), confidence
goes in the input's steps, and a prefill is always a value the form accepts."""

from __future__ import annotations

import pytest

from annotator.taxonomy import MIKELS_8_LABELS
from review.forms.answers import AdjudicationForm
from review.limits import NOTES_MAX_LENGTH

LABELS = list(MIKELS_8_LABELS)


def _form(**data: str) -> AdjudicationForm:
    return AdjudicationForm({"emotion": "awe", "confidence": "7", **data}, labels=LABELS)


def test_notes_up_to_the_limit_are_accepted_and_more_is_refused_by_name():
    assert NOTES_MAX_LENGTH == 2000
    assert _form(notes="x" * 2000).is_valid()
    over = _form(notes="x" * 2001)
    assert not over.is_valid()
    assert over.errors["notes"] == ["Notes are at most 2000 characters (these are 2001)."]


def test_a_line_break_counts_once_as_the_browser_counted_it():
    # A full textarea: the browser's maxlength counted each break once, it sends CR LF.
    typed = ("a" * 99 + "\n") * 20
    assert len(typed) == 2000
    form = _form(notes=typed.replace("\n", "\r\n"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["notes"] == typed.strip()


def test_the_notes_field_renders_its_limit_for_the_browser_and_the_counter():
    html = str(_form()["notes"])
    assert 'maxlength="2000"' in html and 'aria-describedby="notes-counter"' in html


@pytest.mark.parametrize(
    ("value", "ok"), [("7.5", True), ("0", True), ("10", True), ("7.3", False)]
)
def test_confidence_goes_in_the_steps_of_the_input(value, ok):
    form = _form(confidence=value)
    assert form.is_valid() is ok
    if not ok:
        assert form.errors["confidence"] == ["Confidence goes in steps of 0.5 (7, 7.5, 8, …)."]
    assert 'step="0.5"' in str(form["confidence"])


@pytest.mark.parametrize(
    ("prefill", "shown"),
    [(7.3, 7.5), (6.67, 6.5), (7.0, 7.0), ("7.3", 7.5), ("", ""), (None, None)],
)
def test_a_prefilled_confidence_is_put_on_the_step(prefill, shown):
    form = AdjudicationForm(labels=LABELS, initial={"emotion": "awe", "confidence": prefill})
    assert form["confidence"].value() == shown

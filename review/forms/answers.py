"""What a person gives on the sample page: a label, yes/no votes, mask clicks and boxes."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from review.forms.fields import NotesField, choice_field
from review.labels import TRIPLET_MAX_LENGTH, Label, label_from
from review.limits import CONFIDENCE_STEP, NOTES_MAX_LENGTH, round_to_step
from review.services import masks as mask_services
from review.services.masks import Click
from review.validators import INT_MAX, BoundedJSONField


class AdjudicationForm(forms.Form):
    """A person's decision: one emotion of the dataset's taxonomy, 0..10 confidence, a triplet."""

    emotion = forms.ChoiceField(
        widget=forms.RadioSelect,
        error_messages={
            "required": "Pick an emotion.",
            "invalid_choice": "%(value)s is not an emotion of this dataset's taxonomy.",
        },
    )
    # step_size renders the input's step and refuses what the browser would refuse (7.3).
    confidence = forms.FloatField(
        min_value=0,
        max_value=10,
        step_size=CONFIDENCE_STEP,
        # One voice for every out-of-range or off-step value (Django's defaults read
        # "Ensure this value is less than or equal to 10.").
        error_messages={
            "step_size": f"Confidence goes in steps of {CONFIDENCE_STEP:g} (7, 7.5, 8, …).",
            "min_value": "Confidence goes from 0 to 10: %(limit_value)s is the least.",
            "max_value": "Confidence goes from 0 to 10: %(limit_value)s is the most.",
            "invalid": "Confidence is a number from 0 to 10, in steps of 0.5.",
        },
    )
    background = forms.CharField(max_length=TRIPLET_MAX_LENGTH, required=False)
    attribute = forms.CharField(max_length=TRIPLET_MAX_LENGTH, required=False)
    subject = forms.CharField(max_length=TRIPLET_MAX_LENGTH, required=False)
    # max_length also renders maxlength: the browser stops typing there, forms.js counts.
    notes = NotesField(
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "aria-describedby": "notes-counter"}),
        error_messages={
            "max_length": "Notes are at most %(limit_value)d characters (these are %(show_value)d)."
        },
    )
    # Filled by static/js/app.js with milliseconds since the page loaded.
    time_spent_ms = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)
    # The final-label version the page showed: a save against an older one is refused (409).
    base_version = forms.IntegerField(
        min_value=0, max_value=INT_MAX, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, labels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "emotion").choices = [(label, label) for label in labels]
        if "confidence" in self.initial:
            self.initial["confidence"] = _on_step(self.initial["confidence"])

    def clean_time_spent_ms(self) -> int | None:
        # A page left open for weeks is not an error the person could fix: cap it at the column.
        value = self.cleaned_data.get("time_spent_ms")
        return None if value is None else min(value, INT_MAX)

    def label(self) -> Label:
        """The label given (after is_valid()): what the services take."""
        return label_from(self.cleaned_data)

    def time_spent(self) -> int:
        return self.cleaned_data["time_spent_ms"] or 0


def _on_step(value: object) -> object:
    """A prefilled confidence (a mean of models or answers, an API label) on the input's step,
    so that the page never offers a value it would then refuse; anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return round_to_step(number) if math.isfinite(number) else value


YES_NO = [("yes", "Yes"), ("no", "No")]


class BinaryVoteForm(forms.Form):
    """One yes/no question per emotion still open for this person (binary protocol)."""

    def __init__(self, *args: Any, questions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for emotion in questions:
            self.fields[f"vote_{emotion}"] = forms.ChoiceField(
                label=emotion,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": f"Answer yes or no for {emotion}."},
            )

    def answers(self) -> dict[str, bool]:
        return {e: self.cleaned_data[f"vote_{e}"] == "yes" for e in self.questions}


class MaskEditForm(forms.Form):
    """A click (x, y, label) and/or a dragged box (x1, y1, x2, y2), in image pixels; or
    `clicks`, a JSON list of [x, y, label] made in a row (masks.js sends the clicks made while
    the previous request was on its way together, in order)."""

    x = forms.FloatField(required=False)
    y = forms.FloatField(required=False)
    label = forms.ChoiceField(choices=[("1", "add"), ("0", "remove")], required=False)
    x1 = forms.FloatField(required=False)
    y1 = forms.FloatField(required=False)
    x2 = forms.FloatField(required=False)
    y2 = forms.FloatField(required=False)
    clicks = BoundedJSONField(required=False)  # a 100,000-deep list is a form error
    reset = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for names in (("x", "y"), ("x1", "y1", "x2", "y2")):
            given = [data.get(n) is not None for n in names]
            if any(given) and not all(given):
                raise ValidationError(f"give all of {', '.join(names)} or none of them")
        if data.get("clicks") and data.get("x") is not None:
            raise ValidationError("give either x, y or clicks, not both")
        return data

    def clean_clicks(self) -> list[Click]:
        raw = self.cleaned_data.get("clicks")
        if raw is None:
            return []
        if not isinstance(raw, list) or not raw or not all(_is_click(c) for c in raw):
            raise ValidationError("a non-empty list of [x, y, label] with label 1 or 0")
        if len(raw) > mask_services.MAX_POINTS:
            raise ValidationError(f"at most {mask_services.MAX_POINTS} clicks per mask")
        return [Click(x=float(x), y=float(y), label=int(label)) for x, y, label in raw]

    def click_list(self) -> list[Click]:
        data = self.cleaned_data
        if data.get("x") is None:
            return data.get("clicks") or []
        return [Click(x=data["x"], y=data["y"], label=int(data.get("label") or 1))]

    def box(self) -> tuple[float, float, float, float] | None:
        data = self.cleaned_data
        if data.get("x1") is None:
            return None
        return (data["x1"], data["y1"], data["x2"], data["y2"])


def _is_click(value: Any) -> bool:
    numbers = isinstance(value, list) and len(value) == 3
    numbers = numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    return numbers and value[2] in (0, 1)

"""Forms of the review app: they parse and validate input; services do the work."""

from __future__ import annotations

import math
from typing import Any, cast

from django import forms
from django.core.validators import FileExtensionValidator

from annotator.models import Sample
from review.labels import TRIPLET_MAX_LENGTH, Label, label_from
from review.limits import CONFIDENCE_STEP, NOTES_MAX_LENGTH, round_to_step
from review.selectors.queue import NEEDS_ADJUDICATION
from review.validators import INT_MAX


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class NotesField(forms.CharField):
    """Free text whose line breaks count once: a browser stops typing at maxlength counting a
    line break once, then sends it as CR LF, which would push a full textarea over max_length."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return text.replace("\r\n", "\n").replace("\r", "\n")


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
        error_messages={
            "step_size": f"Confidence goes in steps of {CONFIDENCE_STEP:g} (7, 7.5, 8, …).",
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
        _choice_field(self, "emotion").choices = [(label, label) for label in labels]
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


class QueueFilterForm(forms.Form):
    """The queue's GET filters; an empty value means "any". The caller gives the choices (the
    datasets it has read, the sources and emotions present) so the form runs no query."""

    dataset = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        choices=[
            ("", "Any status"),
            *Sample.Status.choices,
            (NEEDS_ADJUDICATION, "Needs adjudication"),
        ],
        required=False,
    )
    source = forms.ChoiceField(required=False)
    suggested = forms.ChoiceField(required=False, label="Suggested emotion")

    def __init__(
        self,
        *args: Any,
        datasets: list[tuple[int, str]],
        sources: list[str],
        emotions: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "dataset").choices = [
            ("", "All datasets"),
            *((str(pk), name) for pk, name in datasets),
        ]
        _choice_field(self, "source").choices = [("", "All sources"), *((s, s) for s in sources)]
        _choice_field(self, "suggested").choices = [
            ("", "Any emotion"),
            *((e, e) for e in emotions),
        ]


class ImportForm(forms.Form):
    """An admin's upload of a JSON Lines samples file (format: docs/formats.md)."""

    file = forms.FileField(
        label="Samples file (.jsonl)",
        validators=[FileExtensionValidator(["jsonl"])],
        widget=forms.ClearableFileInput(attrs={"accept": ".jsonl"}),
    )
    dataset = forms.SlugField(max_length=100, help_text="Created (Mikels 8) if it does not exist.")
    images_root = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Directory image_path values are relative to; must be inside IMPORT_ROOTS. "
        "Empty: the dataset's stored images root.",
    )
    model = forms.CharField(
        max_length=100,
        required=False,
        initial="emoverse",
        help_text="Model name for plain EmoVerse records (default emoverse).",
    )
    override_human_decisions = forms.BooleanField(
        required=False,
        label="Override people's decisions",
        help_text="Let the file's critic drop samples an admin restored or people gave a final "
        "label. Off: those are kept, and listed after the import.",
    )

    def clean_model(self) -> str:
        return str(self.cleaned_data.get("model") or "").strip() or "emoverse"

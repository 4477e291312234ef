"""GET filters: the queue's and the audit's."""

from __future__ import annotations

from typing import Any

from django import forms

from annotator.models import Sample
from review.forms.fields import choice_field
from review.selectors.queue import NEEDS_ADJUDICATION
from review.validators import DAY_VALIDATORS


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
        choice_field(self, "dataset").choices = [
            ("", "All datasets"),
            *((str(pk), name) for pk, name in datasets),
        ]
        choice_field(self, "source").choices = [("", "All sources"), *((s, s) for s in sources)]
        choice_field(self, "suggested").choices = [
            ("", "Any emotion"),
            *((e, e) for e in emotions),
        ]


class AuditFilterForm(forms.Form):
    """The audit's GET filters: a dataset (required), a source, a range of days."""

    dataset = forms.ChoiceField(choices=[])
    source = forms.ChoiceField(choices=[], required=False)
    since = forms.DateField(
        required=False, validators=DAY_VALIDATORS, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, validators=DAY_VALIDATORS, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data: Any, *, datasets: list[str], sources: list[str]) -> None:
        super().__init__(data)
        choice_field(self, "dataset").choices = [(n, n) for n in datasets]
        source = choice_field(self, "source")
        source.choices = [("", "any source"), *((s, s) for s in sources)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

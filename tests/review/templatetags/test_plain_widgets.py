"""The plain filter writes a field exactly as Django's widget templates do."""

from __future__ import annotations

import pytest
from django import forms

from review.forms.answers import AdjudicationForm
from review.templatetags.plain_widgets import plain

LABELS = ["awe", "fear"]


class Odd(forms.Form):
    """Values and attributes that need escaping, a disabled field, a localized one, a select."""

    text = forms.CharField(widget=forms.TextInput(attrs={"data-x": 'a"<b>', "autofocus": True}))
    off = forms.CharField(disabled=True, required=False, help_text="why")
    number = forms.FloatField(localize=True, required=False)
    choice = forms.ChoiceField(choices=[("a", "A")], required=False)
    notes = forms.CharField(widget=forms.Textarea, required=False)


FORMS = {
    "blank": lambda: AdjudicationForm(labels=LABELS),
    "initial": lambda: AdjudicationForm(
        labels=LABELS,
        initial={"emotion": "awe", "confidence": 7, "notes": "a <b> & c", "base_version": 3},
    ),
    "errors": lambda: AdjudicationForm(
        {"emotion": "x", "confidence": "7.3", "background": "x" * 400, "notes": "<i>"},
        labels=LABELS,
    ),
    "prefixed": lambda: AdjudicationForm(
        {"p-emotion": "awe", "p-confidence": "3"}, labels=LABELS, prefix="p"
    ),
    "odd": lambda: Odd({"text": '"quoted" <tag>', "notes": "\nline"}),
    "odd, no ids": lambda: Odd(auto_id=False),
}


@pytest.mark.parametrize("name", FORMS)
def test_every_field_is_written_as_its_widget_template_writes_it(name):
    form = FORMS[name]()
    if form.is_bound:
        form.is_valid()
    for field in form:
        assert plain(field) == str(field), field.name

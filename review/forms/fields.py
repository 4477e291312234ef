"""Pieces the review app's forms share."""

from __future__ import annotations

from typing import Any, cast

from django import forms


def choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """The form's ChoiceField `name`, typed as one (to set its choices per request)."""
    return cast(forms.ChoiceField, form.fields[name])


class NotesField(forms.CharField):
    """Free text whose line breaks count once: a browser stops typing at maxlength counting a
    line break once, then sends it as CR LF, which would push a full textarea over max_length."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return text.replace("\r\n", "\n").replace("\r", "\n")

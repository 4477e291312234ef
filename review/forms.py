"""Forms of the review app: they parse and validate input; services do the work."""

from __future__ import annotations

from django import forms
from django.core.validators import FileExtensionValidator


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

    def clean_model(self) -> str:
        return str(self.cleaned_data.get("model") or "").strip() or "emoverse"

"""What an admin starts: an import, an export (direct or a job), a pipeline run."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.validators import FileExtensionValidator

from annotator.models import Dataset
from annotator.pipeline.config import load_config_in_dirs, load_uploaded_config
from annotator.pipeline.config_files import config_choices
from annotator.pipeline.errors import PipelineConfigError
from annotator.pipeline.runs.units import STAGES
from review.forms.fields import choice_field
from review.models import ExportJob
from review.selectors.export import SCOPE_DECIDED, SCOPES
from review.services.export_formats import FORMAT_CSV, FORMATS
from review.services.export_job_runner import ANSWER_FORMATS


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


class ExportForm(forms.Form):
    """The direct download: a dataset, a format, which samples, the formula guard."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", empty_label=None
    )
    format = forms.ChoiceField(
        choices=[(f.name, f.title) for f in FORMATS.values()],
        initial=FORMAT_CSV,
        widget=forms.RadioSelect,
    )
    scope = forms.ChoiceField(
        choices=[
            (SCOPE_DECIDED, "Decided: adjudicated and agreed samples"),
            *[(s, "All samples, with their status") for s in SCOPES if s != SCOPE_DECIDED],
        ],
        initial=SCOPE_DECIDED,
        widget=forms.RadioSelect,
    )
    # Off unless ticked, so a download link without it keeps the guard on.
    no_formula_guard = forms.BooleanField(
        required=False,
        label="Write cells starting with = + - @ as they are (no formula guard)",
    )


KIND_TITLES = {
    ExportJob.Kind.LABELS: "Labels: one row per sample, in any format",
    ExportJob.Kind.ANSWERS: "Answers: every human answer and vote, one row each (CSV, Parquet)",
}


class FormatRadios(forms.RadioSelect):
    """The format radios of an export job: those an answers export cannot write are marked
    data-labels-only, and disabled while Answers is chosen (static/js/export.js keeps that in
    step as the kind changes; the form still refuses them, for a page without scripts)."""

    def __init__(self, *args: Any, answer_formats: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer_formats = frozenset(answer_formats)
        self.answers_chosen = False

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        if str(option["value"]) not in self.answer_formats:
            option["attrs"]["data-labels-only"] = True
            if self.answers_chosen:
                option["attrs"]["disabled"] = True
        return option


class StartExportForm(ExportForm):
    """An export job: what the direct download takes, plus the kind and Parquet's images."""

    format = forms.ChoiceField(
        choices=[(f.name, f.title) for f in FORMATS.values()],
        initial=FORMAT_CSV,
        widget=FormatRadios(answer_formats=ANSWER_FORMATS),
    )
    kind = forms.ChoiceField(
        choices=list(KIND_TITLES.items()), initial=ExportJob.Kind.LABELS, widget=forms.RadioSelect
    )
    embed_images = forms.BooleanField(
        required=False, label="Put each image's bytes in the file (Parquet: an image column)"
    )

    field_order = ["dataset", "kind", "format", "scope", "no_formula_guard", "embed_images"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.fields is this form's copy, so the direct download's scope keeps no hint.
        self.fields["scope"].help_text = "Labels only: answers are always all of them."
        kind = self.data.get("kind") if self.is_bound else self.initial.get("kind")
        self.answers_chosen = kind == ExportJob.Kind.ANSWERS
        cast(FormatRadios, self.fields["format"].widget).answers_chosen = self.answers_chosen

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == ExportJob.Kind.ANSWERS and data.get("format") not in ANSWER_FORMATS:
            self.add_error("format", "Answers export as CSV or Parquet.")
        return data


class StartRunForm(forms.Form):
    """A pipeline run: a dataset, a config (from PIPELINE_CONFIG_DIRS or uploaded), stages."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", empty_label=None
    )
    config = forms.ChoiceField(label="Config file", required=False)
    config_upload = forms.FileField(label="or upload a config", required=False)
    stages = forms.MultipleChoiceField(
        choices=[(stage, stage) for stage in STAGES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every stage (the critic when the config has one).",
    )
    limit = forms.IntegerField(
        min_value=1, required=False, help_text="Only the dataset's first N samples."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only files in PIPELINE_CONFIG_DIRS are offered, and only those are read.
        self.dirs = settings.PIPELINE_CONFIG_DIRS
        self.max_bytes = settings.PIPELINE_CONFIG_MAX_BYTES
        config = choice_field(self, "config")
        config.choices = [("", "(upload one)")] + [
            (str(path), path.name) for path in config_choices(dirs=self.dirs)
        ]
        where = ", ".join(str(folder) for folder in self.dirs) or "none"
        config.help_text = f"A pipeline TOML from {where} (PIPELINE_CONFIG_DIRS; docs/pipeline.md)."
        self.fields[
            "config_upload"
        ].help_text = (
            f"A pipeline TOML of at most {self.max_bytes // 1024:,} KB (PIPELINE_CONFIG_MAX_BYTES)."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen, upload = data.get("config") or "", data.get("config_upload")
        if bool(chosen) == bool(upload):
            self.add_error("config", "Choose a config file or upload one (one of the two).")
            return data
        try:
            if upload is not None:
                chunk = upload.read(self.max_bytes + 1) if upload.size <= self.max_bytes else b""
                self.pipeline_config = load_uploaded_config(
                    name=upload.name or "upload", size=upload.size or 0, chunk=chunk,
                    max_bytes=self.max_bytes,
                )  # fmt: skip
                data["config_path"] = f"upload: {upload.name}"
            else:
                self.pipeline_config, path = load_config_in_dirs(
                    chosen=chosen, dirs=self.dirs, max_bytes=self.max_bytes
                )
                data["config_path"] = str(path)
        except PipelineConfigError as exc:
            self.add_error("config_upload" if upload else "config", exc.problems)
        return data

"""Admin for the machine side: taxonomies (edited as plain text), datasets, and read-mostly
samples, proposals and critic verdicts (they come from imports and the pipeline)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from annotator.models import CriticVerdict, Dataset, Proposal, Sample, Taxonomy
from annotator.services.taxonomies import (
    TaxonomySpec,
    labels_from_lines,
    labels_in_use,
    mapping_from_lines,
    mapping_to_lines,
    save_taxonomy,
    spec_problems,
)
from annotator.taxonomy import normalise_label


class ReadOnlyAdmin(admin.ModelAdmin):
    """A list and detail pages to look at, never to edit: the rows are written by services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _area(rows: int, help_text: str) -> forms.CharField:
    return forms.CharField(
        required=False,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 60, "spellcheck": "false"}),
    )


class TaxonomyForm(forms.ModelForm):
    """Labels one per line; synonyms and groups as `Name: a, b, c` lines."""

    labels_text = _area(12, "One label per line, in display order (keys 1-9 follow it).")
    synonyms_text = _area(6, "Optional. One line per label: `Label: synonym, synonym`.")
    groups_text = _area(6, "Optional. One line per group: `Group name: label, label`.")

    class Meta:
        model = Taxonomy
        fields = ["name", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["labels_text"] = "\n".join(self.instance.labels)
            self.initial["synonyms_text"] = mapping_to_lines(self.instance.synonyms or {})
            self.initial["groups_text"] = mapping_to_lines(self.instance.groups or {})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            spec = TaxonomySpec(
                labels=labels_from_lines(cleaned.get("labels_text", "")),
                synonyms=mapping_from_lines(cleaned.get("synonyms_text", "")),
                groups=mapping_from_lines(cleaned.get("groups_text", "")),
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        problems = spec_problems(spec)
        if self.instance.pk:
            dropped = sorted(labels_in_use(taxonomy=self.instance) - set(spec.labels))
            if dropped:
                problems.append(f"labels in use cannot be removed: {', '.join(dropped)}")
        if problems:
            raise forms.ValidationError(problems)
        cleaned["spec"] = spec
        return cleaned


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin):
    form = TaxonomyForm
    list_display = ["name", "label_count", "description"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["name"] if obj is not None else []  # code and imports refer to it by name

    @admin.display(description="labels")
    def label_count(self, obj: Taxonomy) -> int:
        return len(obj.labels)

    def save_model(self, request: HttpRequest, obj: Taxonomy, form: Any, change: bool) -> None:
        saved = save_taxonomy(
            name=obj.name, spec=form.cleaned_data["spec"], description=obj.description
        )
        obj.pk, obj.labels = saved.pk, saved.labels


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    """review/admin.py registers a subclass with the person-side actions in its place."""

    list_display = [
        "name",
        "taxonomy",
        "overlap_k",
        "agreed_review_share",
        "machine_blind",
        "licence",  # exports and datasheets state it (the form edits it and attribution)
        "created_at",
    ]
    list_filter = ["machine_blind"]
    list_select_related = ["taxonomy"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Labels already given belong to the taxonomy they were checked against.
        return ["name", "taxonomy"] if obj is not None else []


class SampleForm(forms.ModelForm):
    class Meta:
        model = Sample
        fields = ["gold_emotion", "human_check"]

    def clean_gold_emotion(self) -> str:
        value = self.cleaned_data.get("gold_emotion", "").strip()
        if not value:
            return ""
        labels = self.instance.dataset.taxonomy.labels
        label = normalise_label(value, labels)
        if label is None:
            raise forms.ValidationError(f"{value!r} is not in the taxonomy ({', '.join(labels)}).")
        return label


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    """Read-mostly: only the gold label and the human-check flag are edited here."""

    form = SampleForm
    list_display = [
        "external_id",
        "dataset",
        "source",
        "status",
        "suggested_emotion",
        "gold_emotion",
    ]
    list_filter = ["status", "dataset", "human_check"]
    list_select_related = ["dataset"]
    search_fields = ["external_id", "image_path"]
    show_full_result_count = False  # one COUNT(*) per page, not two, on 219K samples
    readonly_fields = [
        "dataset",
        "external_id",
        "image_path",
        "source",
        "width",
        "height",
        "content_hash",
        "status",
        "suggested_emotion",
        "vote_margin",
        "dispute_reasons",
        "created_at",
        "updated_at",
    ]
    fields = [*readonly_fields[:9], "gold_emotion", "human_check", *readonly_fields[9:]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).defer("des")


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ["sample", "model_name", "emotion", "confidence", "prompt_version", "updated_at"]
    list_filter = ["model_name"]
    list_select_related = ["sample"]
    search_fields = ["sample__external_id", "model_name"]
    show_full_result_count = False


@admin.register(CriticVerdict)
class CriticVerdictAdmin(ReadOnlyAdmin):
    list_display = ["sample", "verdict", "emotion", "model_name", "round", "created_at"]
    list_filter = ["verdict", "model_name"]
    list_select_related = ["sample"]
    search_fields = ["sample__external_id"]
    show_full_result_count = False

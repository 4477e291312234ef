"""Serializers of /api/exports/: what a job is started with and how a job reads back."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from review.models import ExportJob
from review.selectors.export import SCOPE_DECIDED, SCOPES
from review.selectors.export_jobs import PARTS, export_job_parts
from review.services.export_formats import FORMATS
from review.services.export_job_runner import ANSWER_FORMATS


class ExportOptionsSerializer(serializers.Serializer):
    formula_guard = serializers.BooleanField(
        default=True, help_text="CSV: text a spreadsheet would run as a formula gets a leading '"
    )
    embed_images = serializers.BooleanField(
        default=False, help_text="Parquet: an image column with each file's bytes"
    )


class ExportStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=ExportJob.Kind.choices,
        default=ExportJob.Kind.LABELS,
        help_text="labels: the decided labels; answers: every human answer and vote",
    )
    dataset = serializers.CharField(max_length=100, help_text="dataset id or name")
    format = serializers.ChoiceField(
        choices=list(FORMATS),
        help_text=f"labels: any; answers: {' or '.join(ANSWER_FORMATS)}",
    )
    scope = serializers.ChoiceField(
        choices=list(SCOPES),
        default=SCOPE_DECIDED,
        help_text="decided: adjudicated and agreed samples; all: every sample",
    )
    options = ExportOptionsSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == ExportJob.Kind.ANSWERS and attrs["format"] not in ANSWER_FORMATS:
            raise serializers.ValidationError(
                {"format": f"Answers export as {' or '.join(ANSWER_FORMATS)}."}
            )
        given = attrs.get("options") or {}
        attrs["options"] = {
            "formula_guard": given.get("formula_guard", True),
            "embed_images": given.get("embed_images", False),
        }
        return attrs


# Each part's URL, null until the job is done and the part was written.
DOWNLOADS_SCHEMA = {
    "type": "object",
    "properties": {part: {"type": "string", "format": "uri", "nullable": True} for part in PARTS},
    "required": list(PARTS),
    "description": "data: the export; labels: the label map (JSON); datasheet: Markdown",
}


class ExportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    dataset = serializers.SlugRelatedField(slug_field="name", read_only=True)  # type: ignore[var-annotated]
    format = serializers.CharField(source="fmt")
    options = ExportOptionsSerializer()
    progress = serializers.SerializerMethodField(help_text="rows_done / rows_total, 0..1")
    created_by = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        slug_field="username", read_only=True, allow_null=True
    )
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "url",
            "dataset",
            "dataset_id",
            "kind",
            "format",
            "scope",
            "options",
            "status",
            "rows_done",
            "rows_total",
            "progress",
            "error",
            "file_name",
            "file_size",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "downloads",
        ]
        read_only_fields = fields

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, job: ExportJob) -> str:
        return self._absolute(reverse("api:export", args=[job.pk]))

    def get_progress(self, job: ExportJob) -> float:
        if not job.rows_total:
            return 1.0 if job.status == ExportJob.Status.DONE else 0.0
        return min(1.0, job.rows_done / job.rows_total)

    @extend_schema_field(DOWNLOADS_SCHEMA)
    def get_downloads(self, job: ExportJob) -> dict[str, str | None]:
        """Each part's URL once the job is done and the part was written, else null."""
        there = export_job_parts(job=job)
        base = reverse("api:export_download", args=[job.pk])
        return {
            part: self._absolute(f"{base}?part={part}") if part in there else None for part in PARTS
        }

"""Reads for export jobs (review/services/export_jobs.py): one job for a person, its files, the
recent ones, and how many rows a job will write (its progress bar's end).

Exports are for admins only (review.policy.can_administer): the page, the downloads and the API
all read through here, so a refusal is the same everywhere (PermissionDenied: 403; an unknown
job or a file not written yet: Http404).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from annotator.models import Sample
from review import policy
from review.models import Adjudication, Annotation, BinaryVote, BlindAnswer, ExportJob
from review.selectors.export import DECIDED_STATUSES, SCOPE_DECIDED

Part = Literal["data", "labels", "datasheet", "labelconfig"]
PARTS: tuple[Part, ...] = ("data", "labels", "datasheet", "labelconfig")
# What goes beside the main file: "<file name><suffix>" (labelconfig: Label Studio exports only).
BESIDE_SUFFIX: dict[str, str] = {
    "labels": ".labels.json",
    "datasheet": ".datasheet.md",
    "labelconfig": ".labelconfig.xml",
}
PART_CONTENT_TYPES: dict[str, str] = {
    "labels": "application/json",
    "datasheet": "text/markdown; charset=utf-8",
    "labelconfig": "application/xml",
}
RECENT = 20


def _check_admin(user: Any) -> None:
    decision = policy.can_administer(user=user)
    if not decision:
        raise PermissionDenied(decision.reason or "Only admins can export.")


def _jobs() -> QuerySet[ExportJob]:
    return ExportJob.objects.select_related("dataset", "created_by")


def export_job_for(*, job_id: int, user: Any) -> ExportJob:
    """The job, for an admin; PermissionDenied for anyone else, Http404 when there is none."""
    _check_admin(user)
    job = _jobs().filter(pk=job_id).first()
    if job is None:
        raise Http404(f"No export job {job_id}.")
    return job


def recent_export_jobs(*, user: Any, limit: int = RECENT) -> list[ExportJob]:
    """The latest jobs, newest first (everyone's: exports are the admins' shared work)."""
    _check_admin(user)
    return list(_jobs().order_by("-created_at", "-id")[:limit])


def export_job_dir(*, job_id: int) -> Path:
    """Where a job's files live: EXPORT_ROOT/<job id>/."""
    return Path(settings.EXPORT_ROOT) / str(int(job_id))


def export_part_name(*, file_name: str, part: Part) -> str:
    """The file name of one part: the main file's name, or it plus the part's suffix."""
    return file_name if part == "data" else file_name + BESIDE_SUFFIX[part]


def export_job_file(*, job: ExportJob, part: Part) -> Path:
    """The path of a finished job's file; Http404 while the job is not done or when that part
    was not written (a label map or datasheet writer that is not installed)."""
    if part not in PARTS:
        raise Http404(f"No part {part!r}: use one of {', '.join(PARTS)}.")
    if job.status != ExportJob.Status.DONE or not job.file_name:
        raise Http404(f"Export job {job.pk} is {job.status}: there is no file yet.")
    path = export_job_dir(job_id=job.pk) / export_part_name(file_name=job.file_name, part=part)
    if not path.is_file():
        raise Http404(f"Export job {job.pk} has no {part} file.")
    return path


def export_job_parts(*, job: ExportJob) -> list[Part]:
    """The parts of a finished job that are there to download (the main file first)."""
    if job.status != ExportJob.Status.DONE or not job.file_name:
        return []
    folder = export_job_dir(job_id=job.pk)
    return [
        part
        for part in PARTS
        if (folder / export_part_name(file_name=job.file_name, part=part)).is_file()
    ]


def export_rows_expected(*, dataset_id: int, kind: str, scope: str) -> int:
    """How many rows the job will write, counted before it starts (its progress bar's end; the
    finished job records the rows it really wrote)."""
    if kind == ExportJob.Kind.ANSWERS:  # one row per each of these (export_answers)
        models = (BlindAnswer, Annotation, BinaryVote, Adjudication)
        return sum(m.objects.filter(sample__dataset_id=dataset_id).count() for m in models)
    samples = Sample.objects.filter(dataset_id=dataset_id)
    if scope == SCOPE_DECIDED:
        samples = samples.filter(status__in=DECIDED_STATUSES)
    return samples.count()

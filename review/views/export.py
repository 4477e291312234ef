"""The export page, its background jobs and the direct download (admins only: is_staff).

Export jobs (review/services/export_jobs.py) run on a worker, or in a thread of this process
without a broker; the page shows each job's progress bar, polled with htmx every POLL_EVERY,
and once done links to the file, the label map and the datasheet (FileResponse). Every action
is a plain form POST too.

The direct download streams every format chunk by chunk (review.services.export_formats), so
bytes start to flow at once even at 219K samples: for small datasets and scripts. It reads one
snapshot (review.selectors.snapshot), opened in the writer's generator after this view has
returned, so it does not run inside a request transaction (non_atomic_requests), whose
isolation the snapshot could not set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.models import Dataset, Sample
from review import policy
from review.forms.jobs import ExportForm, StartExportForm
from review.models import ExportJob
from review.selectors.export import export_overview
from review.selectors.export_jobs import (
    PART_CONTENT_TYPES,
    PARTS,
    export_job_file,
    export_job_for,
    export_job_parts,
    recent_export_jobs,
)
from review.services.export import export_filename
from review.services.export_formats import FORMATS, ExportChunk, ExportOptions
from review.services.export_jobs import (
    ExportJobError,
    cancel_export_job,
    resend_export_job_if_stuck,
    start_export_job,
)

View = Callable[..., HttpResponseBase]


def staff_required(view: View) -> View:
    """Anonymous users go to the login page; signed-in users who are not admins get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not policy.can_administer(user=request.user):
            raise PermissionDenied("Only admins can export labels.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


POLL_EVERY = "1s"  # a job's progress bar: a 219K export shows progress within a second
PART_TITLES = {
    "labels": "Label map (JSON)",
    "datasheet": "Datasheet (Markdown)",
    "labelconfig": "Labeling config (Label Studio XML)",
}


def _part_title(*, job: ExportJob, part: str) -> str:
    """The export itself is named by its file ("Download pets-labels.csv"); the others by what
    they are."""
    return f"Download {job.file_name}" if part == "data" else PART_TITLES[part]


def _job_item(job: ExportJob) -> dict[str, Any]:
    """What the job partial shows: the job, its format's title and its files to download."""
    fmt = FORMATS.get(job.fmt)
    return {
        "job": job,
        "format_title": fmt.title if fmt and job.kind == ExportJob.Kind.LABELS else job.fmt,
        "parts": [(part, _part_title(job=job, part=part)) for part in export_job_parts(job=job)],
        "poll_every": POLL_EVERY,
    }


def _page(
    request: HttpRequest,
    form: ExportForm | None = None,
    *,
    start_form: StartExportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form or ExportForm(),
        "start_form": start_form or StartExportForm(),
        "overview": export_overview(),
        "statuses": Sample.Status.values,
        "jobs": [_job_item(job) for job in recent_export_jobs(user=request.user)],
    }
    return render(request, "review/export.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def export_view(request: HttpRequest) -> HttpResponse:
    """The page; its start form posts here, so a refused form is shown at the page's own
    address, and a started job redirects back (a reload never posts again)."""
    if request.method == "POST":
        return _start(request)
    return _page(request, ExportForm(initial=request.GET.dict() or None))


@transaction.non_atomic_requests
@require_GET
@staff_required
def download_view(request: HttpRequest) -> HttpResponseBase:
    form = ExportForm(request.GET)
    if not form.is_valid():
        return _page(request, form, status=400)
    dataset: Dataset = form.cleaned_data["dataset"]
    scope, fmt = form.cleaned_data["scope"], form.cleaned_data["format"]
    filename = export_filename(dataset=dataset, scope=scope, fmt=fmt)
    chosen = FORMATS[fmt]
    options = ExportOptions(formula_guard=not form.cleaned_data["no_formula_guard"])
    response = StreamingHttpResponse(
        _bytes(chosen.chunks(dataset=dataset, scope=scope, options=options)),
        content_type=chosen.content_type,
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _bytes(chunks: Iterator[ExportChunk]) -> Iterator[bytes]:
    """The chunks' bytes; closing this closes the writer (and its snapshot) when the client
    is done or gone."""
    try:
        for chunk in chunks:
            if chunk.data:
                yield chunk.data
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


@require_POST
@staff_required
def export_start_view(request: HttpRequest) -> HttpResponse:
    """The start form's former address, kept for scripts that post to it: as a POST to the
    page."""
    return _start(request)


def _start(request: HttpRequest) -> HttpResponse:
    """Start an export job and redirect to the page, where its progress bar runs; a refused
    form is the page again (400) with the error beside its field."""
    form = StartExportForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        options = {"formula_guard": not data["no_formula_guard"]}
        if data["format"] == "parquet":
            options["embed_images"] = data["embed_images"]
        try:
            job = start_export_job(
                user=request.user, dataset=data["dataset"], kind=data["kind"],
                fmt=data["format"], scope=data["scope"], options=options,
            )  # fmt: skip
        except ExportJobError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Export {job.pk} started.")
            # The list's heading, not the card: the newest job is first under "Exports".
            return redirect(reverse("review:export") + "#export-jobs")
    return _page(request, start_form=form, status=400)


@require_GET
@staff_required
def export_job_progress_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One job's partial, polled while it runs; a job whose worker died (or that the broker
    never took) is sent again from here too."""
    job = export_job_for(job_id=pk, user=request.user)
    if job.active and resend_export_job_if_stuck(job_id=job.pk):
        job.refresh_from_db()
    return render(request, "review/_export_job.html", _job_item(job))


@require_POST
@staff_required
def export_job_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = export_job_for(job_id=pk, user=request.user)
    cancelled = cancel_export_job(job=job, user=request.user)
    if getattr(request, "htmx", False):
        return render(request, "review/_export_job.html", _job_item(job))
    if cancelled:
        messages.success(request, f"Export {job.pk} cancelled.")
    else:
        messages.info(request, f"Export {job.pk} had already ended ({job.status}).")
    return redirect(reverse("review:export") + f"#export-job-{job.pk}")


@require_GET
@staff_required
def export_job_download_view(request: HttpRequest, pk: int) -> FileResponse:
    """A finished job's file: the export, or ?part=labels (its label map) or ?part=datasheet
    (404 before it is done)."""
    part = request.GET.get("part", "data")
    if part not in PARTS:
        raise Http404(f"No part {part[:40]!r}: use one of {', '.join(PARTS)}.")
    job = export_job_for(job_id=pk, user=request.user)
    path = export_job_file(job=job, part=part)  # type: ignore[arg-type]
    fmt = FORMATS.get(job.fmt)
    content_type = PART_CONTENT_TYPES.get(part) or (
        fmt.content_type if fmt else "application/octet-stream"
    )
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type
    )

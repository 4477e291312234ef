"""Admins upload a JSON Lines samples file; problems are listed, nothing half-imported.

Uploads are bounded by MAX_IMPORT_UPLOAD_BYTES: a body announced larger is refused before it is
read (413), and an upload that grows past the limit anyway (no or a false Content-Length) is cut
off while it streams. Both need the check before the body is parsed, and CSRF's middleware
parses it first, so the view is csrf_exempt outside and csrf_protect inside (Django's pattern
for per-view upload handlers).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from annotator.importers.storable import printable
from annotator.services.importing import ImportFailed, import_uploaded_samples
from review import policy
from review.forms.jobs import ImportForm

FORM_FIELDS_ALLOWANCE = 64 * 1024  # the form's other fields and the multipart framing
HOW_TO_OVERRIDE = "upload again with “Override people's decisions” ticked"


class UploadLimit(FileUploadHandler):
    """Counts the bytes of each uploaded file; past the limit the file is skipped (not kept)."""

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.refused: str | None = None  # the refused file's name

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.refused = self.file_name or "the file"
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt
@login_required
def import_view(request: HttpRequest) -> HttpResponse:
    policy.require(policy.can_administer(user=request.user))
    limit = settings.MAX_IMPORT_UPLOAD_BYTES
    if request.method == "POST":
        announced = _content_length(request)
        if announced > limit + FORM_FIELDS_ALLOWANCE:
            return _too_large(request, ImportForm(), announced=announced, limit=limit)
        guard = UploadLimit(request, limit=limit)
        request.upload_handlers.insert(0, guard)
        return _import(request, guard=guard, limit=limit)
    return _import(request, guard=None, limit=limit)


@csrf_protect
def _import(request: HttpRequest, *, guard: UploadLimit | None, limit: int) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if guard is not None and guard.refused is not None:
        return _too_large(request, form, announced=None, limit=limit)
    issues: list[str] = []
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = import_uploaded_samples(
                upload=upload,
                dataset_name=form.cleaned_data["dataset"],
                images_root=form.cleaned_data["images_root"],
                default_model=form.cleaned_data["model"],
                override_human_decisions=form.cleaned_data["override_human_decisions"],
                actor=request.user,
            )
        except ImportFailed as exc:
            issues = [str(issue) for issue in exc.issues]
        else:
            dataset = form.cleaned_data["dataset"]
            level = messages.WARNING if report.conflicts else messages.SUCCESS
            summary = report.summary(how_to_override=HOW_TO_OVERRIDE)
            name = printable(upload.name or "")  # the message is stored in the session
            messages.add_message(request, level, f"Imported {name} into {dataset}: {summary}")
            return redirect("review:queue")
    return render(request, "review/import.html", {"form": form, "issues": issues})


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(
    request: HttpRequest, form: ImportForm, *, announced: int | None, limit: int
) -> HttpResponse:
    size = f" ({announced:,} bytes)" if announced else ""
    issue = (
        f"upload: the file is too large{size}; the limit is {limit:,} bytes "
        "(MAX_IMPORT_UPLOAD_BYTES). Import larger files with manage.py import_samples."
    )
    context = {"form": form, "issues": [issue]}
    return render(request, "review/import.html", context, status=413)

"""The export page and the download (admins only: is_staff).

The download reads one snapshot (review.selectors.snapshot): a streamed CSV opens it in its
generator, after this view has returned; Parquet is built in a temporary file before the
response. Neither runs inside a request transaction (non_atomic_requests), whose isolation the
snapshot could not set.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.models import Dataset, Sample
from review import policy
from review.selectors.export import SCOPE_DECIDED, SCOPES, export_overview
from review.services.export import (
    FORMAT_CSV,
    FORMATS,
    export_filename,
    iter_csv_chunks,
    write_parquet,
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


class ExportForm(forms.Form):
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", empty_label=None
    )
    format = forms.ChoiceField(
        choices=[(f, f.upper() if f == FORMAT_CSV else f.title()) for f in FORMATS],
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


def _page(request: HttpRequest, form: ExportForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "review/export.html",
        {"form": form, "overview": export_overview(), "statuses": Sample.Status.values},
        status=status,
    )


@require_GET
@staff_required
def export_view(request: HttpRequest) -> HttpResponse:
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
    if fmt == FORMAT_CSV:
        response = StreamingHttpResponse(
            iter_csv_chunks(
                dataset=dataset,
                scope=scope,
                formula_guard=not form.cleaned_data["no_formula_guard"],
            ),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        _parquet_file(dataset=dataset, scope=scope),
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.apache.parquet",
    )


def _parquet_file(*, dataset: Dataset, scope: str) -> Any:
    """The Parquet export in a temporary file, already unlinked: the open handle keeps it
    readable and the space is freed when the response closes it, even if the client leaves."""
    fd, name = tempfile.mkstemp(prefix="emoreview-export-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        write_parquet(dataset=dataset, scope=scope, path=path)
        handle = path.open("rb")
    finally:
        path.unlink(missing_ok=True)
    return handle

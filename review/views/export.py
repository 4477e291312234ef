"""The export page and the download (admins only: is_staff).

The download streams every format chunk by chunk (review.services.export_formats), so bytes
start to flow at once even at 219K samples. It reads one snapshot (review.selectors.snapshot),
opened in the writer's generator after this view has returned, so it does not run inside a
request transaction (non_atomic_requests), whose isolation the snapshot could not set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.models import Dataset, Sample
from review import policy
from review.selectors.export import SCOPE_DECIDED, SCOPES, export_overview
from review.services.export import export_filename
from review.services.export_formats import FORMAT_CSV, FORMATS, ExportChunk, ExportOptions

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

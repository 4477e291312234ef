"""The review queue: filters, counts and a page of samples; htmx swaps only the results."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from annotator.models import Dataset
from review.forms import QueueFilterForm
from review.selectors.queue import (
    DISPUTED,
    first_queued_sample,
    queue_counts,
    queue_filter_choices,
    queue_samples,
)


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as django-htmx's middleware leaves it (for type checkers)."""

    htmx: HtmxDetails


def wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx swap asks for a fragment; a history restore after a cache miss needs the page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _dataset_from(value: str | None) -> Dataset | None:
    if not value or not value.isdigit():
        return None
    return Dataset.objects.select_related("taxonomy").filter(pk=int(value)).first()


def _filter_form(request: HttpRequest) -> tuple[QueueFilterForm, dict[str, Any]]:
    data = request.GET.copy()
    data.setdefault("status", DISPUTED)  # no status in the URL = the disputed queue
    dataset = _dataset_from(data.get("dataset", ""))
    # Choices span every dataset: they stay valid when htmx swaps results for another dataset.
    choices = queue_filter_choices(dataset=None)
    form = QueueFilterForm(data, sources=choices.sources, emotions=choices.emotions)
    form.is_valid()  # an unknown value in one filter drops that filter, not the others
    filters = {
        "dataset": dataset,
        "status": form.cleaned_data.get("status", ""),
        "source": form.cleaned_data.get("source", ""),
        "suggested": form.cleaned_data.get("suggested", ""),
    }
    return form, filters


@login_required
@require_GET
def queue_view(request: HtmxHttpRequest) -> HttpResponse:
    form, filters = _filter_form(request)
    page = Paginator(queue_samples(**filters), settings.QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "counts": queue_counts(dataset=filters["dataset"]),
        "filters": filters,
    }
    template = "review/_queue_rows.html" if wants_partial(request) else "review/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers a fragment or a page
    return response


@login_required
@require_GET
def next_view(request: HttpRequest) -> HttpResponse:
    """Open the first sample waiting in the (optionally per-dataset) disputed queue."""
    sample = first_queued_sample(dataset=_dataset_from(request.GET.get("dataset")))
    if sample is None:
        messages.info(request, "Queue done: no disputed samples are waiting.")
        return redirect(reverse("review:queue"))
    return redirect("review:sample", pk=sample.pk)

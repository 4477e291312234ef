"""The review queue and "Next".

Adjudicators and auditors see the whole queue (filters, counts, a page of samples; htmx swaps
only the results). Annotators see only what was handed to them. "Next" leases a sample.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from annotator.models import Dataset
from annotator.selectors.datasets import dataset_by_id
from review import policy
from review.http import HtmxHttpRequest, wants_partial
from review.models import Assignment
from review.pages.queue_filters import (
    KnownCount,
    empty_state,
    queue_filters,
    queue_rows,
    rows_html,
    work_rows,
)
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required, user_roles
from review.selectors.des_map import selection_filter
from review.selectors.progress import (
    WORK_FILTERS,
    annotator_progress,
    open_skipped_count,
    user_work,
    work_counts,
)
from review.selectors.queue import (
    DISPUTED,
    NEEDS_ADJUDICATION,
    adjudication_count,
    queue_counts,
    queue_page,
    queue_samples,
)
from review.selectors.queue_counts import queue_figures
from review.selectors.review_order import order_value
from review.services.assignment import lease_next_sample


def map_selection(request: HttpRequest, *, dataset: Dataset | None) -> Q | None:
    """`?selection=<token>`: the samples picked on the dataset's DES map; None without one
    (or with a token of another dataset, or no dataset chosen)."""
    token = request.GET.get("selection", "")
    if not token or dataset is None:
        return None
    return selection_filter(selection=token, dataset_id=dataset.pk)


def dataset_from(value: str | None) -> Dataset | None:
    if not value or not str(value).isdecimal():
        return None
    return dataset_by_id(dataset_id=int(value))


@role_required(ANNOTATOR, ADJUDICATOR, AUDITOR)
@require_GET
def queue_view(request: HtmxHttpRequest) -> HttpResponse:
    if not policy.sees_whole_queue(user=request.user):
        return _my_work(request)
    roles = user_roles(request.user)
    figures = queue_figures()  # every figure above the rows, in one query
    chosen = queue_filters(request, figures=figures)
    filters = chosen.values
    dataset = filters["dataset"]
    conflicts = adjudication_count(dataset=dataset)
    # The disputed queue follows its dataset's review order (most uncertain first, ...).
    order = order_value(modes=chosen.orders) if filters["status"] == DISPUTED else None
    selection = map_selection(request, dataset=dataset)
    samples = queue_samples(**filters, order=order, selection=selection)
    if selection is not None:  # samples picked on the DES map: counted, not in QueueCount
        count = samples.order_by().count()
    elif filters["status"] == NEEDS_ADJUDICATION:
        count = conflicts
    else:
        count = figures.total(
            dataset_id=dataset.pk if dataset else None,
            status=filters["status"],
            source=filters["source"],
            suggested=filters["suggested"],
        )
    page = queue_page(
        samples=samples.prefetch_related(None),
        count=count,
        per_page=settings.QUEUE_PAGE_SIZE,
        page=request.GET.get("page", ""),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    page.object_list = queue_rows(samples=page.object_list, names=chosen.dataset_names)
    counts = queue_counts(dataset=dataset, figures=figures)
    context = {
        "see_all": True,
        "filter_fields": [] if wants_partial(request) else chosen.fields(),
        "page": page,
        "rows_html": rows_html(page.object_list),
        "counts": counts,
        "conflicts": conflicts,
        "empty": None
        if page.object_list
        else empty_state(filters=filters, counts=counts, conflicts=conflicts),
        "filters": filters,
        "selection": request.GET.get("selection", "") if selection is not None else "",
        "can_annotate": ANNOTATOR in roles,
        "can_adjudicate": ADJUDICATOR in roles,
    }
    template = "review/_queue_rows.html" if wants_partial(request) else "review/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers a fragment or a page
    return response


# The same words as templates/review/_my_work.html's "Queue done".
QUEUE_DONE = "Queue done: nothing is left for you to answer."
WORK_FILTER_LABELS = {"": "All", "held": "In hand", "answered": "Answered", "skipped": "Skipped"}


def _my_work(request: HttpRequest) -> HttpResponse:
    """An annotator's own leases, answers and skips, with their progress: nothing else of the
    queue is theirs to see."""
    show = request.GET.get("show", "")
    show = show if show in WORK_FILTERS else ""
    counts = work_counts(user=request.user)  # its figures spare the page two more statements
    rows = user_work(user=request.user, show=show, has_skipped=counts["skipped"] > 0)
    paginator = Paginator(KnownCount(rows, count=counts[show]), settings.QUEUE_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = work_rows(page.object_list)
    context = {
        "see_all": False,
        "page": page,
        "can_annotate": True,
        "filters": {},
        "progress": annotator_progress(user=request.user),
        "show": show,
        "work_filters": [(key, label, counts[key]) for key, label in WORK_FILTER_LABELS.items()],
    }
    return render(request, "review/queue.html", context)


def redirect_to_next(
    request: HtmxHttpRequest, *, kind: str, dataset: Dataset | None, htmx: bool = False
) -> HttpResponse:
    """Lease the next sample of `kind` and open it; the queue with "Queue done" when none."""
    assignment = lease_next_sample(user=request.user, kind=kind, dataset=dataset)
    if assignment is None:
        if not _queue_page_says_done(user=request.user, kind=kind):
            messages.info(
                request, queue_done_message(user=request.user, kind=kind, dataset=dataset)
            )
        url = reverse("review:queue")
    else:
        url = reverse("review:sample", kwargs={"pk": assignment.sample_id})
    if htmx and request.htmx:
        # A full navigation: the next page starts its own timer and keyboard state.
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _queue_page_says_done(*, user: Any, kind: str) -> bool:
    """An annotator's own work page already says "Queue done" (or which skipped samples are
    still open) when nothing is left: the same news twice in other words would only confuse."""
    if kind != Assignment.Kind.ANNOTATE or policy.sees_whole_queue(user=user):
        return False
    return not annotator_progress(user=user).remaining


def queue_done_message(*, user: Any, kind: str, dataset: Dataset | None) -> str:
    """Says "Queue done" only when nothing is left: skipped samples still open are named."""
    if kind != Assignment.Kind.ANNOTATE:
        return adjudication_done_message(dataset=dataset)
    skipped = open_skipped_count(user=user, dataset=dataset, now=timezone.now())
    if not skipped:
        return QUEUE_DONE
    these, them = (
        ("1 sample you skipped is", "it")
        if skipped == 1
        else (f"{skipped} samples you skipped are", "them")
    )
    return (
        f"No new sample is waiting for you, but {these} still open: "
        f"take {them} back under “Skipped”."
    )


@role_required(ANNOTATOR, ADJUDICATOR)
@require_http_methods(["GET", "POST"])
def next_view(request: HtmxHttpRequest) -> HttpResponse:
    """Open the sample leased to the user (their running lease first, else a new one)."""
    dataset = dataset_from(request.GET.get("dataset") or request.POST.get("dataset"))
    asked = request.GET.get("kind") or request.POST.get("kind") or ""
    kind = policy.work_kind(user=request.user, asked=asked)
    return redirect_to_next(request, kind=kind, dataset=dataset)


def adjudication_done_message(*, dataset: Dataset | None) -> str:
    """Why "Resolve conflicts" found nothing, in words that agree with the rows on the queue:
    disputed samples listed there wait for annotators before they can become conflicts."""
    conflicts = adjudication_count(dataset=dataset)
    if conflicts:
        these = "1 conflict is" if conflicts == 1 else f"{conflicts} conflicts are"
        return (
            f"No conflict is free for you now: {these} held by another adjudicator"
            " or skipped by you."
        )
    disputed = queue_figures().total(dataset_id=dataset.pk if dataset else None, status=DISPUTED)
    if disputed:
        these = (
            "The disputed sample waits"
            if disputed == 1
            else f"The {disputed} disputed samples wait"
        )
        return (
            f"No conflict to adjudicate yet. {these} for annotators' answers first: "
            "a sample becomes a conflict when its answers disagree."
        )
    return _nothing_disputed_message(dataset=dataset)


def _nothing_disputed_message(*, dataset: Dataset | None) -> str:
    """No conflict and no disputed sample: say where the samples went instead."""
    counts = queue_figures().status_counts(dataset_id=dataset.pk if dataset else None)
    where = f" in {dataset.name}" if dataset else ""
    settled = [f"{n} {status}" for status, n in counts.items() if n and status != DISPUTED]
    if not settled:
        return f"Nothing to adjudicate{where}: there are no samples yet."
    return (
        f"Nothing to adjudicate{where}: no sample is disputed. "
        f"The samples are {', '.join(settled)}: pick a status on the queue to see them."
    )

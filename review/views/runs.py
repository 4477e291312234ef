"""Pipeline runs, for admins: start one, watch its progress (htmx polling), cancel it, and
restore samples the critic dropped. Every action is a plain form POST too."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from annotator.models import PipelineRun, Sample
from annotator.pipeline.config import CONFIG_ENV_VAR
from annotator.pipeline.costs import spend_summary
from annotator.pipeline.runs.dispatch import uses_broker
from annotator.selectors.pipeline_runs import (
    ACTIVE,
    recent_runs,
    run_dropped_samples,
    run_failures,
    run_for_page,
    run_progress,
    run_status,
)
from annotator.selectors.run_costs import run_spend
from annotator.services.pipeline_runs import (
    RunNotStarted,
    cancel_pipeline_run,
    check_run_for_stuck_units,
    launch_pipeline_run,
    refresh_run_status,
    start_pipeline_run,
)
from review import policy
from review.forms.jobs import StartRunForm
from review.services.dropped_samples import restore_dropped_sample

POLL_EVERY = "2s"


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not admins get 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not policy.can_administer(user=request.user):
            raise PermissionDenied("Only admins can run the pipeline.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _start_form(request: HttpRequest) -> StartRunForm:
    if request.method == "POST":
        return StartRunForm(request.POST, request.FILES)
    initial = os.environ.get(CONFIG_ENV_VAR, "")
    return StartRunForm(initial={"config": str(Path(initial).resolve()) if initial else ""})


@admin_required
def runs_view(request: HttpRequest) -> HttpResponse:
    form = _start_form(request)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            started = start_pipeline_run(
                dataset=data["dataset"], config=form.pipeline_config,
                config_path=data["config_path"], stages=data["stages"] or None,
                limit=data["limit"], user=request.user,
            )  # fmt: skip
        except RunNotStarted as exc:
            form.add_error(None, str(exc))
        else:
            if started.report.units:
                _launched(request, started.run.pk, launch_pipeline_run(started=started))
            else:
                messages.info(request, "Nothing to do: earlier runs finished all of this work.")
            return redirect("review:run_detail", pk=started.run.pk)
    context = {"form": form, "runs": recent_runs(), "broker": uses_broker()}
    return render(request, "review/runs.html", context, status=400 if form.errors else 200)


def _launched(request: HttpRequest, pk: int, how: str) -> None:
    if how == "waiting":
        messages.warning(
            request,
            f"Run {pk} is saved, but the workers are unreachable (the broker does not answer): "
            "it starts by itself as soon as the broker is back. Cancel it to start another.",
        )
    else:
        messages.success(request, f"Run {pk} started.")


def _progress_context(run: PipelineRun) -> dict[str, Any]:
    check_run_for_stuck_units(run=run)  # units of dead workers, or never sent: sent again
    run = refresh_run_status(run=run)
    progress = run_progress(run_id=run.pk)
    return {
        "run": run,
        "progress": progress,
        "status": run_status(run=run, failed=sum(p.failed for p in progress)),
        "active": run.status in ACTIVE,
        "poll_every": POLL_EVERY,
        "spend": spend_summary(run_spend(run=run)),
    }


@require_GET
@admin_required
def run_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_for_page(pk=pk)
    context = {
        **_progress_context(run),
        "failures": run_failures(run=run),
        "dropped": run_dropped_samples(run=run),
    }
    return render(request, "review/run_detail.html", context)


@require_GET
@admin_required
def run_progress_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress partial that the page polls while the run is active, with the cancel button
    and the failed and dropped samples swapped out of band (a run ending shows its outcome)."""
    context = _progress_context(run_for_page(pk=pk))
    run = context["run"]
    context |= {"failures": run_failures(run=run), "dropped": run_dropped_samples(run=run)}
    return render(request, "review/_run_progress.html", {**context, "oob": True})


@require_POST
@admin_required
def run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_for_page(pk=pk)
    if cancel_pipeline_run(run=run):
        messages.success(request, f"Run {run.pk} cancelled: no new work starts. Start it again "
                         "to resume.")  # fmt: skip
    else:
        messages.info(request, f"Run {run.pk} had already ended ({run.status}).")
    return redirect("review:run_detail", pk=run.pk)


@require_POST
@admin_required
def restore_sample_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample = get_object_or_404(Sample.objects.defer("des"), pk=pk)
    try:
        restored = restore_dropped_sample(sample=sample, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Restored {restored.external_id}: now {restored.status}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("review:sample", kwargs={"pk": sample.pk})
    return redirect(target)

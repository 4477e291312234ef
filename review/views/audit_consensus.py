"""The audit's consensus section, its views (the section's context: review.audit.sections; its
figures: review.selectors.audit_latent): each rater's reliability and
confusion from the latest latent-class fit, the models' learned weights beside the configured
ones with "Adopt learned weights", and "Refit consensus" with the fit job's state. The two
buttons are for admins; plain form POSTs that htmx sends in place. When the fit job the page
polls ends, the whole section comes back in its place (the new figures, no reload)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from annotator.models import Dataset
from annotator.selectors.datasets import dataset_or_404
from review import policy
from review.audit.sections import consensus_section
from review.http import HtmxHttpRequest, wants_partial
from review.roles import AUDITOR, role_required
from review.selectors.audit_latent import consensus_audit, fit_job
from review.services.latent_jobs import request_consensus_fit
from review.services.model_weights import WeightChange, adopt_learned_weights

SECTION = "audit-consensus"


def _table_url(dataset: Dataset) -> Any:
    """A consensus table's URL as the audit's table_url writes it for the dataset alone."""

    def url(slug: str) -> str:
        query = urlencode({"dataset": dataset.name})
        return f"{reverse('review:audit_table', args=[slug])}?{query}"

    return url


def _section(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    """The whole section, swapped over the one on the page (whatever element asked)."""
    context = {
        "consensus": consensus_section(user=request.user, dataset=dataset, url=_table_url(dataset))
    }
    response = render(request, "review/_audit_consensus.html", context)
    return reswap(retarget(response, f"#{SECTION}"), "outerHTML")


def _job_state(request: HttpRequest, dataset: Dataset) -> HttpResponse:
    """The job's line while it waits or runs; once it ended, the section with its figures."""
    job = fit_job(dataset=dataset)
    if job is None or job.active:
        return render(request, "review/_consensus_job.html", {"job": job, "dataset": dataset})
    return _section(request, dataset)


def _dataset(request: HttpRequest) -> Dataset:
    name = request.POST.get("dataset") or request.GET.get("dataset") or ""
    return dataset_or_404(name=name)


def _back(dataset: Dataset) -> HttpResponse:
    return redirect(f"{reverse('review:audit')}?dataset={dataset.name}#{SECTION}")


def _require_admin(request: HttpRequest) -> None:
    allowed = policy.can_administer(user=request.user)
    if not allowed:
        raise PermissionDenied("Only admins can refit the consensus or change model weights.")


@require_GET
@role_required(AUDITOR)
def consensus_job_view(request: HttpRequest) -> HttpResponse:
    """The fit job's state (htmx polls it every two seconds while the fit waits or runs)."""
    return _job_state(request, _dataset(request))


@require_POST
@role_required(AUDITOR)
def refit_view(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    dataset = _dataset(request)
    waiting = fit_job(dataset=dataset)
    if waiting is not None and waiting.active:  # one at a time; beat resends a stuck one
        note = f"Consensus fit {waiting.pk} of {dataset.name} is already {waiting.status}."
    else:
        fit = request_consensus_fit(dataset=dataset, requested_by=request.user)
        note = f"Consensus fit {fit.pk} requested for {dataset.name}."
    if wants_partial(request):  # a fit run in-process has already ended here
        return _job_state(request, dataset)
    messages.success(request, note)
    return _back(dataset)


@require_POST
@role_required(AUDITOR)
def adopt_weights_view(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    dataset = _dataset(request)
    try:
        fit_id = int(request.POST.get("fit", ""))
    except ValueError:
        raise Http404("No such fit.") from None
    try:
        change = adopt_learned_weights(
            dataset=dataset,
            fit_id=fit_id,
            actor=request.user,
            reverify=request.POST.get("reverify") == "1",
        )
    except ValidationError as error:
        if wants_partial(request):
            return render(
                request, "review/_consensus_weights.html",
                {"audit": consensus_audit(dataset=dataset), "error": " ".join(error.messages),
                 "can_administer": True},
                status=400,
            )  # fmt: skip
        messages.error(request, " ".join(error.messages))
        return _back(dataset)
    note = _adopted_note(dataset, change)
    if not wants_partial(request):
        messages.success(request, note)
        return _back(dataset)
    context = {
        "audit": consensus_audit(dataset=dataset),
        "adopted": change,
        "note": note,
        "can_administer": True,
    }
    return render(request, "review/_consensus_weights.html", context)


def _adopted_note(dataset: Dataset, change: WeightChange) -> str:
    """What adopting did, in the words both answers show (the weights as the table rounds)."""
    if not change.changed:
        return f"Model weights of {dataset.name} already were the learned ones."
    weights = ", ".join(f"{model} {new:.2f}" for model, _old, new in change.changed)
    note = f"Model weights of {dataset.name} set to the learned ones: {weights}."
    if change.reverified:
        note += f" {change.reverified} samples queued for cross-verification with them."
    return note

"""The sample page: image with B-A-S boxes, proposals side by side, critic, adjudication form."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotator.models import Region, Sample
from review.forms import AdjudicationForm
from review.selectors.queue import next_sample_after, previous_sample_before
from review.selectors.samples import (
    adjudication_draft,
    describe_dispute_reasons,
    latest_adjudication,
    latest_critic_verdict,
    model_weight,
    proposal_comparison,
    region_boxes,
    sample_for_review,
    sample_image_path,
)
from review.services.adjudication import adjudicate_sample
from review.views.queue import HtmxHttpRequest, wants_partial

KEYED_EMOTIONS = 9  # digits 1-9 pick an emotion; labels past the ninth are clicked


def _page_context(*, sample: Sample, form: AdjudicationForm) -> dict[str, Any]:
    proposals = list(sample.proposals.all())
    boxes = region_boxes(
        regions=list(sample.regions.all()), width=sample.width or 1, height=sample.height or 1
    )
    legend = [
        (role, label, [b.phrase for b in boxes if b.role == role])
        for role, label in Region.Role.choices
    ]
    return {
        "sample": sample,
        "dataset": sample.dataset,
        "models": [
            (p.model_name, model_weight(sample=sample, model_name=p.model_name)) for p in proposals
        ],
        "comparison": proposal_comparison(proposals=proposals),
        "boxes": boxes,
        "legend": legend,
        "verdict": latest_critic_verdict(sample=sample),
        "reasons": describe_dispute_reasons(reasons=sample.dispute_reasons or []),
        "decision": latest_adjudication(sample=sample),
        # J/K walk the samples sharing this one's status, without wrapping around.
        "next_sample": next_sample_after(sample=sample, status=sample.status, wrap=False),
        "previous_sample": previous_sample_before(sample=sample, status=sample.status),
        "form": form,
        "keyed_emotions": KEYED_EMOTIONS,
    }


@login_required
@require_GET
def sample_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample = sample_for_review(pk=pk)
    proposals = list(sample.proposals.all())
    form = AdjudicationForm(
        labels=sample.dataset.taxonomy.labels,
        initial=adjudication_draft(sample=sample, proposals=proposals),
    )
    return render(request, "review/sample.html", _page_context(sample=sample, form=form))


@login_required
@require_GET
def image_view(request: HttpRequest, pk: int) -> FileResponse:
    """Stream the sample's image from its dataset's images_root; 404 if absent or outside it."""
    sample = get_object_or_404(Sample.objects.select_related("dataset").defer("des"), pk=pk)
    path = sample_image_path(sample=sample)
    if path is None:
        raise Http404("No image for this sample.")
    response = FileResponse(path.open("rb"))
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def adjudicate_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the decision, then open the next disputed sample (or the queue when none is left)."""
    sample = sample_for_review(pk=pk)
    form = AdjudicationForm(request.POST, labels=sample.dataset.taxonomy.labels)
    if form.is_valid():
        data = form.cleaned_data
        try:
            adjudicate_sample(
                sample=sample,
                annotator=cast(User, request.user),  # login_required: never anonymous here
                emotion=data["emotion"],
                confidence=data["confidence"],
                background=data["background"],
                attribute=data["attribute"],
                subject=data["subject"],
                notes=data["notes"],
                time_spent_ms=data["time_spent_ms"] or 0,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _after_adjudication(request, sample=sample, emotion=data["emotion"])
    if wants_partial(request):
        # 422: app.js lets htmx swap it, so the form comes back with its errors in place.
        return render(
            request,
            "review/_adjudication_form.html",
            {"form": form, "sample": sample, "keyed_emotions": KEYED_EMOTIONS},
            status=422,
        )
    context = _page_context(sample=sample, form=form)
    return render(request, "review/sample.html", context, status=400)


def _after_adjudication(request: HtmxHttpRequest, *, sample: Sample, emotion: str) -> HttpResponse:
    messages.success(request, f"Saved “{emotion}” for {sample.external_id}.")
    following = next_sample_after(sample=sample)
    if following is None:
        messages.info(request, "Queue done: no disputed samples are left in this dataset.")
        url = reverse("review:queue")
    else:
        url = reverse("review:sample", kwargs={"pk": following.pk})
    if request.htmx:
        # A full navigation: the next page starts its own timer and keyboard state.
        return HttpResponseClientRedirect(url)
    return redirect(url)

"""An annotator's own work: change an answer they gave, take back a sample they skipped."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotator.models import Sample
from review import policy
from review.http import HtmxHttpRequest
from review.models import Assignment
from review.roles import ANNOTATOR, role_required
from review.services.assignment import take_back_skipped
from review.services.own_answers import change_own_answer
from review.views.sample import save_label_response


@role_required(ANNOTATOR)
@require_POST
def change_answer_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new version of the person's own answer (while the label is not final); then Next."""
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    if not access.change:
        raise PermissionDenied(
            "Your answer on this sample can no longer change: its label is final."
        )
    return save_label_response(
        request,
        sample=sample,
        access=access,
        save=change_own_answer,
        action="review:change_answer",
        kind=Assignment.Kind.ANNOTATE,
        default_version=None,
    )


@role_required(ANNOTATOR)
@require_POST
def take_back_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Lease a skipped sample again and open it; back to the Skipped list when it is gone."""
    sample = get_object_or_404(Sample.objects.defer("des"), pk=pk)
    try:
        take_back_skipped(sample=sample, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(f"{reverse('review:queue')}?show=skipped")
    messages.success(request, f"{sample.external_id} is yours again: answer it or skip it.")
    return redirect("review:sample", pk=sample.pk)

"""Blind to machines: the annotator commits their first answer, then the page shows the
machines (annotator.models.Dataset.machine_blind; review.services.blind_answers)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from review import policy
from review.forms.answers import AdjudicationForm
from review.http import HtmxHttpRequest, wants_partial
from review.roles import ANNOTATOR, role_required
from review.services.blind_answers import commit_blind_answer
from review.views.sample import page_context


@role_required(ANNOTATOR)
@require_POST
def blind_commit_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Keep the blind answer, then reopen the sample page, which now shows the machines."""
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    if not access.answer:
        raise PermissionDenied("You hold no lease on this sample: open it with “Next”.")
    form = AdjudicationForm(request.POST, labels=sample.dataset.taxonomy.labels)
    if form.is_valid():
        try:
            commit_blind_answer(
                sample=sample,
                annotator=request.user,
                label=form.label(),
                time_spent_ms=form.time_spent(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            url = reverse("review:sample", args=[sample.pk])
            # A full navigation: the revealed page is a different page, not a fragment.
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = page_context(request, sample=sample, access=access, form=form)
    if wants_partial(request):
        return render(request, "review/_blind_commit.html", context, status=422)
    return render(request, "review/sample.html", context, status=400)

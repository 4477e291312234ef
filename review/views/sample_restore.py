"""Restore a sample the critic dropped from its own page (admins, as on a pipeline run's page).

A plain form POST that htmx may send too: either way the person lands back on the sample,
which now shows its new status (htmx: a full navigation, the page's mode changes with it).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotator.models import Sample
from review import policy
from review.http import HtmxHttpRequest, wants_partial
from review.services.dropped_samples import restore_dropped_sample


@login_required
@require_POST
def restore_from_sample_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    policy.require(policy.can_administer(user=request.user))
    sample = get_object_or_404(Sample.objects.defer("des"), pk=pk)
    try:
        restored = restore_dropped_sample(sample=sample, user=request.user)
    except ValidationError as error:  # restored meanwhile, in another tab or by someone else
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Restored {restored.external_id}: now {restored.status}.")
    url = reverse("review:sample", kwargs={"pk": sample.pk})
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)

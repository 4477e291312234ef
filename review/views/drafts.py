"""Draft autosave: the form posts its state here (htmx, "change delay:800ms")."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from review import policy
from review.http import HtmxHttpRequest, short_error
from review.roles import ADJUDICATOR, ANNOTATOR, role_required
from review.services.drafts import discard_draft, save_draft


@role_required(ANNOTATOR, ADJUDICATOR)
@require_POST
def draft_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    # Most often answered or skipped in another tab: say so, the person sees it by the form.
    policy.require(policy.can_save_draft(access=access))
    if request.POST.get("discard"):
        # "Keep theirs" after a conflict: the stale draft must not come back on the next visit.
        discard_draft(sample=sample, author=request.user)
        return redirect("review:sample", pk=sample.pk)
    base = request.POST.get("base_version", "")
    try:
        draft = save_draft(
            sample=sample,
            author=request.user,
            data=request.POST.dict(),
            base_version=int(base) if base.isdecimal() else 0,
        )
    except ValidationError as error:
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        return short_error(400, f"Draft not kept: {problems}")
    if request.htmx:
        return render(request, "review/_draft_status.html", {"draft": draft})
    return redirect("review:sample", pk=sample.pk)

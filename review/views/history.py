"""A sample's history (every audit event, every version of its label) and undo."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required, user_roles
from review.selectors.history import event_changes, sample_events
from review.selectors.samples import adjudication_versions, current_adjudication
from review.services.adjudication import VersionConflict, can_undo, undo_last_decision
from review.views.sample import viewable_sample


@role_required(ADJUDICATOR, AUDITOR)
@require_GET
def history_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample, access = viewable_sample(request, pk)
    if not access.see_all:
        raise PermissionDenied(
            "The history shows everyone's answers: adjudicators and auditors only."
        )
    current = current_adjudication(sample=sample)
    events = [(event, event_changes(event=event)) for event in sample_events(sample=sample)]
    context = {
        "sample": sample,
        "events": events,
        "versions": adjudication_versions(sample=sample),
        "decision": current,
        "can_undo": can_undo(user=request.user, adjudication=current),
    }
    return render(request, "review/history.html", context)


@role_required(ANNOTATOR, ADJUDICATOR)
@require_POST
def undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the current decision (its author or an admin): the previous version comes back.

    Not for annotators: their answer made the label (k = 1), and undoing it would leave an
    answered sample without a label, for an adjudicator. They change their answer instead.
    """
    sample, access = viewable_sample(request, pk)
    if ADJUDICATOR not in user_roles(request.user):
        if not access.change:
            raise PermissionDenied("Only an adjudicator or an admin can undo this decision.")
        messages.info(
            request, "Nothing was undone: change your answer below instead (until it is final)."
        )
        return redirect("review:sample", pk=sample.pk)
    version = request.POST.get("version", "")
    try:
        restored = undo_last_decision(
            sample=sample, actor=request.user, version=int(version) if version.isdecimal() else None
        )
    except VersionConflict as conflict:
        messages.error(request, f"Not undone: {conflict}")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if restored is None:
            messages.success(request, f"Undone: {sample.external_id} has no decision now.")
        else:
            messages.success(
                request,
                f"Undone: version {restored.version} ({restored.emotion}) is current again.",
            )
    target = "review:history" if access.see_all else "review:sample"
    return redirect(target, pk=sample.pk)

"""A sample's history (every audit event, every version of its label) and undo.

What the history shows is review.policy.visible_history: all of it for adjudicators and
auditors, only their own harmless events while they answer the sample blind.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.models import Sample
from review import policy
from review.http import error_message, htmx_details, short_error
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required
from review.selectors.history import event_changes
from review.selectors.samples import current_adjudication
from review.services.adjudication import VersionConflict, undo_last_decision

MISSING_VERSION = "Say which version you undo (the form sends it): nothing was undone."


def _history_context(
    request: HttpRequest, *, sample: Sample, access: policy.SampleAccess
) -> dict[str, Any]:
    shown = policy.visible_history(user=request.user, sample=sample, access=access)
    policy.require(shown.decision)
    current = current_adjudication(sample=sample) if shown.full else None
    return {
        "sample": sample,
        "events": [(event, event_changes(event=event)) for event in shown.events],
        "versions": shown.versions,
        "decision": current,
        "hidden_note": shown.hidden_note,
        "can_undo": policy.can_undo(access=access, user=request.user, adjudication=current),
    }


@role_required(ADJUDICATOR, AUDITOR)
@require_GET
def history_view(request: HttpRequest, pk: int) -> HttpResponse:
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    context = _history_context(request, sample=sample, access=access)
    return render(request, "review/history.html", context)


def _refused(
    request: HttpRequest, *, sample: Sample, access: policy.SampleAccess, status: int, text: str
) -> HttpResponse:
    """400 / 409: the history page (or, for htmx, a short message) saying why."""
    if htmx_details(request) is not None:
        return short_error(status, error_message(request, status, text))
    context = _history_context(request, sample=sample, access=access)
    context["undo_error"] = text
    return render(request, "review/history.html", context, status=status)


@role_required(ANNOTATOR, ADJUDICATOR)
@require_POST
def undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the current decision (its author or an admin) naming the version they saw: the
    previous version comes back. 409 when that version is no longer current, 400 without one.

    Not for annotators: their answer made the label (k = 1), and undoing it would leave an
    answered sample without a label, for an adjudicator. They change their answer instead.
    """
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    if ADJUDICATOR not in access.roles:
        if not access.change:
            raise PermissionDenied("Only an adjudicator or an admin can undo this decision.")
        messages.info(
            request, "Nothing was undone: change your answer below instead (until it is final)."
        )
        return redirect("review:sample", pk=sample.pk)
    policy.require(policy.can_adjudicate(access=access))
    version = request.POST.get("version", "").strip()
    if not version.isdecimal() or len(version) > 9:
        return _refused(request, sample=sample, access=access, status=400, text=MISSING_VERSION)
    try:
        restored = undo_last_decision(sample=sample, actor=request.user, version=int(version))
    except VersionConflict as conflict:
        text = f"Not undone: {conflict}"
        return _refused(request, sample=sample, access=access, status=409, text=text)
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
    return redirect("review:history", pk=sample.pk)

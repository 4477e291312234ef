"""What the sample page shows an annotator about their own work: "7 of 40 · 12 today", J/K
through the samples handed to them, and the form that changes an answer they gave."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from annotator.models import Sample
from review.forms.answers import AdjudicationForm
from review.labels import label_of
from review.models import Adjudication, Annotation, Assignment, Draft
from review.policy import SampleAccess
from review.roles import ANNOTATOR, user_roles
from review.selectors.own_answers import made_from_answer
from review.selectors.progress import annotator_progress, work_place


def own_answer_context(
    *, access: SampleAccess, read_only: bool, current: Adjudication | None
) -> dict[str, Any]:
    """An annotator's own answer, why it can no longer change when the page is read-only, and
    the sample's status in their words."""
    own = None if access.see_all else access.own
    locked = access.change_refusal if own is not None and read_only else ""
    return {
        "own_answer": own,
        "answer_locked": locked,
        "status_words": own_status_words(own=own, current=current),
    }


def own_status_words(*, own: Annotation | None, current: Adjudication | None) -> str:
    """The status in the answerer's words where their answer alone made the label (k = 1):
    "adjudicated" would say an adjudicator decided. "" leaves the status as it is."""
    if own is None or current is None:
        return ""
    return (
        "decided by your answer" if made_from_answer(adjudication=current, annotation=own) else ""
    )


def own_work_context(request: HttpRequest, *, sample: Sample) -> dict[str, Any]:
    """Progress and the J/K links through the person's work (empty for non-annotators)."""
    if ANNOTATOR not in user_roles(request.user):
        return {}
    progress = annotator_progress(user=request.user)
    place = work_place(user=request.user, sample_id=sample.pk)
    previous_url = next_url = None
    if place.previous_sample_id is not None:
        previous_url = reverse("review:sample", args=[place.previous_sample_id])
    if place.next_sample_id is not None:
        next_url = reverse("review:sample", args=[place.next_sample_id])
    # At the end of their work with nothing in hand, J asks for a new sample.
    next_is_new = next_url is None and place.position > 0 and not progress.held
    if next_is_new and progress.available:
        next_url = f"{reverse('review:next')}?kind={Assignment.Kind.ANNOTATE}"
    return {
        "progress": progress,
        "work_place": place,
        "work_previous_url": previous_url,
        "work_next_url": next_url,
        "work_next_is_new": next_is_new,
    }


def change_answer_form(
    *,
    sample: Sample,
    own: Annotation | None,
    current: Adjudication | None,
    draft: Draft | None,
) -> AdjudicationForm:
    """The answer form filled with the person's saved answer (or their draft of a change);
    base_version is the label version it changes (0 while there is none)."""
    initial: dict[str, object]
    if draft is not None:
        initial = {**draft.data, "base_version": draft.base_version}
    else:
        initial = label_of(own).as_dict() if own is not None else {}
        initial["base_version"] = current.version if current else 0
    return AdjudicationForm(labels=sample.dataset.taxonomy.labels, initial=initial)

"""What the sample page hides and how its form starts while a person answers blind to the
machines (annotator.models.Dataset.machine_blind; review.services.blind_answers)."""

from __future__ import annotations

from typing import Any

from annotator.models import Sample
from review.forms.answers import AdjudicationForm
from review.selectors.blind_answers import (
    BlindState,
    blind_form_initial,
    revealed_form_initial,
)

# The machines' evidence on the page (review.views.sample._evidence, the mask panel), emptied.
HIDDEN_EVIDENCE: dict[str, Any] = {
    "models": [],
    "comparison": [],
    "boxes": [],
    "legend": [],
    "verdict": None,
    "reasons": [],
    "mask_states": [],
    "can_edit_masks": False,
}


def blind_page_context(
    *, sample: Sample, state: BlindState, context: dict[str, Any]
) -> dict[str, Any]:
    """Overrides for the sample page's context: before the commit the evidence is hidden and
    the form (posting to the commit) starts empty; after it, the form starts from the blind
    answer. A form handed in with errors, or a restored draft, is kept as it is."""
    form = context.get("form")
    fresh = form is not None and not form.is_bound
    labels = sample.dataset.taxonomy.labels
    base = {"base_version": form.initial.get("base_version")} if form is not None else {}
    if state.hides_machines:
        extra: dict[str, Any] = {
            **HIDDEN_EVIDENCE,
            "blind_pending": True,
            "form_action": "review:blind_commit",
        }
        if fresh:
            initial = {**blind_form_initial(draft=context.get("draft")), **base}
            extra["form"] = AdjudicationForm(labels=labels, initial=initial)
        return extra
    extra = {"blind_answer": state.answer}
    if fresh and context.get("draft") is None and state.answer is not None:
        initial = {**revealed_form_initial(sample=sample, answer=state.answer), **base}
        extra["form"] = AdjudicationForm(labels=labels, initial=initial)
    return extra

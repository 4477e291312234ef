"""The answer / decision form a sample page starts from, and the notes shown beside it."""

from __future__ import annotations

from typing import Any

from annotator.models import Sample
from review.forms.answers import AdjudicationForm
from review.labels import label_of
from review.models import Adjudication, Draft
from review.selectors.samples import adjudication_draft


def label_form(
    *, sample: Sample, adjudicating: bool, current: Adjudication | None, draft: Draft | None,
    user: Any,
) -> AdjudicationForm:  # fmt: skip
    """A restored draft first, else the current label (when adjudicating; its notes only when
    they are this person's own: saving would otherwise sign another person's note as theirs),
    else the models' weighted vote; base_version is what the person saw."""
    version = current.version if current else 0
    initial: dict[str, object]
    if draft is not None:
        initial = {**draft.data, "base_version": draft.base_version}
    elif adjudicating and current is not None:
        initial = {**label_of(current).as_dict(), "base_version": version}
        if current.annotator_id != user.pk:
            initial["notes"] = ""
    else:
        initial = adjudication_draft(sample=sample, proposals=list(sample.proposals.all()))
        initial["base_version"] = version
    return AdjudicationForm(labels=sample.dataset.taxonomy.labels, initial=initial)


def others_notes(*, current: Adjudication | None, user: Any) -> dict[str, Any] | None:
    """The current label's notes when someone else wrote them: shown beside the decision
    form, which starts without them."""
    if current is None or not current.notes or current.annotator_id == user.pk:
        return None
    author = current.annotator.username if current.annotator is not None else "consensus"
    return {"version": current.version, "author": author, "text": current.notes}

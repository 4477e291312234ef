"""Adopting the models' weights learned by a consensus fit as the dataset's configured weights
(Dataset.model_weights), which the weighted cross-verification and the sample page's vote use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Dataset, Sample
from annotator.services.reverify import enqueue_reverify
from review.models_consensus import ConsensusFit
from review.selectors.latent import learned_model_weights
from review.selectors.samples import DEFAULT_WEIGHT
from review.services import history

ADOPT_WEIGHTS = "adopt_model_weights"
REVERIFY_CHUNK = 5000  # sample ids per re-verification task


@dataclass(frozen=True)
class WeightChange:
    before: dict[str, float]
    after: dict[str, float]
    reverified: int  # samples queued for re-verification with the new weights

    @property
    def changed(self) -> list[tuple[str, float, float]]:
        """(model, old weight, new weight) for each model whose weight moved."""
        return [
            (name, self.before.get(name, DEFAULT_WEIGHT), weight)
            for name, weight in sorted(self.after.items())
            if self.before.get(name, DEFAULT_WEIGHT) != weight
        ]


def _usable_fit(*, dataset: Dataset, fit_id: int) -> ConsensusFit:
    fit = ConsensusFit.objects.filter(pk=fit_id, dataset=dataset).first()
    if fit is None or fit.status != ConsensusFit.Status.DONE:
        raise ValidationError("That consensus fit is not a finished fit of this dataset.")
    return fit


def adopt_learned_weights(
    *, dataset: Dataset, fit_id: int, actor: Any, reverify: bool = False
) -> WeightChange:
    """Write the fit's learned weights over the configured ones (models the fit did not rate
    keep theirs) and record who did it, before and after; with `reverify`, queue the samples'
    cross-verification again with the new weights (people's decisions are kept by it)."""
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        learned = learned_model_weights(fit=_usable_fit(dataset=locked, fit_id=fit_id))
        if not learned:
            raise ValidationError("The fit has no model accuracies to learn weights from.")
        before = {str(k): float(v) for k, v in (locked.model_weights or {}).items()}
        after = {**before, **learned}
        locked.model_weights = after
        locked.save(update_fields=["model_weights"])
        ids = (
            list(Sample.objects.filter(dataset=locked).values_list("pk", flat=True))
            if reverify
            else []
        )
        for start in range(0, len(ids), REVERIFY_CHUNK):
            enqueue_reverify(sample_ids=ids[start : start + REVERIFY_CHUNK])
        history.record_event(
            sample=None,
            actor=actor,
            action=ADOPT_WEIGHTS,
            before={"dataset": locked.name, "model_weights": before},
            after={
                "dataset": locked.name,
                "fit": fit_id,
                "model_weights": after,
                "reverified": len(ids),
            },
        )
    dataset.model_weights = after
    return WeightChange(before=before, after=after, reverified=len(ids))

"""What the demo prepares on the review side so every page shows figures on the first visit:
a consensus fit of the demo dataset and its DES map (PCA), both computed here and now.

Both are idempotent: a second demo run keeps the fit and the map when nothing they read changed
(no answers since the fit; the same number of samples with a DES as the drawn map).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from annotator.models import Dataset
from annotator.selectors.datasets import dataset_by_name, unknown_dataset_message
from review.models_consensus import ConsensusFit
from review.models_desmap import DesMap
from review.selectors.latent import answered_since
from review.services.des_map import compute_des_map, ensure_des_map
from review.services.latent_jobs import fit_consensus_now


@dataclass(frozen=True)
class DemoFigures:
    fit: ConsensusFit | None
    des_map: DesMap | None


def prepare_demo_figures(*, dataset_name: str) -> DemoFigures:
    """The dataset's consensus fit and PCA DES map, each computed unless a current one exists."""
    dataset = dataset_by_name(name=dataset_name)
    if dataset is None:  # the demo command makes it first
        raise ValueError(unknown_dataset_message(name=dataset_name))
    return DemoFigures(
        fit=ensure_demo_consensus_fit(dataset=dataset), des_map=ensure_demo_des_map(dataset=dataset)
    )


def ensure_demo_consensus_fit(*, dataset: Dataset) -> ConsensusFit:
    """The last done fit if nobody answered since it began; otherwise a new fit, in process
    (fit_consensus_now: the same claim and write as the worker, no broker needed)."""
    last = (
        ConsensusFit.objects.filter(dataset=dataset, status=ConsensusFit.Status.DONE)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is not None and not answered_since(
        dataset_id=dataset.pk, since=last.started_at or last.created_at
    ):
        return last
    return fit_consensus_now(dataset=dataset)


def ensure_demo_des_map(*, dataset: Dataset) -> DesMap | None:
    """The current PCA map, computed in this process when the page would ask for one. The map
    is requested and computed in one transaction, so the worker (or thread) the request sends
    on commit finds it done and skips it."""
    method = DesMap.Method.PCA
    with transaction.atomic():
        state = ensure_des_map(dataset=dataset, method=method)
        if state.waiting is not None:
            compute_des_map(map_id=state.waiting.pk)
    return DesMap.objects.filter(dataset=dataset, method=method).order_by("-pk").first()

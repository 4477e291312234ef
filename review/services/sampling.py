"""EmoVerse's manual random sampling: a share of agreed samples also goes to people.

Which samples is decided by a seeded hash of each sample's id in its dataset, not by a random
generator: re-running with the same seed and share picks the same samples, and raising the
share only adds samples (the earlier picks stay picked).

When the dataset orders review by the latent-class consensus (Dataset.review_order "entropy"
or "expected_change"), the share is instead round(share x agreed samples) taken from the top of
that order: highest posterior entropy (or expected change of the label) first, ties and samples
the latest fit did not cover (they come last) in seeded-hash order. Agreed samples where the
raters' evidence is least certain are the ones a human check can overturn. Deterministic for one
fit; a new fit may reorder, and a raised share still only adds. Without a finished fit the hash
rule applies.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Dataset, Sample
from review.models import Annotation, Assignment
from review.models_consensus import SamplePosterior
from review.selectors.review_order import POSTERIOR_FIELDS
from review.services import history

DEFAULT_SEED = "emoreview"
HASH_SPACE = 2**64
UPDATE_BATCH = 1000


ORDER_HASH = "hash"
PRIORITY_ORDERS = tuple(POSTERIOR_FIELDS)  # Dataset.review_order values, SamplePosterior fields


@dataclass(frozen=True)
class HumanCheckReport:
    dataset: str
    share: float
    seed: str
    agreed: int
    selected: int
    added: int
    removed: int
    order: str = ORDER_HASH  # how the share was picked: "hash", "entropy", "expected_change"

    def __str__(self) -> str:
        picked = "by seeded hash" if self.order == ORDER_HASH else f"highest {self.order} first"
        return (
            f"{self.dataset}: {self.selected} of {self.agreed} agreed samples go to people "
            f"(share {self.share:g}, {picked}, seed {self.seed!r}; +{self.added}, -{self.removed})"
        )


def hash_fraction(*, seed: str, dataset_name: str, external_id: str) -> float:
    """A stable number in [0, 1) for one sample."""
    digest = hashlib.sha256(f"{seed}\x1f{dataset_name}\x1f{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / HASH_SPACE


def select_human_checks(
    *, dataset: Dataset, share: float | None = None, seed: str = DEFAULT_SEED, actor: Any = None
) -> HumanCheckReport:
    """Flag the agreed samples whose hash falls under `share` (default: the dataset's setting,
    else settings.HUMAN_CHECK_SHARE), or with a consensus review order the top share by it
    (module docstring). Samples people already work on keep their flag."""
    if share is None:
        share = dataset.agreed_review_share or settings.HUMAN_CHECK_SHARE
    if not 0.0 <= share <= 1.0:
        raise ValidationError(f"share must be between 0 and 1, not {share}")
    agreed = Sample.objects.filter(dataset=dataset, status=Sample.Status.AGREED)
    rows = list(agreed.values_list("pk", "external_id", "human_check"))
    chosen, order = _chosen(dataset=dataset, rows=rows, share=share, seed=seed)
    started = set(Annotation.objects.filter(sample__in=agreed).values_list("sample_id", flat=True))
    started |= set(Assignment.objects.filter(sample__in=agreed).values_list("sample_id", flat=True))
    add = [pk for pk, _, flagged in rows if pk in chosen and not flagged]
    remove = [pk for pk, _, flagged in rows if flagged and pk not in chosen and pk not in started]
    with transaction.atomic():
        for start in range(0, max(len(add), len(remove)), UPDATE_BATCH):
            Sample.objects.filter(pk__in=add[start : start + UPDATE_BATCH]).update(human_check=True)
            Sample.objects.filter(pk__in=remove[start : start + UPDATE_BATCH]).update(
                human_check=False
            )
        report = HumanCheckReport(
            dataset=dataset.name,
            share=share,
            seed=seed,
            agreed=len(rows),
            selected=len(chosen)
            + sum(1 for pk, _, f in rows if f and pk not in chosen)
            - len(remove),
            added=len(add),
            removed=len(remove),
            order=order,
        )
        history.record_event(
            sample=None,
            actor=actor,
            action=history.HUMAN_CHECK,
            after={
                "dataset": dataset.name,
                "share": share,
                "seed": seed,
                "order": order,
                "added": len(add),
                "removed": len(remove),
            },
        )
    return report


def _chosen(
    *, dataset: Dataset, rows: list[tuple[int, str, bool]], share: float, seed: str
) -> tuple[set[int], str]:
    """(the agreed samples the share picks, how: "hash" or the dataset's review order)."""
    fractions = {
        pk: hash_fraction(seed=seed, dataset_name=dataset.name, external_id=external_id)
        for pk, external_id, _ in rows
    }
    priority = _priorities(dataset=dataset)
    if not priority:
        return {pk for pk, fraction in fractions.items() if fraction < share}, ORDER_HASH
    return _top_share(fractions=fractions, priority=priority, share=share), dataset.review_order


def _priorities(*, dataset: Dataset) -> dict[int, float]:
    """{agreed sample id: its entropy or expected change} from the latest fit's posteriors,
    when the dataset orders review by one ({} otherwise, or before any fit)."""
    if dataset.review_order not in PRIORITY_ORDERS:
        return {}
    rows = SamplePosterior.objects.filter(
        dataset=dataset, sample__status=Sample.Status.AGREED
    ).values_list("sample_id", dataset.review_order)
    return dict(rows)


def _top_share(
    *, fractions: dict[int, float], priority: dict[int, float], share: float
) -> set[int]:
    """The round(share x n) samples of highest priority; ties, then samples without one, in
    seeded-hash order (so the pick is a prefix of one fixed order: a larger share adds)."""
    wanted = math.floor(share * len(fractions) + 0.5)
    ranked = sorted(
        fractions,
        key=lambda pk: (pk not in priority, -priority.get(pk, 0.0), fractions[pk], pk),
    )
    return set(ranked[:wanted])

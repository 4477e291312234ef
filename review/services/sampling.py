"""EmoVerse's manual random sampling: a share of agreed samples also goes to people.

Which samples is decided by a seeded hash of each sample's id in its dataset, not by a random
generator: re-running with the same seed and share picks the same samples, and raising the
share only adds samples (the earlier picks stay picked).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Dataset, Sample
from review.models import Annotation, Assignment
from review.services import history

DEFAULT_SEED = "emoreview"
HASH_SPACE = 2**64
UPDATE_BATCH = 1000


@dataclass(frozen=True)
class HumanCheckReport:
    dataset: str
    share: float
    seed: str
    agreed: int
    selected: int
    added: int
    removed: int

    def __str__(self) -> str:
        return (
            f"{self.dataset}: {self.selected} of {self.agreed} agreed samples go to people "
            f"(share {self.share:g}, seed {self.seed!r}; +{self.added}, -{self.removed})"
        )


def hash_fraction(*, seed: str, dataset_name: str, external_id: str) -> float:
    """A stable number in [0, 1) for one sample."""
    digest = hashlib.sha256(f"{seed}\x1f{dataset_name}\x1f{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / HASH_SPACE


def select_human_checks(
    *, dataset: Dataset, share: float | None = None, seed: str = DEFAULT_SEED, actor: Any = None
) -> HumanCheckReport:
    """Flag the agreed samples whose hash falls under `share` (default: the dataset's setting,
    else settings.HUMAN_CHECK_SHARE). Samples people already work on keep their flag."""
    if share is None:
        share = dataset.agreed_review_share or settings.HUMAN_CHECK_SHARE
    if not 0.0 <= share <= 1.0:
        raise ValidationError(f"share must be between 0 and 1, not {share}")
    agreed = Sample.objects.filter(dataset=dataset, status=Sample.Status.AGREED)
    rows = list(agreed.values_list("pk", "external_id", "human_check"))
    chosen = {
        pk
        for pk, external_id, _ in rows
        if hash_fraction(seed=seed, dataset_name=dataset.name, external_id=external_id) < share
    }
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
        )
        history.record_event(
            sample=None,
            actor=actor,
            action=history.HUMAN_CHECK,
            after={
                "dataset": dataset.name,
                "share": share,
                "seed": seed,
                "added": len(add),
                "removed": len(remove),
            },
        )
    return report

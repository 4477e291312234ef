"""Re-run weighted cross-verification for chosen samples, now or after the transaction commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from annotator import tasks
from annotator.models import Sample
from annotator.services.verification import verify_sample

BATCH_SIZE = 500


def reverify_samples(*, sample_ids: list[int]) -> int:
    """Recompute status, suggestion and margin of each sample; returns how many were found.

    Idempotent: the result depends only on the stored proposals, weights and verdicts, so a
    redelivered task (acks_late) simply writes the same values again. Unknown ids are skipped.
    """
    found = 0
    ids = sorted(set(sample_ids))
    for start in range(0, len(ids), BATCH_SIZE):
        batch = (
            Sample.objects.filter(pk__in=ids[start : start + BATCH_SIZE])
            .select_related("dataset__taxonomy")
            .prefetch_related("proposals")
            .order_by("pk")
        )
        for sample in batch:
            verify_sample(sample=sample)
            found += 1
    return found


def enqueue_reverify(*, sample_ids: Iterable[int]) -> None:
    """Queue re-verification once the current transaction commits (at once outside one).

    Enqueuing after commit means a worker never looks for rows it cannot see yet, and a rolled
    back transaction enqueues nothing.
    """
    ids = sorted({int(pk) for pk in sample_ids})
    if not ids:
        return
    transaction.on_commit(lambda: tasks.reverify_samples.delay(ids))

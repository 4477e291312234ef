"""Leases: "Next" reserves a sample for one person for a while; skip or timeout releases it.

Handing out runs in one transaction: candidates come fairest first (fewest answers and leases,
then oldest), each is locked with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL (on SQLite
the IMMEDIATE transaction mode already serialises writers), and its leases are counted again
under the lock, so concurrent requests never put more than k people on a sample.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotator.models import Dataset, Sample
from review.models import Assignment
from review.selectors.assignment import (
    active_lease,
    adjudication_candidates,
    annotation_candidates,
    live_lease_q,
    sample_load,
    sample_needs_adjudication,
    skipped_with_room,
)
from review.selectors.prepared import fetch
from review.selectors.samples import locked_sample
from review.selectors.untouched import untouched_candidate_ids
from review.services import history
from review.services.binary import binary_protocol, open_questions

CANDIDATE_BATCH = 25  # candidates tried per attempt before giving up
ATTEMPTS = 3  # a candidate locked by someone else may free up: look again, briefly
RETRY_PAUSE_S = 0.05
EXPIRE_BATCH = 500


def expire_stale_leases(*, now: datetime | None = None) -> int:
    """Mark leases past their time as expired (lazily, on the next hand-out); returns how many.

    Counting already ignores them; this only makes the status say so. Rows someone else is
    updating are skipped, so two hand-outs never wait on each other here. Inside a caller's
    transaction it takes part in it (no savepoint of its own).
    """
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        # A prepared statement: it runs on every hand-out and usually finds nothing.
        rows = fetch(key="stale_leases", build=_stale_leases, values={"now": now})
        ids = [row[0] for row in rows]
        if not ids:
            return 0
        return Assignment.objects.filter(id__in=ids).update(
            status=Assignment.Status.EXPIRED, finished_at=now
        )


def _stale_leases(*, now: datetime) -> QuerySet[Any]:
    stale = Assignment.objects.select_for_update(skip_locked=True).filter(
        status=Assignment.Status.ACTIVE, expires_at__lte=now
    )
    return stale.values_list("id")[:EXPIRE_BATCH]


def lease_next_sample(
    *,
    user: Any,
    kind: str = Assignment.Kind.ANNOTATE,
    dataset: Dataset | None = None,
    now: datetime | None = None,
) -> Assignment | None:
    """The user's running lease of this kind, or a new one on the fairest free sample.

    None when nothing is left for this user (queue done).
    """
    for attempt in range(ATTEMPTS):
        when = now or timezone.now()
        assignment, contended = _lease_once(
            user=user, kind=kind, dataset=dataset, now=when, sweep=attempt == 0
        )
        if assignment is not None or not contended:
            return assignment
        time.sleep(RETRY_PAUSE_S * (attempt + 1))
    return None


def _lease_once(
    *, user: Any, kind: str, dataset: Dataset | None, now: datetime, sweep: bool
) -> tuple[Assignment | None, bool]:
    """One attempt; the flag says some candidate was locked by someone else (worth a retry).
    `sweep`: expire stale leases first, in the same transaction (one write lock on SQLite)."""
    with transaction.atomic():
        if sweep:
            expire_stale_leases(now=now)
        # One hand-out per person at a time: two tabs pressing Next get the same lease.
        fetch(key="user_hand_out_lock", build=_user_lock, values={"pk": user.pk})
        running = active_lease(user=user, kind=kind, dataset=dataset, now=now)
        if running is not None:
            return running, False
        ids: list[int] = []
        if kind == Assignment.Kind.ANNOTATE:
            # Untouched samples come first anyway; found in id order, the database stops
            # after a batch instead of computing every open sample's load to sort by it.
            ids = untouched_candidate_ids(
                user=user, dataset=dataset, now=now, limit=CANDIDATE_BATCH
            )
        if not ids:
            candidates = _candidates(user=user, kind=kind, dataset=dataset, now=now)
            ids = list(candidates.values_list("id", flat=True)[:CANDIDATE_BATCH])
        contended = False
        for sample_id in ids:
            sample = _lock(sample_id)
            if sample is None:
                contended = True
                continue
            if _has_room(sample=sample, user=user, kind=kind, now=now):
                return _take(sample=sample, user=user, kind=kind, now=now), False
        return None, contended


def _user_lock(*, pk: int) -> QuerySet[Any]:
    return get_user_model().objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk")


def _candidates(
    *, user: Any, kind: str, dataset: Dataset | None, now: datetime
) -> QuerySet[Sample]:
    if kind == Assignment.Kind.ADJUDICATE:
        return adjudication_candidates(user=user, dataset=dataset, now=now)
    if kind == Assignment.Kind.ANNOTATE:
        return annotation_candidates(user=user, dataset=dataset, now=now)
    raise ValidationError(f"unknown lease kind {kind!r}")


def _lock(sample_id: int) -> Sample | None:
    """The sample row, locked for this transaction; None when another transaction holds it."""
    return locked_sample(pk=sample_id, skip_locked=True, no_key=True)


def _has_room(*, sample: Sample, user: Any, kind: str, now: datetime) -> bool:
    """Counted again under the row lock: the candidate query's counts may be stale."""
    if kind == Assignment.Kind.ADJUDICATE:
        others = Assignment.objects.filter(live_lease_q(now=now), sample=sample, kind=kind).exclude(
            annotator=user
        )
        return not others.exists() and sample_needs_adjudication(sample=sample)
    protocol = binary_protocol(dataset=sample.dataset)
    answers, leases = sample_load(sample=sample, now=now)
    if protocol is not None:
        return leases == 0 and bool(open_questions(sample=sample, protocol=protocol, user=user))
    return bool(sample.gold_emotion) or answers + leases < sample.dataset.overlap_k


def _take(*, sample: Sample, user: Any, kind: str, now: datetime) -> Assignment:
    expires = now + timedelta(seconds=sample.dataset.lease_seconds)
    # An expired lease of the same person is renewed in place (one row per sample, person, kind):
    # one INSERT ... ON CONFLICT DO UPDATE, which gives back the row's id either way, instead of
    # update_or_create's locked read and two savepoints. Callers hold the user or sample lock.
    assignment = Assignment(
        sample=sample, annotator=user, kind=kind, status=Assignment.Status.ACTIVE,
        leased_at=now, expires_at=expires, finished_at=None,
    )  # fmt: skip
    Assignment.objects.bulk_create(
        [assignment],
        update_conflicts=True,
        unique_fields=["sample", "annotator", "kind"],
        update_fields=["status", "leased_at", "expires_at", "finished_at"],
    )
    history.record_event(
        sample=sample,
        actor=user,
        action=history.LEASE,
        after={"kind": kind, "expires_at": expires.isoformat()},
    )
    return assignment


def skip_assignment(*, sample: Sample, user: Any, kind: str = Assignment.Kind.ANNOTATE) -> None:
    """Release the user's lease on the sample for others; the user is not offered it again."""
    with transaction.atomic():
        updated = Assignment.objects.filter(
            sample=sample,
            annotator=user,
            kind=kind,
            status__in=[Assignment.Status.ACTIVE, Assignment.Status.EXPIRED],
        ).update(status=Assignment.Status.SKIPPED, finished_at=timezone.now())
        if not updated:
            raise ValidationError("You hold no lease on this sample to skip.")
        history.record_event(sample=sample, actor=user, action=history.SKIP, after={"kind": kind})


def take_back_skipped(*, sample: Sample, user: Any, now: datetime | None = None) -> Assignment:
    """Lease a sample the user skipped to them again, when it still waits for people and has
    room for them (under the row lock, as a hand-out); ValidationError says why not."""
    now = now or timezone.now()
    with transaction.atomic():
        skipped = Assignment.objects.filter(
            sample=sample,
            annotator=user,
            kind=Assignment.Kind.ANNOTATE,
            status=Assignment.Status.SKIPPED,
        )
        if not skipped.exists():
            raise ValidationError("You did not skip this sample: there is nothing to take back.")
        locked = _lock_waiting(sample.pk)
        # Counted under the lock: hand-outs and answers on this sample wait for it.
        if not skipped_with_room(user=user, now=now).filter(pk=sample.pk).exists():
            raise ValidationError(
                f"{sample.external_id} no longer waits for you: someone else has it or its "
                "label is decided."
            )
        assignment = _take(sample=locked, user=user, kind=Assignment.Kind.ANNOTATE, now=now)
        history.record_event(sample=locked, actor=user, action=history.TAKE_BACK)
    return assignment


def _lock_waiting(sample_id: int) -> Sample:
    """The sample row, locked; waits for a writer instead of skipping it (one sample asked)."""
    return (
        Sample.objects.select_for_update(no_key=True, of=("self",))
        .select_related("dataset__taxonomy")
        .defer("des")
        .get(pk=sample_id)
    )

"""An annotator's own work: how far along they are, where one sample sits in it, what they skipped.

"Their work" is the samples handed to them to answer (running and answered leases), in the order
they got them; J/K walk it. Every read here is a fixed number of queries, whatever the amount of
work or the size of the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from annotator.models import Dataset
from review.models import Assignment
from review.selectors.assignment import live_lease_q, skipped_with_room
from review.selectors.available import available_count
from review.selectors.prepared import fetch, text_literal

WORK_STATUSES = (Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED)
_LEASES = Assignment._meta.db_table
# Constants written as literals: a generic plan (PostgreSQL, after five runs) knows them.
_ANNOTATE = text_literal(Assignment.Kind.ANNOTATE.value)


@dataclass(frozen=True)
class AnnotatorProgress:
    done: int  # samples answered
    held: int  # leases running now (normally one: the sample they are on)
    available: int  # samples "Next" could still hand them
    today: int  # answered since midnight (TIME_ZONE)
    skipped_open: int  # skipped samples they could take back now

    @property
    def remaining(self) -> int:
        return self.held + self.available

    @property
    def total(self) -> int:
        """A skip is neither done nor dropped: a skipped sample still open stays in the total."""
        return self.done + self.remaining + self.skipped_open

    @property
    def finished(self) -> bool:
        """Nothing is left for this person: no new sample, none in hand, no skipped one open."""
        return self.remaining == 0 and self.skipped_open == 0


def start_of_today(*, now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def annotator_progress(
    *, user: Any, dataset: Dataset | None = None, now: datetime | None = None
) -> AnnotatorProgress:
    """Done, in hand, still to come, today and skipped-but-open for `user` (five queries;
    six when they skipped some)."""
    now = now or timezone.now()
    values: dict[str, Any] = {"user_id": user.pk, "now": now, "midnight": start_of_today(now=now)}
    if dataset is not None:
        values["dataset_id"] = dataset.pk
    if dataset is None:
        done, today, held, skipped = _progress_counts(**values)
    else:
        rows = fetch(key="progress:dataset", build=_progress_figures, values=values)
        done, today, held, skipped = rows[0] if rows else (0, 0, 0, 0)
    figures = {"done": done, "today": today, "held": held, "skipped": skipped}
    # Most people skipped nothing: then the room check on skipped samples is not built at all.
    skipped_open = (
        open_skipped_count(user=user, dataset=dataset, now=now) if figures["skipped"] else 0
    )
    return AnnotatorProgress(
        done=figures["done"],
        held=figures["held"],
        available=available_count(user=user, dataset=dataset, now=now),
        today=figures["today"],
        skipped_open=skipped_open,
    )


def _progress_figures(
    *, user_id: int, now: datetime, midnight: datetime, dataset_id: int | None = None
) -> QuerySet[Any]:
    """One row: the user's answered, answered today, held and skipped annotate leases."""
    mine = Assignment.objects.filter(annotator_id=user_id, kind=Assignment.Kind.ANNOTATE)
    if dataset_id is not None:
        mine = mine.filter(sample__dataset_id=dataset_id)
    submitted = Q(status=Assignment.Status.SUBMITTED)
    # Binary votes close a lease without finished_at: their lease time stands in for it.
    answered_today = Q(finished_at__gte=midnight) | Q(finished_at=None, leased_at__gte=midnight)
    return (
        mine.order_by()
        .values("annotator_id")
        .annotate(
            done=Count("id", filter=submitted),
            today=Count("id", filter=submitted & answered_today),
            held=Count("id", filter=live_lease_q(now=now)),
            skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
        )
        .values_list("done", "today", "held", "skipped")
    )


def _progress_counts(*, user_id: int, now: datetime, midnight: datetime) -> tuple[int, ...]:
    """_progress_figures for all datasets, each figure a range of assignment_progress: today's
    answers and the leases held or skipped are read alone, and the answers done counted from
    the index (one GROUP BY over every lease of theirs read each row: 5.9 ms on SQLite with
    6,000 of them)."""
    moment, since = (connection.ops.adapt_datetimefield_value(t) for t in (now, midnight))
    with connection.cursor() as cursor:
        cursor.execute(
            _PROGRESS_SQL, [user_id, user_id, since, user_id, since, user_id, moment, user_id]
        )
        done, today_closed, today_open, held, skipped = cursor.fetchone()
    return int(done), int(today_closed) + int(today_open), int(held), int(skipped)


def _mine(status: Assignment.Status) -> str:
    return (
        f"SELECT COUNT(*) FROM {_LEASES} WHERE annotator_id = %s "
        f"AND kind = {_ANNOTATE} AND status = {text_literal(status.value)}"
    )


_SUBMITTED = _mine(Assignment.Status.SUBMITTED)
# Binary votes close a lease without finished_at: their lease time stands in for it.
_PROGRESS_SQL = f"""
    SELECT ({_SUBMITTED}),
        ({_SUBMITTED} AND finished_at >= %s),
        ({_SUBMITTED} AND finished_at IS NULL AND leased_at >= %s),
        ({_mine(Assignment.Status.ACTIVE)} AND expires_at > %s),
        ({_mine(Assignment.Status.SKIPPED)})
"""


def open_skipped_count(*, user: Any, dataset: Dataset | None = None, now: datetime) -> int:
    """Samples the user skipped that still wait for people and have room for them."""
    skipped = skipped_with_room(user=user, now=now)
    if dataset is not None:
        skipped = skipped.filter(dataset=dataset)
    return skipped.order_by().count()


def own_work(*, user: Any) -> QuerySet[Assignment]:
    """The user's running and answered leases, in the order they got them (what J/K walk)."""
    return Assignment.objects.filter(
        annotator=user, kind=Assignment.Kind.ANNOTATE, status__in=WORK_STATUSES
    ).order_by("leased_at", "id")


@dataclass(frozen=True)
class WorkPlace:
    """Where a sample sits in the person's work: "7 of 40", and the samples either side."""

    position: int  # 1-based; 0 when the sample is not in their work (e.g. skipped)
    previous_sample_id: int | None
    next_sample_id: int | None


def work_place(*, user: Any, sample_id: int) -> WorkPlace:
    """The sample's place in `own_work` and its neighbours: one statement (two when the
    sample is not in their work)."""
    with connection.cursor() as cursor:
        cursor.execute(_PLACE_SQL, [user.pk, sample_id])
        rows = cursor.fetchall()
    if not rows:
        # Not theirs (skipped, or viewed by id): K goes back to the end of their work.
        work = own_work(user=user).order_by("-leased_at", "-id")
        last = work.values_list("sample_id", flat=True).first()
        return WorkPlace(position=0, previous_sample_id=last, next_sample_id=None)
    before, previous, following = rows[0]
    return WorkPlace(
        position=int(before) + 1, previous_sample_id=previous, next_sample_id=following
    )


# The lease of the sample in the person's work, how many come before it and the samples just
# before and after, in the order of assignment_work_order (leased_at, ties broken by id). Row
# values, (leased_at, id) < (..., ...), are a range of that index: the neighbours are one probe
# each and the place is counted from the index (an OR of the two comparisons was a filter:
# every lease of theirs read, then sorted, three times: 9 ms with 6,380 of them).
_STATUSES = ", ".join(text_literal(status.value) for status in WORK_STATUSES)
_MINE = f"b.annotator_id = w.annotator_id AND b.kind = w.kind AND b.status IN ({_STATUSES})"
_PLACE_SQL = f"""
    SELECT
        (SELECT COUNT(*) FROM {_LEASES} AS b
            WHERE {_MINE} AND (b.leased_at, b.id) < (w.leased_at, w.id)),
        (SELECT b.sample_id FROM {_LEASES} AS b
            WHERE {_MINE} AND (b.leased_at, b.id) < (w.leased_at, w.id)
            ORDER BY b.leased_at DESC, b.id DESC LIMIT 1),
        (SELECT b.sample_id FROM {_LEASES} AS b
            WHERE {_MINE} AND (b.leased_at, b.id) > (w.leased_at, w.id)
            ORDER BY b.leased_at, b.id LIMIT 1)
    FROM {_LEASES} AS w
    WHERE w.annotator_id = %s AND w.kind = {_ANNOTATE}
        AND w.status IN ({_STATUSES}) AND w.sample_id = %s
"""


WORK_FILTERS = {
    "held": [Assignment.Status.ACTIVE],
    "answered": [Assignment.Status.SUBMITTED],
    "skipped": [Assignment.Status.SKIPPED],
}


def work_counts(*, user: Any) -> dict[str, int]:
    """Rows behind each filter of the "Your work" page ("" = in hand and answered): one
    prepared statement."""
    rows = fetch(key="work_counts", build=_statuses_counted, values={"user_id": user.pk})
    by_status = {status: n for status, n in rows}
    counts = {
        name: sum(by_status.get(s, 0) for s in statuses) for name, statuses in WORK_FILTERS.items()
    }
    counts[""] = sum(by_status.get(s, 0) for s in ALL_WORK_STATUSES)
    return counts


def _statuses_counted(*, user_id: int) -> QuerySet[Any]:
    mine = Assignment.objects.filter(annotator_id=user_id, kind=Assignment.Kind.ANNOTATE)
    return mine.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")


# "All" is everything handed to them: a skipped sample is theirs to take back, not gone.
ALL_WORK_STATUSES = (*WORK_STATUSES, Assignment.Status.SKIPPED)


def _has_skipped(*, user: Any) -> bool:
    return bool(fetch(key="has_skipped", build=_skipped_ids, values={"user_id": user.pk}))


def _skipped_ids(*, user_id: int) -> QuerySet[Any]:
    return Assignment.objects.filter(
        annotator_id=user_id, kind=Assignment.Kind.ANNOTATE, status=Assignment.Status.SKIPPED
    ).values_list("pk")[:1]


def user_work(
    *, user: Any, show: str = "", has_skipped: bool | None = None
) -> QuerySet[Assignment]:
    """The rows of the annotator's "Your work" page, newest first, narrowed by `show`:
    "held" (in hand), "answered", "skipped", or everything handed to them (""). `has_skipped`:
    whether they skipped any sample, when the caller knows (work_counts)."""
    statuses = WORK_FILTERS.get(show, list(ALL_WORK_STATUSES))
    qs = Assignment.objects.filter(
        annotator=user, kind=Assignment.Kind.ANNOTATE, status__in=statuses
    )
    skipped = Q(status=Assignment.Status.SKIPPED)
    if has_skipped is None:
        has_skipped = _has_skipped(user=user)
    # Building the room check is ~10 ms of ORM work: only for people with a skip to show.
    if Assignment.Status.SKIPPED in statuses and has_skipped:
        now = timezone.now()
        takeable = skipped_with_room(user=user, now=now).filter(pk=OuterRef("sample_id"))
        # Only a skipped row asks: CASE keeps the subquery off the answered and held rows.
        qs = qs.annotate(
            can_take_back=Case(When(skipped, then=Exists(takeable)), default=Value(False))
        )
    return qs.select_related("sample__dataset").defer("sample__des").order_by("-leased_at", "-id")

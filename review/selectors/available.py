"""How many samples "Next" could still hand a person, counted without weighing every open one.

`annotation_candidates` weighs each open sample's load (answers, votes, live leases) by
correlated counts: 0.8 s over EmoVerse's 219K. Here the disputed samples come from QueueCount,
less those the person cannot take: one GROUP BY over people's rows (every answer, every vote,
the live leases and the person's own closed ones), each sample's load summed once, then its
sample read by primary key for status, gold and k (a scalar subquery: PostgreSQL does not turn
it into a join, which it planned as a scan of every disputed sample). Weighing each touched sample by correlated counts instead
cost PostgreSQL ~8 µs a sample (6.6 ms with 827 touched, on every sample page).

Binary-protocol datasets ask one voter at a time and watch conflicts and the person's own votes:
their touched samples are still weighed by the candidates query (only when such a dataset is in
scope). Human-check and gold samples that are not disputed are counted by the candidates query
too, only where QueueCount says some exist.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from annotator.models import Dataset, Sample
from review.models import Annotation, Assignment, BinaryVote
from review.selectors.assignment import (
    DatasetSettings,
    annotation_candidates,
    dataset_settings,
    people_sample_ids,
)
from review.selectors.prepared import among_sql, fetch
from review.selectors.queue_counts import QueueFigures, queue_figures

_BLOCKED_SQL: dict[tuple[str, bool, tuple[int, ...]], str] = {}


def available_count(
    *, user: Any, dataset: Dataset | None, now: datetime, figures: QueueFigures | None = None
) -> int:
    """annotation_candidates(user, dataset, now).count(), in a fixed number of statements
    whose cost follows people's work (a hash of their rows), not the dataset."""
    figures = figures or queue_figures()
    dataset_id = None if dataset is None else dataset.pk
    settings = dataset_settings()
    binary_ids = tuple(pk for pk, protocol, _ in settings if protocol)
    available = figures.total(dataset_id=dataset_id, status=Sample.Status.DISPUTED)
    available -= _blocked_count(
        user_id=user.pk, now=now, dataset_id=dataset_id, binary_ids=binary_ids
    )
    if binary_ids and (dataset_id is None or dataset_id in binary_ids):
        available -= _binary_without_room(
            user_id=user.pk, now=now, dataset_id=dataset_id, settings=settings
        )
    if figures.has_extras(dataset_ids=None if dataset_id is None else [dataset_id]):
        candidates = annotation_candidates(user=user, dataset=dataset, now=now).order_by()
        available += candidates.exclude(status=Sample.Status.DISPUTED).count()
    return available


def _blocked_count(
    *, user_id: int, now: datetime, dataset_id: int | None, binary_ids: tuple[int, ...]
) -> int:
    """Disputed samples outside binary datasets that `user_id` cannot take: answered, skipped
    or held by them, or (not gold) with answers + votes + live leases at the dataset's k."""
    key = (connection.vendor, dataset_id is not None, binary_ids)
    sql = _BLOCKED_SQL.get(key)
    if sql is None:
        sql = _BLOCKED_SQL[key] = _blocked_sql(by_dataset=key[1], binary_ids=binary_ids)
    annotate, active = Assignment.Kind.ANNOTATE.value, Assignment.Status.ACTIVE.value
    closed = (Assignment.Status.SUBMITTED.value, Assignment.Status.SKIPPED.value)
    moment = connection.ops.adapt_datetimefield_value(now)
    params: list[Any] = [user_id, user_id, annotate, active, moment, user_id, annotate, *closed]
    params.append(Sample.Status.DISPUTED.value)
    if dataset_id is not None:
        params.append(dataset_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (blocked,) = cursor.fetchone()
    return int(blocked)


def _blocked_sql(*, by_dataset: bool, binary_ids: tuple[int, ...]) -> str:
    answers, votes = Annotation._meta.db_table, BinaryVote._meta.db_table
    leases = Assignment._meta.db_table
    samples, datasets = Sample._meta.db_table, Dataset._meta.db_table
    scope = " AND s.dataset_id = %s" if by_dataset else ""
    if binary_ids:  # ints from the database, part of the statement's key
        scope += f" AND s.dataset_id NOT IN ({', '.join(str(int(i)) for i in binary_ids)})"
    mine = "CASE WHEN annotator_id = %s THEN 1 ELSE 0 END"
    return f"""
        SELECT COUNT(*) FROM (
            SELECT sample_id, SUM(n) AS load, MAX(mine) AS mine FROM (
                SELECT sample_id, 1 AS n, {mine} AS mine FROM {answers}
                UNION ALL SELECT sample_id, 1, 0 FROM {votes}
                UNION ALL SELECT sample_id, 1, {mine} FROM {leases}
                    WHERE kind = %s AND status = %s AND expires_at > %s
                UNION ALL SELECT sample_id, 0, 1 FROM {leases}
                    WHERE annotator_id = %s AND kind = %s AND status IN (%s, %s)
            ) AS people GROUP BY sample_id
        ) AS g
        WHERE (
            SELECT 1 FROM {samples} AS s JOIN {datasets} AS d ON d.id = s.dataset_id
            WHERE s.id = g.sample_id AND s.status = %s{scope}
                AND (g.mine = 1 OR (s.gold_emotion = '' AND g.load >= d.overlap_k))
        ) = 1
    """


def _binary_without_room(
    *, user_id: int, now: datetime, dataset_id: int | None, settings: DatasetSettings
) -> int:
    """Touched disputed samples of binary datasets (the one given, or all) that the
    candidates query would not hand `user_id`: each weighed by that query."""
    values: dict[str, Any] = {"user_id": user_id, "now": now}
    if dataset_id is not None:
        values["dataset_id"] = dataset_id
    ((touched, weighed),) = fetch(
        key=f"binary_touched_with_room:{dataset_id is None}:{settings}",
        build=partial(_binary_touched_with_room, settings=settings),
        values=values,
        around=(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN n.room THEN 1 ELSE 0 END), 0) FROM (",
            ") AS n",
        ),
    )
    return int(touched) - int(weighed)


def touched_binary_disputed(
    *, user_id: int, now: datetime, binary_ids: list[int], dataset_id: int | None = None
) -> QuerySet[Any]:
    """Ids of disputed samples of binary datasets that someone answered, voted on or holds, or
    that were ever handed to `user_id`: the ids worked out first, then those rows read."""
    table = Sample._meta.db_table
    ids = people_sample_ids(user=user_id, now=now)
    among, params = among_sql(column=f'"{table}"."id"', ids=ids)
    qs = Sample.objects.filter(status=Sample.Status.DISPUTED, dataset_id__in=binary_ids)
    if dataset_id is not None:
        qs = qs.filter(dataset_id=dataset_id)
    # `among` is the compiled SQL of our own query, its values passed as parameters.
    return qs.order_by().extra(where=[among], params=params).values_list("id")


def _binary_touched_with_room(
    *, user_id: int, now: datetime, settings: DatasetSettings, dataset_id: int | None = None
) -> QuerySet[Any]:
    dataset = None if dataset_id is None else Dataset(pk=dataset_id)
    candidates = annotation_candidates(
        user=user_id, dataset=dataset, now=now, settings=settings
    ).order_by()
    binary_ids = [pk for pk, protocol, _ in settings if protocol]
    touched = touched_binary_disputed(
        user_id=user_id, now=now, binary_ids=binary_ids, dataset_id=dataset_id
    )
    room = Exists(candidates.filter(pk=OuterRef("pk")))
    return touched.annotate(room=room).values_list("room")

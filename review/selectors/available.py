"""How many samples "Next" could still hand a person, counted without weighing every open one.

`annotation_candidates` weighs each open sample's load (answers, votes, live leases) by
correlated counts: 0.8 s over EmoVerse's 219K. Here, in one statement: the disputed samples
from QueueCount, less those the person cannot take. Only a sample someone answered, voted on or
was handed can be one of those, and SampleLoad (kept by triggers) has a row for each, with its
answers + votes and whether it is disputed now: its disputed rows (the work in flight, not the
team's whole work) are each looked at once, with the live leases and the person's own rows.
Grouping every answer, vote and lease ever made instead cost ~1.2-1.9 ms of PostgreSQL CPU on
every sample page with 2,000 of them, and grew with every answer (EmoVerse ends with ~130K).

Binary-protocol datasets ask one voter at a time and watch conflicts and the person's own votes:
their touched samples are still weighed by the candidates query (only when such a dataset is in
scope). Human-check and gold samples that are not disputed are counted by the candidates query
too, only where QueueCount says some exist.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from annotator.models import Dataset, Sample
from review.models import Annotation, Assignment, QueueCount, SampleLoad
from review.selectors.assignment import (
    DatasetSettings,
    annotation_candidates,
    dataset_settings,
    people_sample_ids,
)
from review.selectors.prepared import among_sql, fetch, text_literal
from review.selectors.queue_counts import queue_figures
from review.services import queue_counts as upkeep

_SQL: dict[tuple[str, bool, tuple[int, ...]], tuple[str, list[str]]] = {}


class Figures(NamedTuple):
    disputed: int  # disputed samples in scope (QueueCount)
    blocked: int  # of those, outside binary datasets, the ones the person cannot take
    extras: bool  # QueueCount holds human-check or gold samples open besides the disputed
    count_rows: int  # QueueCount's rows (PostgreSQL's deltas: folded when they pile up)


def available_count(*, user: Any, dataset: Dataset | None, now: datetime) -> int:
    """annotation_candidates(user, dataset, now).count(), in a fixed number of statements
    whose cost follows the work in flight (SampleLoad's disputed rows), not the dataset."""
    dataset_id = None if dataset is None else dataset.pk
    settings = dataset_settings()
    binary_ids = tuple(pk for pk, protocol, _ in settings if protocol)
    figures = available_figures(
        user_id=user.pk, now=now, dataset_id=dataset_id, binary_ids=binary_ids
    )
    if connection.vendor == "postgresql" and figures.count_rows > 2 * upkeep.COMPACT_SLACK:
        queue_figures()  # folds the deltas when they outnumber the buckets (the queue page's)
    available = figures.disputed - figures.blocked
    if binary_ids and (dataset_id is None or dataset_id in binary_ids):
        available -= _binary_without_room(
            user_id=user.pk, now=now, dataset_id=dataset_id, settings=settings
        )
    if figures.extras:
        candidates = annotation_candidates(user=user, dataset=dataset, now=now).order_by()
        available += candidates.exclude(status=Sample.Status.DISPUTED).count()
    return available


def available_figures(
    *, user_id: int, now: datetime, dataset_id: int | None, binary_ids: tuple[int, ...]
) -> Figures:
    """The disputed total, the blocked ones (answered, skipped or held by `user_id`, or not
    gold with answers + votes + live leases at the dataset's k), whether other samples are
    open, and QueueCount's size: one statement, its SQL built once a process."""
    key = (connection.vendor, dataset_id is not None, binary_ids)
    if key not in _SQL:
        _SQL[key] = _figures_sql(by_dataset=key[1], binary_ids=binary_ids)
    sql, names = _SQL[key]
    values: dict[str, Any] = {
        "user": user_id,
        "dataset": dataset_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[name] for name in names])
        disputed, blocked, extras, rows = cursor.fetchone()
    return Figures(int(disputed or 0), int(blocked), bool(extras), int(rows))


def _figures_sql(*, by_dataset: bool, binary_ids: tuple[int, ...]) -> tuple[str, list[str]]:
    """The SQL with %s where values go, and the names of those values in order."""
    answers, leases = Annotation._meta.db_table, Assignment._meta.db_table
    counts, loads = QueueCount._meta.db_table, SampleLoad._meta.db_table
    datasets = Dataset._meta.db_table
    in_scope = " AND dataset_id = {dataset}" if by_dataset else ""
    scope = " AND l.dataset_id = {dataset}" if by_dataset else ""
    if binary_ids:  # ints from the database, part of the statement's key
        scope += f" AND l.dataset_id NOT IN ({', '.join(str(int(i)) for i in binary_ids)})"
    live = "status = {active} AND expires_at > {now}"
    template = f"""
        SELECT
            (SELECT SUM(n) FROM {counts} WHERE status = {{disputed}}{in_scope}),
            (SELECT COUNT(*) FROM {loads} AS l
                JOIN {datasets} AS d ON d.id = l.dataset_id
                LEFT JOIN (
                    SELECT sample_id, COUNT(*) AS n FROM {leases}
                    WHERE kind = {{annotate}} AND {live} GROUP BY sample_id
                ) AS v ON v.sample_id = l.sample_id
                WHERE l.disputed{scope} AND (
                    (NOT l.gold AND l.n + COALESCE(v.n, 0) >= d.overlap_k)
                    -- Scalar subqueries, not EXISTS: one probe of a unique index per row.
                    -- PostgreSQL hashed an EXISTS over all of the person's answers and
                    -- leases instead (6,380 of them: 5.5 ms), expecting many more rows here.
                    OR (SELECT 1 FROM {answers} AS a
                        WHERE a.sample_id = l.sample_id AND a.annotator_id = {{user}}) = 1
                    OR (SELECT 1 FROM {leases} AS m
                        WHERE m.sample_id = l.sample_id AND m.annotator_id = {{user}}
                            AND m.kind = {{annotate}} AND (m.status IN ({{submitted}}, {{skipped}})
                                OR (m.{live.replace(" AND ", " AND m.")}))) = 1)),
            (SELECT COUNT(*) FROM (
                SELECT 1 FROM {counts}
                WHERE ((human_check AND status = {{agreed}})
                    OR (gold AND status <> {{dropped}})){in_scope}
                GROUP BY dataset_id, status, source, suggested_emotion, human_check, gold
                HAVING SUM(n) > 0
            ) AS e),
            (SELECT COUNT(*) FROM {counts})
    """
    # Constants written in as literals: PostgreSQL's generic plan (after five runs of a
    # prepared statement) is planned without its parameters' values.
    for name, value in CONSTANTS.items():
        template = template.replace("{" + name + "}", text_literal(value))
    names = re.findall(r"\{(\w+)\}", template)
    return re.sub(r"\{\w+\}", "%s", template), names


CONSTANTS = {
    "annotate": Assignment.Kind.ANNOTATE.value,
    "active": Assignment.Status.ACTIVE.value,
    "submitted": Assignment.Status.SUBMITTED.value,
    "skipped": Assignment.Status.SKIPPED.value,
    "disputed": Sample.Status.DISPUTED.value,
    "agreed": Sample.Status.AGREED.value,
    "dropped": Sample.Status.DROPPED.value,
}


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

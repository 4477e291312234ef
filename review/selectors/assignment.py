"""Reads behind leases: which samples need people and who holds what (who may do what on a
sample: review.policy).

"Open" samples need people: disputed ones, and agreed ones picked for a human check. Gold
samples (a known answer) are answered once by every annotator, never capped by k, and never
decided from those answers: they only measure people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest

from annotator.models import Dataset, Sample
from review.models import Annotation, Assignment, AuditEvent, BinaryVote, SampleLoad
from review.selectors.prepared import fetch, instances
from review.selectors.review_order import VALUE, order_value, ordering

CONFLICT_ACTION = "conflict"  # review.services.history.CONFLICT


def open_q() -> Q:
    """Samples that wait for people (before they get a final label)."""
    return Q(status=Sample.Status.DISPUTED) | Q(status=Sample.Status.AGREED, human_check=True)


def gold_q() -> Q:
    return Q(gold_emotion__gt="") & ~Q(status=Sample.Status.DROPPED)


def live_lease_q(*, now: datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": Assignment.Status.ACTIVE, f"{prefix}expires_at__gt": now})


def _count(qs: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of `qs` (already filtered on sample=OuterRef("pk"))."""
    counted = qs.order_by().values("sample").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def answers_count() -> Coalesce:
    return _count(Annotation.objects.filter(sample=OuterRef("pk")))


def live_leases_count(*, kind: str, now: datetime, exclude_user: Any = None) -> Coalesce:
    qs = Assignment.objects.filter(live_lease_q(now=now), sample=OuterRef("pk"), kind=kind)
    if exclude_user is not None:
        qs = qs.exclude(annotator=exclude_user)
    return _count(qs)


def binary_dataset_ids() -> list[int]:
    """Datasets that run the binary agreement protocol (a non-empty binary_protocol)."""
    return [pk for pk, protocol, _ in dataset_settings() if protocol]


DatasetSettings = list[tuple[int, dict[str, Any], str]]


def dataset_settings() -> DatasetSettings:
    """(id, binary_protocol, review_order) of every dataset running the binary protocol or
    ordering its review by a posterior value: one small query."""
    datasets = instances(key="dataset_settings", build=_settings_columns)
    return [
        (d.pk, d.binary_protocol, d.review_order)
        for d in datasets
        if d.binary_protocol or d.review_order != "id"
    ]


def _settings_columns() -> QuerySet[Dataset]:
    return Dataset.objects.order_by().only("pk", "binary_protocol", "review_order")


def _taken_by_user(*, user: Any, kind: str, now: datetime) -> Exists:
    """The user already holds, answered or skipped this sample (an expired lease is free)."""
    return Exists(_user_leases_taken(user=user, kind=kind, now=now))


def _user_leases_taken(*, user: Any, kind: str, now: datetime) -> QuerySet[Assignment]:
    mine = Assignment.objects.filter(sample=OuterRef("pk"), annotator=user, kind=kind)
    return mine.filter(
        Q(status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED])
        | live_lease_q(now=now)
    )


def annotation_candidates(
    *,
    user: Any,
    dataset: Dataset | None,
    now: datetime,
    untouched_only: bool = False,
    settings: DatasetSettings | None = None,
    extras: bool = True,
) -> QuerySet[Sample]:
    """Samples `user` could lease to answer, fairest first: fewest answers and leases, then
    oldest, or, in a dataset with a review order, the highest posterior value (then oldest).

    Ordering by load computes it for every open sample. `untouched_only` (no answer, vote or
    lease yet) is the cheap first try: in id order the database stops after a batch.

    The k cap is part of the filter but must be checked again under the row lock (the counts
    here may be stale by the time the lock is taken). `settings`: dataset_settings(), when the
    caller has read them. `extras=False`: the caller knows no sample but the disputed ones is
    open (queue_counts.open_extras_exist), so the query reads the queue's index by status
    instead of every row of the dataset.
    """
    qs = Sample.objects.defer("des")
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    qs = qs.filter((open_q() | gold_q()) if extras else _disputed_q(walk=untouched_only))
    settings = dataset_settings() if settings is None else settings
    binary_ids = [pk for pk, protocol, _ in settings if protocol]
    with_room: QuerySet[Any]
    if untouched_only:
        with_room = _untouched(qs, user=user, now=now, extras=extras, binary_ids=binary_ids)
    else:
        qs = qs.exclude(_taken_by_user(user=user, kind=Assignment.Kind.ANNOTATE, now=now))
        with_room = _with_room_for(qs, user=user, now=now, binary_ids=binary_ids)
    # Oldest = lowest id (ids follow insertion order, and the queue's indexes end in id).
    keys: list[Any] = ["id"]
    orders = (
        {pk: order for pk, _, order in settings}
        if dataset is None
        else {dataset.pk: dataset.review_order}
    )
    # Without a dataset, datasets left out of `orders` (ordered by id) are in scope too.
    value = order_value(modes=orders, complete=dataset is not None)
    if value is not None:
        with_room = with_room.alias(**{VALUE: value})
        keys = ordering()
    if untouched_only and not extras and keys == ["id"]:
        keys = ["status", "id"]  # the order of the queue's indexes: see _disputed_q
    # Untouched samples all weigh 0: no load to sort by first.
    return with_room.order_by(*([] if untouched_only else ["load"]), *keys)


def _disputed_q(*, walk: bool) -> Q:
    """Disputed samples. `walk`: written as a range and ordered by (status, id), which only
    the queue's indexes (sample_queue, sample_status) give without a sort. Told "status =
    'disputed' ORDER BY id", PostgreSQL walked the primary key through every status from the
    first sample, expecting untouched ones early: they come after all the work done."""
    disputed = Sample.Status.DISPUTED
    return Q(status__range=(disputed, disputed)) if walk else Q(status=disputed)


def _untouched(
    qs: QuerySet[Sample], *, user: Any, now: datetime, extras: bool, binary_ids: list[int]
) -> QuerySet[Any]:
    """`qs` without the samples some answer, vote or lease names, or that the user answered
    or skipped: what is left has load 0, so the correlated counts (six index reads a
    candidate) need not be looked at."""
    if extras:
        untouched = qs.exclude(pk__in=_taken_up_ids(user=user, now=now))
    else:
        # The person's own lease looked up per candidate (a scalar subquery: one probe of
        # the unique index). As NOT EXISTS, PostgreSQL anti-joined a list of all their leases
        # against each candidate: 6,380 of them, 25 times, 17 ms. Written as "> 0", not
        # "IS NULL": without statistics the planner guesses IS NULL keeps 0.5% of the rows,
        # and sorted every disputed sample instead of walking the index (30 ms at 10K).
        mine = _user_leases_taken(user=user, kind=Assignment.Kind.ANNOTATE, now=now)
        untouched = (
            qs.exclude(pk__in=_disputed_taken_up_ids(now=now))
            .alias(
                free=Coalesce(Subquery(mine.annotate(taken=Value(0)).values("taken")[:1]), Value(1))
            )
            .filter(free__gt=0)
        )
    return _untouched_with_room(untouched, binary_ids=binary_ids)


def _untouched_with_room(qs: QuerySet[Sample], *, binary_ids: list[int]) -> QuerySet[Any]:
    """_with_room_for's rules for samples with load 0: room under any k of 1 or more; on a
    binary-protocol dataset an open sample without a conflict."""
    labels = ~Q(dataset_id__in=binary_ids) & (Q(gold_emotion__gt="") | Q(dataset__overlap_k__gt=0))
    binary = (
        Q(dataset_id__in=binary_ids)
        & open_q()
        & ~Exists(AuditEvent.objects.filter(sample=OuterRef("pk"), action=CONFLICT_ACTION))
    )
    return qs.filter(labels | binary)


def _taken_up_ids(*, user: Any, now: datetime) -> QuerySet[Any]:
    """Ids of samples with an answer, a vote or a live annotate lease, or that `user` answered
    or skipped: none of them has load 0 for `user` (a superset of what the counts rule out,
    never more)."""
    closed = [Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED]
    return people_sample_ids(user=user, now=now, user_statuses=closed)


def _disputed_taken_up_ids(*, now: datetime) -> QuerySet[Any]:
    """Ids of disputed samples with an answer or a vote (SampleLoad's disputed rows: the work
    in flight, where grouping every answer ever made grew with the team's whole work) or a
    live annotate lease. What the user answered, skipped or holds is ruled out row by row."""
    live = Assignment.objects.filter(live_lease_q(now=now), kind=Assignment.Kind.ANNOTATE)
    loaded = SampleLoad.objects.filter(disputed=True, n__gt=0).order_by()
    return loaded.values("sample_id").union(live.order_by().values("sample_id"))


def people_sample_ids(
    *, user: Any, now: datetime, user_statuses: Sequence[str] | None = None
) -> QuerySet[Any]:
    """Ids of samples someone answered, voted on or holds a live annotate lease on, and those
    handed to `user` (with one of `user_statuses`; any status when None): one UNION, as large
    as people's work, which the database starts from instead of every open sample."""
    annotate = Assignment.Kind.ANNOTATE
    live = Assignment.objects.filter(live_lease_q(now=now), kind=annotate)
    mine = Assignment.objects.filter(annotator=user, kind=annotate)
    if user_statuses is not None:
        mine = mine.filter(status__in=user_statuses)
    return (
        Annotation.objects.order_by()
        .values("sample_id")
        .union(
            BinaryVote.objects.order_by().values("sample_id"),
            live.order_by().values("sample_id"),
            mine.order_by().values("sample_id"),
        )
    )


def skipped_with_room(*, user: Any, now: datetime) -> QuerySet[Sample]:
    """Samples `user` skipped that they could take back now: still open, still room for them."""
    skipped = Assignment.objects.filter(
        annotator=user, kind=Assignment.Kind.ANNOTATE, status=Assignment.Status.SKIPPED
    )
    # Driven by the person's few skips (an IN list), not by a scan of every sample.
    qs = Sample.objects.defer("des").filter(pk__in=skipped.values("sample_id"))
    qs = qs.filter(open_q() | gold_q())
    return _with_room_for(qs, user=user, now=now, binary_ids=binary_dataset_ids())


def _with_room_for(
    qs: QuerySet[Sample], *, user: Any, now: datetime, binary_ids: list[int]
) -> QuerySet[Any]:
    """`qs` narrowed to samples not answered by `user` that still take one more person (the k
    cap, gold, or the binary protocol's one voter at a time), annotated with their `load`
    (typed Any: the type checker cannot see annotations made here from the caller)."""
    qs = qs.exclude(Exists(Annotation.objects.filter(sample=OuterRef("pk"), annotator=user)))
    votes = _count(BinaryVote.objects.filter(sample=OuterRef("pk")))
    qs = qs.annotate(
        answers=answers_count(),
        votes=votes,
        leases=live_leases_count(kind=Assignment.Kind.ANNOTATE, now=now),
    ).annotate(load=F("answers") + F("votes") + F("leases"))
    labels = ~Q(dataset_id__in=binary_ids) & (
        Q(gold_emotion__gt="") | Q(load__lt=F("dataset__overlap_k"))
    )
    binary = (
        Q(dataset_id__in=binary_ids)
        & open_q()
        & Q(leases=0)  # one voter at a time: who is asked next depends on the votes so far
        & ~Exists(AuditEvent.objects.filter(sample=OuterRef("pk"), action=CONFLICT_ACTION))
        & ~Exists(BinaryVote.objects.filter(sample=OuterRef("pk"), annotator=user))
    )
    return qs.filter(labels | binary)


def answered_or_conflicting_ids() -> QuerySet[Any]:
    """Ids of open samples, not gold, with at least k answers or a conflict event: a superset
    of the samples waiting for an adjudicator (needs_adjudication), read from SampleLoad's
    open rows (the work in flight). Grouping every answer ever made instead cost 233 ms on
    PostgreSQL with 100K of them, on every queue page."""
    k = Dataset.objects.filter(pk=OuterRef("dataset_id")).values("overlap_k")[:1]
    conflict = AuditEvent.objects.filter(sample_id=OuterRef("sample_id"), action=CONFLICT_ACTION)
    return (
        SampleLoad.objects.filter(open=True, gold=False)
        .annotate(k=Subquery(k))
        .filter(Q(answers__gte=Greatest(F("k"), Value(1))) | Exists(conflict))
        .order_by()
        .values("sample_id")
    )


def needs_adjudication(*, dataset: Dataset | None = None) -> QuerySet[Sample]:
    """Open samples whose answers are in but did not agree (or whose consensus was undone).

    Driven by the answers and conflict events, which few samples have (one IN over a UNION:
    with two ORed INs SQLite walked every open sample of the dataset, 157 ms at 219K).
    """
    qs = Sample.objects.defer("des").filter(pk__in=answered_or_conflicting_ids())
    qs = qs.filter(open_q()).exclude(gold_q())
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.order_by("id")


def adjudication_candidates(
    *, user: Any, dataset: Dataset | None, now: datetime
) -> QuerySet[Sample]:
    """Conflicts nobody else is resolving now, oldest first."""
    return (
        needs_adjudication(dataset=dataset)
        .exclude(_taken_by_user(user=user, kind=Assignment.Kind.ADJUDICATE, now=now))
        .annotate(
            leases=live_leases_count(kind=Assignment.Kind.ADJUDICATE, now=now, exclude_user=user)
        )
        .filter(leases=0)
    )


def sample_needs_adjudication(*, sample: Sample) -> bool:
    return needs_adjudication().filter(pk=sample.pk).exists()


def active_lease(
    *, user: Any, kind: str, dataset: Dataset | None, now: datetime
) -> Assignment | None:
    """The user's lease of this kind that is still running (the page "Next" reopens). Whether
    there is one is a prepared statement (usually there is none: "Next" hands a new one);
    only a running lease is read as a model, with its sample."""
    values: dict[str, Any] = {"user_id": user.pk, "kind": kind, "now": now}
    if dataset is not None:
        values["dataset_id"] = dataset.pk
    found = fetch(key=f"active_lease:{dataset is None}", build=_active_lease_ids, values=values)
    if not found:
        return None
    return Assignment.objects.select_related("sample").defer("sample__des").get(pk=found[0][0])


def _active_lease_ids(
    *, user_id: int, kind: str, now: datetime, dataset_id: int | None = None
) -> QuerySet[Any]:
    qs = Assignment.objects.filter(live_lease_q(now=now), annotator_id=user_id, kind=kind)
    if dataset_id is not None:
        qs = qs.filter(sample__dataset_id=dataset_id)
    return qs.order_by("leased_at", "id").values_list("id")[:1]


def sample_load(*, sample: Sample, now: datetime) -> tuple[int, int]:
    """(answers, live annotate leases) on the sample, counted fresh: one prepared statement."""
    values = {"sample_id": sample.pk, "now": now}
    ((answers, leases),) = fetch(key="sample_load", build=_load, values=values)
    return int(answers), int(leases)


def _load(*, sample_id: int, now: datetime) -> QuerySet[Any]:
    leases = live_leases_count(kind=Assignment.Kind.ANNOTATE, now=now)
    counted = Sample.objects.filter(pk=sample_id).annotate(answers=answers_count(), leases=leases)
    return counted.order_by().values_list("answers", "leases")


def user_assignments(*, user: Any) -> QuerySet[Assignment]:
    """What was handed to the user to answer (running and submitted leases), newest first."""
    return (
        Assignment.objects.filter(
            annotator=user,
            kind=Assignment.Kind.ANNOTATE,
            status__in=[Assignment.Status.ACTIVE, Assignment.Status.SUBMITTED],
        )
        .select_related("sample__dataset")
        .defer("sample__des")
        .order_by("-leased_at", "-id")
    )


def annotate_lease(*, sample: Sample, user: Any) -> Assignment | None:
    """The person's annotate lease on the sample, whatever its status (at most one: one lease
    per person, sample and kind): a prepared read, as every sample page and answer asks. It
    also says whether they answered or voted on the sample (lease_outcome)."""
    values = {"sample_id": sample.pk, "user_id": user.pk}
    found = instances(key="annotate_lease", build=_annotate_lease, values=values)
    return found[0] if found else None


def lease_outcome(lease: Assignment) -> tuple[bool, bool]:
    """(answered, voted) for a lease annotate_lease read: the person's answer and binary vote
    on its sample, read in the same row."""
    read: Any = lease  # the annotations are attributes the model does not declare
    return bool(read.own_answer_exists), bool(read.own_vote_exists)


def _annotate_lease(*, sample_id: int, user_id: int) -> QuerySet[Assignment]:
    theirs = {"sample_id": OuterRef("sample_id"), "annotator_id": OuterRef("annotator_id")}
    return (
        Assignment.objects.filter(
            sample_id=sample_id, annotator_id=user_id, kind=Assignment.Kind.ANNOTATE
        )
        .annotate(
            own_answer_exists=Exists(Annotation.objects.filter(**theirs)),
            own_vote_exists=Exists(BinaryVote.objects.filter(**theirs)),
        )
        .order_by("pk")[:1]
    )

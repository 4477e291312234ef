"""Every page people work through runs a fixed number of SQL statements, whatever the size of
the dataset: counted on a small dataset, then again after it grew tenfold."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.models import Proposal, Sample
from review.labels import Label
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.selectors.available import _figures_sql
from review.services.assignment import lease_next_sample
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

STATUSES = ["disputed", "agreed", "disputed", "adjudicated", "pending", "dropped"]
SOURCES = ["FI", "EmoSet", "ArtPhoto"]
EMOTIONS = ["awe", "fear", "sadness", "amusement"]
# The statements each page runs (session, and the user with their roles in one row, included).
EXPECTED = {
    "queue": 7,
    "queue_deep": 7,
    "queue_filtered": 7,
    "own_work": 7,  # 32dca4b: progress counts the skipped samples still open; 1 fewer: the
    # touched samples and those with room in one statement; 1 fewer: the disputed total,
    # the blocked samples and whether other samples are open in one (selectors.available);
    # 2 fewer: the paginator's total and "any skipped?" come from work_counts
    # The sample, its dataset, taxonomy, proposals and regions: five prepared statements
    # where the ORM's select_related and prefetches took three (and ~1.5 ms more CPU); the
    # lease's row says whether the person answered or voted (2 fewer).
    "sample": 16,
    # save and next locks two samples (the answered one, then the next one handed out); their
    # dataset and taxonomy are read once a request (review.request_memo: 6 fewer with the
    # answer's own transaction not nested in a savepoint on a dataset that is not blind); the
    # lease's row with the answer and vote checks (2 fewer), the answer's INSERT without a
    # savepoint (2 fewer), the new lease as one upsert (1 fewer).
    "save_and_next": 27,
}


def grow(dataset, count: int) -> None:
    start = Sample.objects.count()
    samples = Sample.objects.bulk_create(
        Sample(
            dataset=dataset, external_id=f"s{start + i}", image_path="a.jpg", width=64,
            height=48, source=SOURCES[i % 3], status=STATUSES[i % 6],
            suggested_emotion=EMOTIONS[i % 4],
        )
        for i in range(count)
    )  # fmt: skip
    Proposal.objects.bulk_create(
        Proposal(sample=s, model_name=m, emotion=EMOTIONS[(s.pk + j) % 4])
        for s in samples
        for j, m in enumerate(["gpt-4o", "gemini"])
    )


@pytest.fixture
def world(client, settings):
    # With a broker the sample page also picks samples to prefetch masks for (one or two
    # statements, whatever the dataset's size): left out so the counts are the same everywhere.
    settings.MASK_BACKGROUND_TASKS = False
    ds = DatasetFactory.create(overlap_k=2)
    grow(ds, 60)
    people = [member(ANNOTATOR) for _ in range(3)]
    for sample in Sample.objects.filter(status="disputed").order_by("-id")[:3]:
        for person, emotion in zip(people[:2], ["awe", "fear"], strict=True):
            lease(sample, person)  # two answers that disagree: waits for an adjudicator
            submit_answer(sample=sample, annotator=person, label=Label(emotion, 7.0))
    reviewer = member(AUDITOR, ADJUDICATOR)
    return {"dataset": ds, "annotator": people[2], "reviewer": reviewer}


def statements(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def pages(world, client) -> dict[str, int]:
    ds, person = world["dataset"], world["annotator"]
    queue = reverse("review:queue")
    base = {"dataset": ds.pk, "status": "disputed"}

    def get(params):
        return lambda: client.get(queue, params)

    client.force_login(world["reviewer"])
    first = client.get(queue, base).context["page"]
    found = {
        "queue": statements(get(base)),
        "queue_deep": statements(get({**base, "page": 2, "after": first.after})),
        "queue_filtered": statements(get({**base, "source": "FI", "suggested": "sadness"})),
    }
    client.force_login(person)
    held = lease_next_sample(user=person)
    assert held is not None
    found["own_work"] = statements(get({}))
    found["sample"] = statements(
        lambda: client.get(reverse("review:sample", args=[held.sample_id]))
    )
    answer = {"emotion": "awe", "confidence": "7", "time_spent_ms": "900"}
    url = reverse("review:answer", args=[held.sample_id])
    found["save_and_next"] = statements(lambda: client.post(url, answer))
    return found


def test_each_page_runs_the_same_statements_at_ten_times_the_samples(world, client):
    small = pages(world, client)
    grow(world["dataset"], 600)
    large = pages(world, client)
    assert small == large == EXPECTED


def test_the_available_count_reads_the_work_in_flight_not_every_answer(world):
    """The disputed samples people touched come from SampleLoad's partial index, the leases
    someone holds now from assignment_active (a few rows), and the person's own answer and
    lease on each by their unique indexes: no table of people's rows is scanned whole
    (SQLite's plan; PostgreSQL picks by its statistics)."""
    if connection.vendor != "sqlite":
        pytest.skip("the plan asserted is SQLite's")
    sql, names = _figures_sql(by_dataset=False, binary_ids=())
    values: dict[str, int | str] = {"user": 1, "now": timezone.now().isoformat()}
    values |= {"annotate": "annotate"}
    values |= {"active": "active", "submitted": "submitted", "skipped": "skipped"}
    values |= {"disputed": "disputed", "agreed": "agreed", "dropped": "dropped"}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [values[name] for name in names])
        plan = [row[-1] for row in cursor.fetchall()]
    assert "SCAN l USING INDEX sampleload_disputed" in plan
    assert "SCAN review_assignment USING INDEX assignment_active" in plan
    scans = [step for step in plan if step.startswith("SCAN")]
    assert not [step for step in scans if "annotation" in step or step == "SCAN review_assignment"]
    own = ["SEARCH a USING COVERING INDEX", "SEARCH m USING INDEX"]
    assert all(any(step.startswith(s) and "annotator_id=?" in step for step in plan) for s in own)


def test_next_walks_the_status_index_and_counts_nothing_per_untouched_sample(world):
    """ "Next" without a dataset reads ids from sample_status in id order (not every row, each
    with its DES), rules out taken-up samples by the set worked out once, and runs no
    correlated count for what is left: an untouched sample's load is 0 (SQLite's plan;
    PostgreSQL picks by its statistics)."""
    if connection.vendor != "sqlite":
        pytest.skip("the plan asserted is SQLite's")
    from review.selectors.untouched import _untouched_ids

    qs = _untouched_ids(
        user_id=world["annotator"].pk, now=timezone.now(), settings=[], limit=25, order="",
        window=None, extras=False,
    )  # fmt: skip
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [row[-1] for row in cursor.fetchall()]
    assert "SEARCH annotator_sample USING INDEX sample_status (status>? AND status<?)" in plan
    assert "SCAN annotator_sample" not in plan
    assert not [step for step in plan if "FOR ORDER BY" in step]  # the index's own order
    where = sql.split(" WHERE ", 1)[1]
    assert '"annotator_sample"."id" IN (SELECT' in where
    assert "COUNT(" not in sql

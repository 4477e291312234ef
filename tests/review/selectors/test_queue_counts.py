"""QueueCount is exact: after every kind of write to samples, the figures equal a recount."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from annotator.models import Dataset, Sample
from annotator.services.importing import import_samples_file
from annotator.services.verification import verify_sample
from review.labels import Label
from review.models import QueueCount
from review.roles import ADJUDICATOR, ANNOTATOR
from review.selectors.queue import queue_counts, queue_filter_choices
from review.selectors.queue_counts import open_extras_exist, queue_figures
from review.services.adjudication import adjudicate_sample, undo_last_decision
from review.services.consensus import submit_answer
from review.services.queue_counts import install_and_recount
from review.services.sampling import select_human_checks
from tests.annotator.importers.helpers import proposal, record, write_jsonl
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

DISPUTED, AGREED = Sample.Status.DISPUTED, Sample.Status.AGREED


def recount() -> Counter[tuple[object, ...]]:
    """Samples per bucket, counted from the samples themselves."""
    rows = Sample.objects.values_list(
        "dataset_id", "status", "source", "suggested_emotion", "human_check", "gold_emotion"
    )
    return Counter((d, st, so, e, h, g != "") for d, st, so, e, h, g in rows)


def figures() -> Counter[tuple[object, ...]]:
    return Counter(
        {
            (b.dataset_id, b.status, b.source, b.suggested_emotion, b.human_check, b.gold): b.n
            for b in queue_figures().buckets
        }
    )


def assert_exact() -> None:
    assert figures() == recount()


def test_orm_writes_of_every_kind_keep_the_figures_exact():
    ds, other = DatasetFactory.create(), DatasetFactory.create()
    a, b = SampleFactory.create_batch(2, dataset=ds, source="FI", suggested_emotion="awe")
    SampleFactory.create(dataset=other, source="EmoSet", status=AGREED)
    assert_exact()
    a.status = AGREED
    a.save()  # every column written, one bucket changed
    b.save()  # every column written, no bucket changed
    assert_exact()
    Sample.objects.filter(dataset=ds).update(suggested_emotion="fear", human_check=True)
    Sample.objects.filter(pk=b.pk).update(gold_emotion="sadness")
    assert_exact()
    Sample.objects.bulk_create(
        [Sample(dataset=ds, external_id=f"bulk-{i}", width=1, height=1, source="ArtPhoto")
         for i in range(5)]
    )  # fmt: skip
    assert_exact()
    with connection.cursor() as cursor:  # a write no Django code sees
        cursor.execute(
            "UPDATE annotator_sample SET dataset_id = %s WHERE id = %s", [other.pk, a.pk]
        )
    assert_exact()
    b.delete()
    assert_exact()
    Dataset.objects.filter(pk=other.pk).delete()  # its samples go by cascade
    assert_exact()
    assert queue_counts(dataset=ds)["pending"] == 5


def test_services_that_change_status_keep_the_figures_exact(images_root, tmp_path: Path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        record(
            "s1", "a.jpg", source="FI", proposals=[proposal("m1", "awe"), proposal("m2", "awe")]
        ),
        record("s2", "b.jpg", source="EmoSet", proposals=[proposal("m1"), proposal("m2", "fear")]),
        record("s3", "c.png", proposals=[proposal("m1", "fear"), proposal("m2", "sadness")]),
    )
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert_exact()
    ds = Dataset.objects.get(name="emo")
    ds.overlap_k = 2
    ds.save()
    # A re-import that turns the first sample's agreement into a dispute.
    path = write_jsonl(
        tmp_path / "b.jsonl",
        record(
            "s1", "a.jpg", source="FI", proposals=[proposal("m1", "awe"), proposal("m2", "fear")]
        ),
    )
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert_exact()
    s1 = Sample.objects.get(external_id="s1")
    Sample.objects.filter(pk=s1.pk).update(status=Sample.Status.PENDING)
    verify_sample(sample=s1)
    assert_exact()
    for _ in range(2):  # k = 2 agreeing answers: a consensus label
        person = member(ANNOTATOR)
        lease(s1, person)
        submit_answer(sample=s1, annotator=person, label=Label(emotion="awe", confidence=7.0))
    assert_exact()
    assert queue_counts(dataset=ds)[Sample.Status.ADJUDICATED] >= 1
    boss = member(ADJUDICATOR)
    target = Sample.objects.filter(dataset=ds, status=DISPUTED).first()
    assert target is not None
    label = adjudicate_sample(
        sample=target, annotator=boss, label=Label(emotion="fear", confidence=6.0),
    )  # fmt: skip
    assert_exact()
    undo_last_decision(sample=target, actor=boss, version=label.version)
    assert_exact()
    select_human_checks(dataset=ds, share=1.0)
    assert_exact()


def test_filter_choices_follow_the_data_at_once():
    ds = DatasetFactory.create()
    sample = SampleFactory.create(dataset=ds, source="FI", suggested_emotion="fear")
    assert queue_filter_choices(dataset=None).sources == ["FI"]
    Sample.objects.filter(pk=sample.pk).update(source="ArtPhoto", suggested_emotion="awe")
    choices = queue_filter_choices(dataset=None)
    assert (choices.sources, choices.emotions) == (["ArtPhoto"], ["awe"])
    sample.delete()
    assert queue_filter_choices(dataset=None).sources == []


def test_recount_restores_triggers_a_table_rebuild_dropped():
    """A SQLite migration that rebuilds annotator_sample drops its triggers; post_migrate puts
    them back and recounts."""
    ds = DatasetFactory.create()
    SampleFactory.create_batch(3, dataset=ds)
    with connection.cursor() as cursor:
        on = " ON annotator_sample" if connection.vendor == "postgresql" else ""
        cursor.execute(f"DROP TRIGGER queuecount_insert{on}")
    SampleFactory.create(dataset=ds)  # not counted: no trigger
    assert figures() != recount()
    install_and_recount()
    assert_exact()
    SampleFactory.create(dataset=ds)  # counted again
    assert_exact()


@pytest.mark.django_db(transaction=True)
def test_flush_leaves_no_rows_behind():
    ds = DatasetFactory.create()
    ProposalFactory.create(sample=SampleFactory.create(dataset=ds))
    call_command("flush", verbosity=0, interactive=False)
    assert not QueueCount.objects.exists()
    assert_exact()


def _other_connection():  # a second session on the test database, as another web process
    import psycopg

    conf = connection.settings_dict
    return psycopg.connect(
        dbname=conf["NAME"], user=conf["USER"], host=conf["HOST"], port=conf["PORT"] or 5432,
        password=conf["PASSWORD"] or None,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_deltas_fold_without_losing_a_concurrent_writers_rows():
    from review.services.queue_counts import compact

    ds = DatasetFactory.create()
    samples = SampleFactory.create_batch(40, dataset=ds)
    Sample.objects.filter(dataset=ds).update(status=AGREED)  # one statement: one delta row
    assert QueueCount.objects.count() <= 40 + 2
    for sample in samples[:10]:
        Sample.objects.filter(pk=sample.pk).update(status=DISPUTED)
    other = _other_connection()
    try:
        other.execute(
            "UPDATE annotator_sample SET status = 'dropped' WHERE id = %s", [samples[-1].pk]
        )
        compact()  # the other transaction's delta row is not visible to it: it must stay
        assert QueueCount.objects.count() <= 3
        assert_exact()  # and the reader does not see the uncommitted change either
        other.commit()
    finally:
        other.close()
    assert_exact()
    assert queue_counts(dataset=ds)[Sample.Status.DROPPED] == 1


def test_open_extras_exist_says_what_the_buckets_say_for_each_dataset():
    quiet, checked, gold, dropped = DatasetFactory.create_batch(4)
    SampleFactory.create(dataset=quiet, status=DISPUTED)
    SampleFactory.create(dataset=quiet, status=AGREED)
    SampleFactory.create(dataset=checked, status=AGREED, human_check=True)
    SampleFactory.create(dataset=gold, status=DISPUTED, gold_emotion="awe")
    SampleFactory.create(dataset=dropped, status=Sample.Status.DROPPED, gold_emotion="awe")
    expected = {quiet: False, checked: True, gold: True, dropped: False}
    for dataset, extras in expected.items():
        assert open_extras_exist(dataset_id=dataset.pk) is extras
        assert queue_figures().has_extras(dataset_ids=[dataset.pk]) is extras
    assert open_extras_exist(dataset_id=None) is True
    Sample.objects.filter(dataset=checked).update(status=Sample.Status.ADJUDICATED)
    Sample.objects.filter(dataset=gold).update(status=Sample.Status.DROPPED)
    assert open_extras_exist(dataset_id=None) is False  # a bucket that emptied counts zero

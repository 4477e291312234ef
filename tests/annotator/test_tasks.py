"""reverify_samples: the task, its service, and enqueueing after commit (eager mode)."""

from __future__ import annotations

import pytest
from django.db import transaction

from annotator import tasks
from annotator.models import Sample
from annotator.services.reverify import enqueue_reverify, reverify_samples
from tests.factories import ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Run tasks in this process even when CELERY_BROKER_URL is set (the real worker has its
    own test, tests/integration/test_celery_worker.py)."""
    conf = tasks.reverify_samples.app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before


def _split_sample(**kwargs) -> Sample:
    sample = SampleFactory.create(status=Sample.Status.PENDING, suggested_emotion="", **kwargs)
    ProposalFactory(sample=sample, model_name="gpt-4o", emotion="awe")
    ProposalFactory(sample=sample, model_name="gemini-2.5-flash", emotion="awe")
    ProposalFactory(sample=sample, model_name="emovit", emotion="fear")
    return sample


def test_task_marks_disagreeing_sample_disputed():
    sample = _split_sample()

    found = tasks.reverify_samples.delay([sample.pk]).get()

    sample.refresh_from_db()
    assert found == 1
    assert sample.status == Sample.Status.DISPUTED
    assert sample.suggested_emotion == "awe"
    assert sample.vote_margin == pytest.approx(1 / 3, abs=1e-6)
    assert sample.dispute_reasons[0]["models"]["emovit"] == "fear"


def test_running_twice_gives_the_same_result_and_skips_unknown_ids():
    sample = _split_sample()
    agreed = SampleFactory.create(status=Sample.Status.PENDING, suggested_emotion="")
    ProposalFactory(sample=agreed, model_name="gpt-4o", emotion="sadness")

    assert reverify_samples(sample_ids=[sample.pk, agreed.pk, 999_999]) == 2
    first = Sample.objects.values_list("pk", "status", "suggested_emotion", "vote_margin")
    snapshot = sorted(first)
    assert reverify_samples(sample_ids=[agreed.pk, sample.pk, sample.pk]) == 2

    assert sorted(first.all()) == snapshot
    assert Sample.objects.get(pk=agreed.pk).status == Sample.Status.AGREED


def test_weights_from_the_dataset_change_the_suggestion():
    sample = _split_sample()
    sample.dataset.model_weights = {"emovit": 3.0}
    sample.dataset.save()

    reverify_samples(sample_ids=[sample.pk])

    sample.refresh_from_db()
    assert sample.suggested_emotion == "fear"


def test_enqueue_waits_for_commit(django_capture_on_commit_callbacks):
    sample = _split_sample()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_reverify(sample_ids=[sample.pk])
    sample.refresh_from_db()
    assert sample.status == Sample.Status.PENDING  # nothing ran before the commit
    assert len(callbacks) == 1

    callbacks[0]()
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DISPUTED


def test_enqueue_inside_a_rolled_back_transaction_does_nothing(django_capture_on_commit_callbacks):
    sample = _split_sample()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue_reverify(sample_ids=[sample.pk])
        raise RuntimeError("roll back")

    assert callbacks == []
    sample.refresh_from_db()
    assert sample.status == Sample.Status.PENDING


def test_enqueue_with_no_ids_schedules_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue_reverify(sample_ids=[])
    assert callbacks == []


def test_task_goes_to_the_default_queue_and_is_acknowledged_late():
    task = tasks.reverify_samples
    route = task.app.amqp.router.route({}, task.name, args=([1],), kwargs={})

    assert route["queue"].name == "default"
    assert task.acks_late is True

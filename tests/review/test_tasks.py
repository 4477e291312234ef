"""The review app's Celery tasks: parse ids, call the mask services, retry what is transient."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from review import tasks
from review.services import mask_worker
from review.services.masks import (
    PRIORITY_CLICK,
    PRIORITY_OPEN_SAMPLE,
    PRIORITY_REGIONS,
    PRIORITY_UPCOMING,
    Click,
    add_mask_edit,
    schedule_mask_work,
)
from tests.factories import RegionFactory
from tests.support.masks import (  # noqa: F401 (fixtures)
    inline_tasks,
    make_annotator,
    make_scene_sample,
    scene_sample,
    tiny_sam,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple, dict]]:
    """What the services hand to Celery (name, args, routing options), without sending it."""
    calls: list[tuple[str, tuple, dict]] = []
    for task in (tasks.compute_mask_edit, tasks.prefetch_embedding, tasks.segment_sample_regions):

        def record(args=(), task=task, **options):
            calls.append((task.name, tuple(args), options))

        monkeypatch.setattr(task, "apply_async", record)
    return calls


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_tasks_take_json_ids_and_run_the_services(sample):
    edit = add_mask_edit(
        sample=sample, role="subject", author=make_annotator(sample), click=Click(150.0, 100.0, 1)
    )
    assert tasks.compute_mask_edit.apply(args=(str(edit.pk),)).get() == "done"
    assert tasks.compute_mask_edit.apply(args=(edit.pk,)).get() == "skipped"
    assert tasks.prefetch_embedding.apply(args=(sample.pk,)).get() is True  # encoded by the click
    RegionFactory.create(sample=sample, role="background", x1=0, y1=0, x2=320, y2=120)
    assert tasks.segment_sample_regions.apply(args=(sample.pk,)).get() == 1


@pytest.mark.ml
@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_a_database_hiccup_while_storing_is_retried_and_the_edit_released(sample, monkeypatch):
    edit = add_mask_edit(
        sample=sample, role="subject", author=make_annotator(sample), click=Click(150.0, 100.0, 1)
    )
    real_sync = mask_worker.write_person_region
    failures: list[int] = []

    def flaky_sync(**kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("database is locked")
        return real_sync(**kwargs)

    monkeypatch.setattr(mask_worker, "write_person_region", flaky_sync)
    # throw=False: Celery then runs the retry in place, as a worker would after the backoff.
    # Had the failed attempt kept its claim, the retry would find the edit taken: "skipped".
    assert tasks.compute_mask_edit.apply(args=(edit.pk,), throw=False).get() == "done"
    assert failures == [1]
    edit.refresh_from_db()
    assert edit.status == "done"


def test_a_click_goes_to_the_gpu_queue_first_in_line(
    sample, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        edit = add_mask_edit(
            sample=sample, role="subject", author=make_annotator(sample), click=Click(1.0, 2.0, 1)
        )
    assert sent == [
        ("review.compute_mask_edit", (edit.pk,), {"queue": "gpu", "priority": PRIORITY_CLICK})
    ]


def test_opening_a_sample_queues_its_embedding_bare_boxes_and_the_next_samples(
    settings, sample, images_root, sent, django_capture_on_commit_callbacks
):
    settings.MASK_BACKGROUND_TASKS = True
    settings.MASK_PREFETCH_COUNT = 2
    settings.SEGMENTER = "sam"  # only its name: nothing here builds it
    later = [
        make_scene_sample(images_root, name=f"n{i}.png", dataset=sample.dataset) for i in range(3)
    ]
    RegionFactory.create(sample=sample, role="subject", x1=1, y1=1, x2=30, y2=30)
    with django_capture_on_commit_callbacks(execute=True):
        schedule_mask_work(user=make_annotator(), sample=sample)
    assert sent == [
        ("review.prefetch_embedding", (sample.pk,), {"queue": "gpu", "priority": 3}),
        ("review.segment_sample_regions", (sample.pk,), {"queue": "gpu", "priority": 6}),
        ("review.prefetch_embedding", (later[0].pk,), {"queue": "gpu", "priority": 9}),
        ("review.prefetch_embedding", (later[1].pk,), {"queue": "gpu", "priority": 9}),
    ]
    assert (PRIORITY_OPEN_SAMPLE, PRIORITY_REGIONS, PRIORITY_UPCOMING) == (3, 6, 9)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the next sample: one new ask
        schedule_mask_work(user=make_annotator(), sample=later[0])
    assert sent == [
        ("review.prefetch_embedding", (later[0].pk,), {"queue": "gpu", "priority": 3}),
        ("review.prefetch_embedding", (later[2].pk,), {"queue": "gpu", "priority": 9}),
    ]  # later[1] was asked for a moment ago
    settings.MASK_BACKGROUND_TASKS = False
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        schedule_mask_work(user=make_annotator(), sample=sample)
    assert sent == []


def test_with_grabcut_opening_a_sample_sends_no_prefetch_and_reads_no_queue_ahead(
    settings, sample, images_root, sent, django_capture_on_commit_callbacks
):
    """GrabCut has no embedding: a prefetch task would only make a gpu worker look the sample
    up and return. The bare boxes still get their masks."""
    settings.MASK_BACKGROUND_TASKS = True
    settings.SEGMENTER, settings.SAM_CHECKPOINT = "auto", None  # auto without weights: GrabCut
    make_scene_sample(images_root, name="n0.png", dataset=sample.dataset)
    RegionFactory.create(sample=sample, role="subject", x1=1, y1=1, x2=30, y2=30)
    person = make_annotator()
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        schedule_mask_work(user=person, sample=sample)
    assert sent == [
        ("review.segment_sample_regions", (sample.pk,), {"queue": "gpu", "priority": 6}),
    ]
    assert len(queries) == 1  # the bare-box check; the person's queue ahead is not read

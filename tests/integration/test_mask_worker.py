"""Click-to-refine masks through Redis and a real Celery worker running the tiny SAM.

The worker is another process started with tests/support/tiny_sam_settings.py: SEGMENTER=sam,
SAM_MODEL_TYPE=tiny and a checkpoint file this test writes, loaded by the app's real code.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from django.db import transaction
from django.urls import reverse

from annotator.celery import app
from annotator.lib.rle import decode_mask
from annotator.models import Region, Taxonomy
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.models import MaskEdit
from review.services import masks as mask_services
from review.services.masks import Click, add_mask_edit
from tests.support.celery_worker import running_worker, wait_until
from tests.support.masks import (
    make_annotator,
    make_scene_sample,
    reference_masks,
    shown_overlay,
    write_scene,
    write_tiny_checkpoint,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.ml,
    pytest.mark.slow,  # a worker loading the tiny SAM: 20 s to start, 30 s or more a test
    pytest.mark.django_db(transaction=True),
]

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _seeded_taxonomy():
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    pytest.importorskip("torch")
    checkpoint = write_tiny_checkpoint(tmp_path / "sam_tiny_worker.pth")
    return {
        "DJANGO_SETTINGS_MODULE": "tests.support.tiny_sam_settings",
        "SEGMENTER": "sam",
        "SAM_DECODER": "torch",  # stored masks are compared with SamPredictor's, exactly
        "SAM_MODEL_TYPE": "tiny",
        "SAM_CHECKPOINT": str(checkpoint),
        "SAM_DEVICE": "cpu",
        "EMBEDDING_CACHE_URL": f"file://{tmp_path / 'embeddings'}",
    }


@pytest.fixture
def scene(images_root: Path):
    sample = make_scene_sample(images_root)
    return sample, write_scene(images_root / "scene.png")


def _log_count(worker, text: str) -> int:
    return len(re.findall(re.escape(text), worker.log(tail=10**6)))


def test_click_task_mask_stored_and_the_partial_shows_it(client, scene, worker_env, settings):
    settings.MASK_WAIT_SECONDS = 20.0  # the first click also loads the model in the worker
    sample, image = scene
    person = make_annotator(sample)
    client.force_login(person)
    url = reverse("review:mask_edit", args=[sample.pk, "subject"])
    with running_worker(queues=("gpu",), extra_env=worker_env):
        response = client.post(url, {"x": "150", "y": "100", "label": "1"}, **HTMX)
    assert response.status_code == 200
    edit = MaskEdit.objects.get()
    assert (edit.status, edit.segmenter, edit.author) == ("done", "sam-tiny", person)
    # The response waited for the worker (Redis wake-up): the mask came back with the click.
    assert 'data-status="done"' in response.content.decode()
    stored = Region.objects.get(sample=sample, role="subject", origin="person")
    assert stored.mask is not None
    multi, scores, _ = reference_masks(image, edit.points)
    assert np.array_equal(decode_mask(stored.mask), multi[np.argmax(scores)])
    assert np.array_equal(shown_overlay(response.content.decode()), decode_mask(stored.mask))


def test_a_duplicate_delivery_stores_one_result(scene, worker_env):
    sample, _ = scene
    person = make_annotator(sample)
    with running_worker(queues=("gpu",), extra_env=worker_env) as worker:
        with transaction.atomic():
            edit = add_mask_edit(
                sample=sample, role="subject", author=person, click=Click(150.0, 100.0, 1)
            )
            # The same message a second time, as a broker redelivering it would.
            transaction.on_commit(lambda: mask_services.enqueue_mask_edit(edit_id=edit.pk))
        wait_until(
            lambda: _log_count(worker, "review.compute_mask_edit[") >= 4, worker=worker
        )  # two "received", two "succeeded"
        log = worker.log(tail=10**6)
    assert "succeeded" in log and "'done'" in log and "'skipped'" in log
    edit.refresh_from_db()
    assert edit.status == "done" and len(edit.candidates) == 3
    assert Region.objects.filter(sample=sample, origin="person").count() == 1


def test_a_stale_result_is_discarded(scene, worker_env):
    sample, _ = scene
    person = make_annotator(sample)
    with running_worker(queues=("gpu",), extra_env=worker_env) as worker:
        with transaction.atomic():  # both queued on commit: the worker sees the older first
            older = add_mask_edit(
                sample=sample, role="subject", author=person, click=Click(150.0, 100.0, 1)
            )
            newer = add_mask_edit(
                sample=sample, role="subject", author=person, click=Click(30.0, 30.0, 0)
            )
        wait_until(
            lambda: set(MaskEdit.objects.values_list("status", flat=True)) == {"stale", "done"},
            worker=worker,
        )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.candidates) == ("stale", [])
    assert newer.status == "done"
    region = Region.objects.get(sample=sample, origin="person")
    assert region.mask == newer.candidates[0]["rle"]


def test_a_worker_killed_mid_task_leaves_the_edit_to_be_recomputed(scene, worker_env):
    sample, _ = scene
    person = make_annotator(sample)
    slow = {**worker_env, "SEGMENTER": "sam-slow", "TINY_SAM_DELAY_SECONDS": "60"}
    with running_worker(queues=("gpu",), extra_env=slow) as worker:
        with transaction.atomic():
            edit = add_mask_edit(
                sample=sample, role="subject", author=person, click=Click(150.0, 100.0, 1)
            )
        wait_until(lambda: MaskEdit.objects.get().status == "running", worker=worker)
        os.kill(worker.process.pid, signal.SIGKILL)  # no warm shutdown, no acknowledgement
        worker.process.wait(timeout=10)
    edit.refresh_from_db()
    assert edit.status in ("pending", "running") and edit.candidates == []
    assert not Region.objects.filter(origin="person").exists()
    app.control.purge()  # whatever is queued is gone; the unacknowledged message is not
    again = {**worker_env, "TINY_SAM_REDELIVER_AFTER": "1", "MASK_CLAIM_LEASE_SECONDS": "1"}
    with running_worker(queues=("gpu",), extra_env=again) as worker:
        wait_until(lambda: MaskEdit.objects.get().status == "done", worker=worker, timeout=60)
    assert Region.objects.filter(sample=sample, origin="person").count() == 1

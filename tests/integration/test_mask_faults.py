"""Mask edits through worker deaths and a broker outage, with real Celery workers, Redis and
PostgreSQL (tests/support/mask_faults.py; the figures for more runs: bench/faults.py).

- A worker SIGKILLed in the middle of edits, three times in twelve clicks, solo pool (the whole
  worker dies: its claim lapses, the sweep sends the edit again, a new worker computes it) and
  prefork pool (a child dies: the pool redelivers at once, and the new child takes over the
  claim of the dead process): every edit is done, its mask stored once and shown.
- The broker unreachable: the sample page renders, a click is saved and the page says the
  workers are unreachable; when the broker is back the page's poll sends it and it is computed.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from review.models import Assignment, MaskEdit
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.celery_worker import running_worker
from tests.support.mask_faults import run_mask_faults
from tests.support.masks import make_annotator, make_scene_sample

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,  # workers started and killed: 20 to 60 s a test
    pytest.mark.django_db(transaction=True),
]

HTMX = {"HTTP_HX_REQUEST": "true"}
LEASE = 2.0


@pytest.fixture
def samples(images_root):
    return [make_scene_sample(images_root, name=f"s{i}.png") for i in range(4)]


@pytest.fixture
def person(samples):
    user = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    for sample in samples:
        Assignment.objects.create(sample=sample, annotator=user, expires_at=expires)
    return user


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_workers_killed_mid_edit_lose_no_edit(pool, samples, person, settings):
    settings.MASK_CLAIM_LEASE_SECONDS = LEASE
    run = run_mask_faults(pool=pool, samples=samples, person=person, lease_seconds=LEASE)
    assert run.kills == 3, run
    assert (run.computed, run.lost, run.stored_twice) == (12, 0, 0), run
    assert not MaskEdit.objects.filter(status__in=["pending", "running"]).exists()
    # Bounded: a dead child's edit is taken over at once, a dead solo worker's once its lease
    # lapsed (then it waits its turn in the queue behind the other clicks).
    assert run.total_seconds < 75, run


def test_a_click_made_while_the_broker_is_down_is_computed_when_it_is_back(
    client, samples, person, settings
):
    settings.MASK_WAIT_SECONDS = 1.0
    settings.MASK_BACKGROUND_TASKS = True
    sample = samples[0]
    client.force_login(person)
    with broker_at(UNREACHABLE_BROKER, settings):
        assert client.get(reverse("review:sample", args=[sample.pk])).status_code == 200
        url = reverse("review:mask_edit", args=[sample.pk, "subject"])
        response = client.post(url, {"x": "150", "y": "100", "label": "1"}, **HTMX)
    assert response.status_code == 200 and "workers unreachable" in response.content.decode()
    edit = MaskEdit.objects.get()
    assert edit.status == "pending" and edit.send_error
    poll = reverse("review:mask_poll", args=[sample.pk, "subject"]) + f"?edit={edit.pk}"
    env = {"DJANGO_SETTINGS_MODULE": "tests.support.fault_settings", "SEGMENTER": "grabcut"}
    with running_worker(queues=("gpu",), extra_env=env):
        deadline = time.monotonic() + 30
        html = ""
        while 'data-status="done"' not in html and time.monotonic() < deadline:
            html = client.get(poll, **HTMX).content.decode()  # as the page polls
    assert 'data-status="done"' in html
    edit.refresh_from_db()
    assert (edit.status, edit.send_error) == ("done", "")
    assert MaskEdit.objects.count() == 1

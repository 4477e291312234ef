"""With the broker unreachable the sample page renders, a click is saved and the page says the
workers are unreachable; when the broker is back, the page's next poll sends it (in-process
here; tests/integration/test_mask_faults.py does it with Redis and a real worker)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from review.models import Assignment, MaskEdit
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.masks import make_annotator, make_scene_sample

# Real commits: a click is sent the moment its transaction commits, before the response.
pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sample(images_root, settings):
    settings.SEGMENTER = "grabcut"
    settings.MASK_WAIT_SECONDS = 0.5
    return make_scene_sample(images_root)


@pytest.fixture
def person(client, sample):
    user = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    Assignment.objects.create(sample=sample, annotator=user, expires_at=expires)
    client.force_login(user)
    return user


def test_the_sample_page_renders_and_a_click_is_kept_for_when_the_workers_are_back(
    client, sample, person, settings
):
    settings.MASK_BACKGROUND_TASKS = True  # opening the page queues prefetches: they fail
    click = reverse("review:mask_edit", args=[sample.pk, "subject"])
    with broker_at(UNREACHABLE_BROKER, settings):
        started = time.monotonic()
        page = client.get(reverse("review:sample", args=[sample.pk]))
        assert page.status_code == 200
        response = client.post(click, {"x": "150", "y": "100", "label": "1"}, **HTMX)
        assert time.monotonic() - started < 10  # no hanging on the broker
        assert response.status_code == 200
        html = response.content.decode()
        assert "workers unreachable" in html and "will be computed when they are back" in html
        assert 'hx-trigger="load delay:3s"' in html  # the page keeps polling, gently
        edit = MaskEdit.objects.get()
        assert edit.status == "pending" and "unreachable" in edit.send_error
        poll = reverse("review:mask_poll", args=[sample.pk, "subject"]) + f"?edit={edit.pk}"
        MaskEdit.objects.update(sent_at=timezone.now() - timedelta(seconds=5))
        still = client.get(poll, **HTMX)
        assert still.status_code == 200 and "workers unreachable" in still.content.decode()
        assert MaskEdit.objects.get().status == "pending"  # one edit, nothing orphaned
    MaskEdit.objects.update(sent_at=timezone.now() - timedelta(seconds=5))
    with broker_at(UNREACHABLE_BROKER, settings, eager=True):  # back: tasks run in-process
        done = client.get(poll, **HTMX)
    assert 'data-status="done"' in done.content.decode()
    edit.refresh_from_db()
    assert (edit.status, edit.send_error, len(edit.candidates)) == ("done", "", 1)

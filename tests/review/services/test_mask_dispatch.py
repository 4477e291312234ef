"""Mask edits survive a dead worker and an unreachable broker: claims with a lease and a named
worker, the outbox on the MaskEdit row, and the re-send of stuck edits (GrabCut, in-process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from annotator.adapters.segmenters import MaskCandidate, register_segmenter
from review import tasks
from review.models import MaskEdit
from review.services import mask_dispatch
from review.services.mask_dispatch import resend_mask_edit_if_stuck, resend_stuck_mask_edits
from review.services.mask_worker import compute_mask_edit, owner_is_gone, worker_name
from review.services.masks import Click, add_mask_edit
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.masks import (  # noqa: F401 (fixtures)
    inline_tasks,
    make_annotator,
    make_scene_sample,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample(images_root, settings):
    settings.SEGMENTER = "grabcut"
    return make_scene_sample(images_root)


@pytest.fixture
def person(sample):
    from review.models import Assignment

    user = make_annotator()
    expires = timezone.now() + timedelta(hours=1)
    Assignment.objects.create(sample=sample, annotator=user, expires_at=expires)
    return user


def _click(sample, person) -> MaskEdit:
    return add_mask_edit(sample=sample, role="subject", author=person, click=Click(150, 100, 1))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: nothing runs under this pid now
    return process.pid


def _run_as(edit: MaskEdit, *, owner: str, lease_left: float) -> None:
    now = timezone.now()
    MaskEdit.objects.filter(pk=edit.pk).update(
        status="running",
        started_at=now,
        claimed_by=owner,
        lease_until=now + timedelta(seconds=lease_left),
    )


def test_a_claim_names_its_worker_and_a_lease(sample, person, settings):
    edit = _click(sample, person)
    seen: dict[str, object] = {}

    class Spy:
        name, needs_embedding = "spy", False

        def prepare(self, **kwargs):
            return True

        def is_prepared(self, **kwargs):
            return True

        def segment(self, *, image, image_key, prompt, multimask=True):
            seen.update(MaskEdit.objects.values("claimed_by", "lease_until", "started_at")[0])
            return [MaskCandidate(mask=np.ones(image.shape[:2], bool), score=1.0)]

    register_segmenter("spy", Spy)
    settings.SEGMENTER = "spy"
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    assert seen["claimed_by"] == worker_name() == f"{socket.gethostname()}:{os.getpid()}"
    lease = seen["lease_until"] - seen["started_at"]  # type: ignore[operator]
    assert lease == timedelta(seconds=settings.MASK_CLAIM_LEASE_SECONDS)


def test_a_redelivery_takes_over_the_claim_of_a_killed_process_at_once(sample, person):
    """A prefork child killed mid-edit: the pool redelivers its task at once, while the claim
    is fresh; the claim names a process that is gone, so the new delivery computes it."""
    edit = _click(sample, person)
    _run_as(edit, owner=f"{socket.gethostname()}:{_dead_pid()}", lease_left=60)
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    edit.refresh_from_db()
    assert edit.status == "done" and edit.claimed_by == worker_name()
    assert edit.lease_until is None


def test_a_live_claim_is_left_alone_until_its_lease_lapses(sample, person):
    edit = _click(sample, person)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = f"{socket.gethostname()}:{sleeper.pid}"
        assert not owner_is_gone(live)
        _run_as(edit, owner=live, lease_left=60)
        assert compute_mask_edit(edit_id=edit.pk) == "skipped"
        _run_as(edit, owner="other-host:1", lease_left=60)  # another host: wait for its lease
        assert compute_mask_edit(edit_id=edit.pk) == "skipped"
        _run_as(edit, owner="other-host:1", lease_left=-1)
        assert compute_mask_edit(edit_id=edit.pk) == "done"
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_segmenting(sample, person, settings):
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("the renewing thread needs a database other connections can see")
    settings.MASK_CLAIM_LEASE_SECONDS = 0.6
    edit = _click(sample, person)
    leases: list[object] = []

    class Slow:
        name, needs_embedding = "slow", False

        def prepare(self, **kwargs):
            return True

        def is_prepared(self, **kwargs):
            return True

        def segment(self, *, image, image_key, prompt, multimask=True):
            for _ in range(5):
                time.sleep(0.3)
                leases.append(MaskEdit.objects.values_list("lease_until", flat=True)[0])
            return [MaskCandidate(mask=np.ones(image.shape[:2], bool), score=1.0)]

    register_segmenter("slow", Slow)
    settings.SEGMENTER = "slow"
    assert compute_mask_edit(edit_id=edit.pk) == "done"
    assert len(set(leases)) >= 3  # renewed every 0.2 s: 1.5 s of work outlived 0.6 s leases


def test_a_click_the_broker_did_not_take_is_saved_marked_and_sent_when_it_is_back(
    sample, person, settings, django_capture_on_commit_callbacks
):
    with (
        broker_at(UNREACHABLE_BROKER, settings),
        django_capture_on_commit_callbacks(execute=True),
    ):
        edit = _click(sample, person)
    edit.refresh_from_db()
    assert edit.status == "pending" and "unreachable" in edit.send_error
    assert edit.sent_at is not None
    # Back (tasks inline here): not at once (a failed send is retried every few seconds) ...
    assert resend_stuck_mask_edits() == 0
    MaskEdit.objects.filter(pk=edit.pk).update(sent_at=timezone.now() - timedelta(seconds=5))
    # ... then the sweep sends it, and it is computed.
    with broker_at(UNREACHABLE_BROKER, settings, eager=True):
        assert resend_stuck_mask_edits() == 1
    edit.refresh_from_db()
    assert (edit.status, edit.send_error) == ("done", "")
    assert resend_stuck_mask_edits() == 0


@pytest.mark.usefixtures("inline_tasks")
def test_a_pending_edit_that_was_never_sent_is_sent(sample, person, monkeypatch):
    sent: list[int] = []

    def send(*, edit_id: int) -> bool:
        sent.append(edit_id)
        return True

    monkeypatch.setattr(mask_dispatch, "send_mask_edit", send)
    edit = _click(sample, person)  # on_commit never runs in this test: the process "died"
    MaskEdit.objects.filter(pk=edit.pk).update(sent_at=None)
    assert resend_stuck_mask_edits() == 1
    assert sent == [edit.pk]


def test_what_counts_as_stuck(sample, person, settings, monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.compute_mask_edit, "apply_async", lambda **kw: calls.append(kw))
    lease = settings.MASK_CLAIM_LEASE_SECONDS
    edit = _click(sample, person)
    assert not resend_mask_edit_if_stuck(edit_id=edit.pk)  # just sent: on its way
    old = timezone.now() - timedelta(seconds=lease * mask_dispatch.LOST_AFTER_LEASES + 1)
    MaskEdit.objects.filter(pk=edit.pk).update(sent_at=old)
    assert resend_mask_edit_if_stuck(edit_id=edit.pk)  # sent long ago, never claimed: lost
    assert not resend_mask_edit_if_stuck(edit_id=edit.pk)  # once
    _run_as(edit, owner="other-host:1", lease_left=lease)
    assert not resend_mask_edit_if_stuck(edit_id=edit.pk)  # a live worker has it
    _run_as(edit, owner="other-host:1", lease_left=-1)
    assert not resend_mask_edit_if_stuck(edit_id=edit.pk)  # lapsed, but sent a moment ago
    MaskEdit.objects.filter(pk=edit.pk).update(sent_at=old)
    assert resend_mask_edit_if_stuck(edit_id=edit.pk)  # its worker died: sent again
    assert not resend_mask_edit_if_stuck(edit_id=edit.pk)  # once per lease
    MaskEdit.objects.filter(pk=edit.pk).update(status="done")
    assert resend_stuck_mask_edits() == 0
    assert len(calls) == 2


@pytest.mark.usefixtures("inline_tasks")
def test_an_in_process_edit_that_hits_a_transient_error_is_computed_on_the_next_poll(
    sample, person, monkeypatch, django_capture_on_commit_callbacks
):
    """Without a broker a transient database error (SQLite: "cannot release savepoint") made the
    task's retry raise through the click's commit hook: a 500 and an edit left pending."""
    from django.db import OperationalError

    from review.selectors.masks import edit_progress
    from review.services import mask_worker

    real = mask_worker.compute_mask_edit
    calls: list[int] = []

    def flaky(*, edit_id: int, heartbeat: bool = True) -> str:
        calls.append(edit_id)
        if len(calls) == 1:
            raise OperationalError("cannot release savepoint - SQL statements in progress")
        return real(edit_id=edit_id, heartbeat=heartbeat)

    monkeypatch.setattr(mask_worker, "compute_mask_edit", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        edit = _click(sample, person)  # the hook must not raise
    edit.refresh_from_db()
    assert edit.status == "pending" and "will try again" in edit.send_error
    assert not mask_dispatch.breaker.reason_to_skip()  # the broker is not blamed
    assert edit_progress(edit_id=edit.pk) == ("pending", "computing")  # not "unreachable"
    later = timezone.now() + timedelta(seconds=mask_dispatch.RETRY_SEND_SECONDS + 1)
    assert resend_mask_edit_if_stuck(edit_id=edit.pk, now=later)
    edit.refresh_from_db()
    assert (edit.status, edit.send_error) == ("done", "")
    assert len(calls) >= 2

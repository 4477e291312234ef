"""Export jobs: start, claim, run, rerun after a lapsed lease, cancel, failure, atomic files,
the outbox re-send, and the in-process runner the demo uses (no broker)."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from annotator.models import Sample
from review.models import ExportJob
from review.selectors.export_jobs import export_job_dir, export_job_file
from review.services import export_job_runner
from review.services.export_jobs import (
    ExportJobError,
    cancel_export_job,
    resend_stuck_export_jobs,
    run_export_job,
    start_export_job,
)
from tests.factories import AdminFactory, DatasetFactory, SampleFactory, UserFactory
from tests.review.services.soft_labels import make_fit
from tests.support.broker import UNREACHABLE_BROKER, broker_at

pytestmark = pytest.mark.django_db

N = 7


@pytest.fixture(autouse=True)
def export_root(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.EXPORT_BATCH_SIZE = 3  # several chunks, so progress and cancels have a between
    return settings.EXPORT_ROOT


@pytest.fixture
def dataset():
    dataset = DatasetFactory(name="pets")
    for i in range(N):
        status = Sample.Status.AGREED if i % 2 else Sample.Status.DISPUTED
        SampleFactory(dataset=dataset, external_id=f"s{i}", status=status)
    return dataset


@pytest.fixture
def admin():
    return AdminFactory()


def _job(dataset, admin, *, fmt="csv", scope="all", **values) -> ExportJob:
    return ExportJob.objects.create(
        dataset=dataset, created_by=admin, kind="labels", fmt=fmt, scope=scope, **values
    )


def _csv_ids(path) -> list[str]:
    return [row["external_id"] for row in csv.DictReader(io.StringIO(path.read_text()))]


def test_start_saves_a_pending_job_and_sends_it_on_commit(
    dataset, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = start_export_job(
            user=admin, dataset=dataset, kind="labels", fmt="parquet", scope="decided",
            options={"embed_images": False},
        )  # fmt: skip
    assert (job.status, job.fmt, job.scope) == ("pending", "parquet", "decided")
    assert job.options == {"formula_guard": True, "embed_images": False}
    assert len(callbacks) == 1  # the send waits for the commit: a worker sees the row


@pytest.mark.parametrize(
    ("kind", "fmt", "scope", "options", "field"),
    [
        ("votes", "csv", "all", {}, "kind"),
        ("labels", "xlsx", "all", {}, "fmt"),
        ("answers", "coco", "all", {}, "fmt"),
        ("labels", "csv", "some", {}, "scope"),
        ("labels", "csv", "all", {"zip": True}, "options"),
        ("labels", "csv", "all", {"formula_guard": "no"}, "options"),
        ("labels", "csv", "all", {"label_from": "vote"}, "options"),
    ],
)
def test_start_refuses_bad_fields_naming_them(dataset, admin, kind, fmt, scope, options, field):
    with pytest.raises(ExportJobError, match=f"^{field}: "):
        start_export_job(
            user=admin, dataset=dataset, kind=kind, fmt=fmt, scope=scope, options=options
        )
    assert not ExportJob.objects.exists()


def test_only_admins_start_or_cancel(dataset, admin):
    with pytest.raises(PermissionDenied):
        start_export_job(user=UserFactory(), dataset=dataset, kind="labels", fmt="csv", scope="all")
    job = _job(dataset, admin)
    with pytest.raises(PermissionDenied):
        cancel_export_job(job=job, user=UserFactory())
    assert ExportJob.objects.get().status == "pending"


def test_a_job_writes_its_file_and_counts_its_rows(dataset, admin):
    job = _job(dataset, admin, fmt="csv", scope="decided")
    assert run_export_job(job_id=job.pk) == "done"
    job.refresh_from_db()
    decided = Sample.objects.filter(dataset=dataset, status="agreed").count()
    assert (job.status, job.rows_done, job.rows_total, job.attempts) == (
        "done",
        decided,
        decided,
        1,
    )
    assert job.file_name == "pets-decided.csv" and job.finished_at and not job.lease_until
    path = export_job_file(job=job, part="data")
    assert path == export_job_dir(job_id=job.pk) / "pets-decided.csv"
    assert job.file_size == path.stat().st_size
    assert sorted(_csv_ids(path)) == ["s1", "s3", "s5"]
    assert not list(path.parent.glob(".*.part"))


def test_a_job_labels_undecided_samples_from_the_consensus_when_asked(dataset, admin):
    disputed = Sample.objects.filter(dataset=dataset, status="disputed").order_by("id")
    make_fit(dataset, {s: [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0] for s in disputed})
    job = start_export_job(
        user=admin, dataset=dataset, kind="labels", fmt="csv", scope="all",
        options={"label_from": "consensus"},
    )  # fmt: skip
    assert run_export_job(job_id=job.pk) == "done"
    path = export_job_file(job=ExportJob.objects.get(), part="data")
    rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(path.read_text()))}
    assert {rows[s.external_id]["emotion"] for s in disputed} == {"fear"}
    assert {rows[s.external_id]["label_source"] for s in disputed} == {"consensus"}


def test_a_parquet_job_is_read_by_pyarrow(dataset, admin):
    job = _job(dataset, admin, fmt="parquet")
    assert run_export_job(job_id=job.pk) == "done"
    table = pq.read_table(export_job_file(job=ExportJob.objects.get(), part="data"))
    assert sorted(table.column("external_id").to_pylist()) == [f"s{i}" for i in range(N)]


def test_a_job_held_by_a_live_claim_is_not_run_twice(dataset, admin):
    now = timezone.now()
    job = _job(
        dataset, admin, status="running", started_at=now, claimed_by="elsewhere:1",
        lease_until=now + timedelta(minutes=1), attempts=1,
    )  # fmt: skip
    assert run_export_job(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts) == ("running", "elsewhere:1", 1)


def test_a_lapsed_lease_is_retaken_and_the_job_written_again_from_the_start(dataset, admin):
    now = timezone.now()
    job = _job(
        dataset, admin, status="running", started_at=now - timedelta(minutes=5),
        claimed_by="elsewhere:1", lease_until=now - timedelta(seconds=1), attempts=1,
        rows_done=4, rows_total=N,
    )  # fmt: skip
    folder = export_job_dir(job_id=job.pk)
    folder.mkdir(parents=True)
    half = folder / ".pets-all.csv.dead.part"  # what the dead worker left
    half.write_text("sample_id\ns0\n")
    assert run_export_job(job_id=job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_done) == ("done", 2, N)
    assert job.claimed_by.startswith(socket.gethostname() + ":")
    assert sorted(_csv_ids(folder / "pets-all.csv")) == [f"s{i}" for i in range(N)]
    assert not half.exists()


def test_a_dead_process_on_this_host_loses_its_claim_at_once(dataset, admin):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = timezone.now()
    job = _job(
        dataset, admin, status="running", started_at=now, attempts=1,
        claimed_by=f"{socket.gethostname()}:{dead.pid}", lease_until=now + timedelta(minutes=1),
    )  # fmt: skip
    assert run_export_job(job_id=job.pk) == "done"
    assert ExportJob.objects.get().attempts == 2


def test_cancel_stops_a_pending_job_and_not_a_finished_one(dataset, admin):
    job = _job(dataset, admin)
    assert cancel_export_job(job=job, user=admin) is True
    assert job.status == "cancelled" and job.finished_at
    assert run_export_job(job_id=job.pk) == "skipped"
    assert not export_job_dir(job_id=job.pk).exists()
    assert cancel_export_job(job=job, user=admin) is False


def test_a_cancel_while_writing_leaves_no_file(dataset, admin, monkeypatch):
    job = _job(dataset, admin)
    real = export_job_runner.job_chunks

    def chunks_then_cancel(*, job):
        for n, chunk in enumerate(real(job=job)):
            if n == 1:  # the header and a first batch went out: an admin cancels
                cancel_export_job(job=job, user=admin)
            yield chunk

    monkeypatch.setattr(export_job_runner, "job_chunks", chunks_then_cancel)
    assert run_export_job(job_id=job.pk) == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.file_name
    assert os.listdir(export_job_dir(job_id=job.pk)) == []


def test_a_failure_is_recorded_with_its_error_and_leaves_no_file(dataset, admin, monkeypatch):
    job = _job(dataset, admin)
    real = export_job_runner.job_chunks

    def broken(*, job):
        iterator = real(job=job)
        yield next(iterator)
        raise ValueError("disk said no")

    monkeypatch.setattr(export_job_runner, "job_chunks", broken)
    assert run_export_job(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "ValueError: disk said no"
    assert job.finished_at and not job.lease_until
    assert os.listdir(export_job_dir(job_id=job.pk)) == []


def test_a_finished_job_keeps_its_file_when_a_stale_message_comes(dataset, admin):
    job = _job(dataset, admin)
    assert run_export_job(job_id=job.pk) == "done"
    before = ExportJob.objects.get()
    assert run_export_job(job_id=job.pk) == "skipped"  # a redelivery after the ack was lost
    after = ExportJob.objects.get()
    assert (after.attempts, after.finished_at) == (1, before.finished_at)


def test_the_sweep_records_an_unreachable_broker_and_stops(dataset, admin, settings):
    settings.EXPORT_CLAIM_LEASE_SECONDS = 1
    old = timezone.now() - timedelta(minutes=5)
    stuck = [
        _job(dataset, admin, status="running", started_at=old, claimed_by="gone:1",
             lease_until=old, sent_at=old),
        _job(dataset, admin),  # never sent (the process died before its commit hook)
    ]  # fmt: skip
    ExportJob.objects.filter(pk=stuck[1].pk).update(created_at=old)
    fresh = _job(dataset, admin, sent_at=timezone.now())  # sent just now: not stuck
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at(UNREACHABLE_BROKER, settings):
        assert resend_stuck_export_jobs() == 0
    first = ExportJob.objects.get(pk=stuck[0].pk)
    assert first.send_error.startswith("broker unreachable")
    assert first.sent_at is not None and first.sent_at > old
    assert ExportJob.objects.get(pk=stuck[1].pk).sent_at is None  # stopped at the first refusal
    assert ExportJob.objects.get(pk=fresh.pk).send_error == ""


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_thread_of_this_process_runs_the_job(dataset, admin, settings):
    """The demo: no broker, the job runs in this process while the page polls it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True  # as without CELERY_BROKER_URL
    job = start_export_job(user=admin, dataset=dataset, kind="labels", fmt="csv", scope="all")
    deadline = time.monotonic() + 20
    while ExportJob.objects.get(pk=job.pk).active and time.monotonic() < deadline:
        time.sleep(0.05)
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.error) == ("done", N, "")
    assert len(_csv_ids(export_job_file(job=job, part="data"))) == N


def test_an_answers_job_writes_every_answer_and_vote_read_by_pandas(dataset, admin):
    import pandas as pd

    from review.models import Annotation, BinaryVote

    first, second = Sample.objects.filter(dataset=dataset).order_by("pk")[:2]
    person = UserFactory.create()
    Annotation.objects.create(sample=first, annotator=person, emotion="awe", confidence=7)
    BinaryVote.objects.create(sample=second, annotator=person, emotion="fear", value=True)
    BinaryVote.objects.create(sample=second, annotator=admin, emotion="fear", value=False)
    job = ExportJob.objects.create(dataset=dataset, kind="answers", fmt="csv", scope="all")
    assert run_export_job(job_id=job.pk) == "done"
    job.refresh_from_db()
    assert (job.file_name, job.rows_done, job.rows_total) == ("pets-answers.csv", 3, 3)
    frame = pd.read_csv(export_job_file(job=job, part="data"))
    assert sorted(frame["kind"]) == ["answer", "binary_vote", "binary_vote"]
    assert set(frame["external_id"]) == {first.external_id, second.external_id}
    sheet = export_job_file(job=job, part="datasheet").read_text()
    assert "every human answer, vote and final-label decision, 3 rows, as csv" in sheet


def test_the_label_map_and_datasheet_lie_beside_the_file(dataset, admin):
    import json

    job = _job(dataset, admin, fmt="csv", scope="decided")
    assert run_export_job(job_id=job.pk) == "done"
    job.refresh_from_db()
    labels = export_job_file(job=job, part="labels")
    sheet = export_job_file(job=job, part="datasheet")
    assert labels.name == "pets-decided.csv.labels.json"
    assert sheet.name == "pets-decided.csv.datasheet.md"
    names = json.dumps(json.loads(labels.read_text()))
    assert "amusement" in names and "sadness" in names  # the dataset's taxonomy, Mikels 8
    assert sheet.read_text().startswith("# Datasheet: pets")


def test_a_label_studio_job_carries_the_labeling_config_to_paste(dataset, admin):
    from django.http import Http404

    from review.selectors.export_jobs import export_job_parts

    job = _job(dataset, admin, fmt="labelstudio", scope="decided")
    assert run_export_job(job_id=job.pk) == "done"
    job.refresh_from_db()
    assert export_job_parts(job=job) == ["data", "labels", "datasheet", "labelconfig"]
    config = export_job_file(job=job, part="labelconfig")
    assert config.name == "pets-decided.labelstudio.json.labelconfig.xml"
    assert config.read_text().lstrip().startswith("<View")
    csv_job = _job(dataset, admin, fmt="csv", scope="decided")
    assert run_export_job(job_id=csv_job.pk) == "done"
    csv_job.refresh_from_db()
    assert "labelconfig" not in export_job_parts(job=csv_job)
    with pytest.raises(Http404):
        export_job_file(job=csv_job, part="labelconfig")


@pytest.mark.django_db(transaction=True)
def test_a_claim_is_released_even_while_another_connection_holds_the_job_a_moment(dataset, admin):
    """A transient error's release meets the same lock that caused it: tried again, it lands,
    and the retry claims the job at once instead of waiting for the lease to lapse."""
    import threading

    from django.db import connection, transaction

    job = export_job_runner.claim_export_job(job_id=_job(dataset, admin).pk)
    assert job is not None
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                ExportJob.objects.filter(pk=job.pk).update(rows_done=0)
                holding.set()
                time.sleep(0.3)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=hold, daemon=True).start()
    assert holding.wait(5)
    export_job_runner.release_export_job(job=job)
    assert done.wait(5)
    released = ExportJob.objects.get(pk=job.pk)
    assert released.status == ExportJob.Status.PENDING
    assert (released.claimed_by, released.lease_until, released.started_at) == ("", None, None)
    assert export_job_runner.claim_export_job(job_id=job.pk) is not None

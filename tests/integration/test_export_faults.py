"""An export job through a worker's death, with a real Celery worker, Redis and PostgreSQL: the
worker is SIGKILLed while it writes the file; once a worker is back the job is written again
from the start and finishes with a complete file, and no half-written file ever shows.

- solo pool: the whole worker dies; its message stays unacknowledged (Redis hands it out again
  only after the visibility timeout), the claim's lease lapses, and the re-send sweep (beat's
  review.resend_stuck_export_jobs, played here) sends the job again.
- prefork pool: the child dies; the pool hands the message back at once and the new child takes
  over the claim of the dead process without waiting for the lease.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time

import pytest

from annotator.models import Sample
from review.models import ExportJob
from review.selectors.export_jobs import export_job_dir
from review.services.export_jobs import resend_stuck_export_jobs, start_export_job
from tests.factories import AdminFactory, DatasetFactory, SampleFactory
from tests.support.celery_worker import Worker, running_worker

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

SAMPLES = 300
BATCH = 10  # 30 chunks of 0.2 s: about 6 s to write
LEASE = 2.0


def _job() -> ExportJob:
    return ExportJob.objects.get()


def _wait(predicate, *, worker: Worker | None, timeout: float, sweep: bool = False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker is not None:
            worker.check_alive()
        if sweep:
            resend_stuck_export_jobs()  # what beat does every EXPORT_RESEND_SECONDS
        time.sleep(0.5)
    log = worker.log() if worker is not None else ""
    raise AssertionError(f"not reached in {timeout:.0f} s: {_job().__dict__}\n{log}")


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_worker_killed_mid_export_leaves_no_half_file_and_the_job_finishes(
    pool, tmp_path, settings
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.EXPORT_CLAIM_LEASE_SECONDS = LEASE
    dataset = DatasetFactory.create(name="killed")
    SampleFactory.create_batch(SAMPLES, dataset=dataset, status=Sample.Status.AGREED)
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.support.export_fault_settings",
        "EXPORT_ROOT": str(settings.EXPORT_ROOT),
        "EXPORT_BATCH_SIZE": str(BATCH),
        "EXPORT_CLAIM_LEASE_SECONDS": str(LEASE),
    }
    with running_worker(queues=("default",), extra_env=env, pool=pool) as first:
        job = start_export_job(
            user=AdminFactory.create(), dataset=dataset, kind="labels", fmt="csv", scope="all"
        )
        _wait(lambda: _job().rows_done >= 5 * BATCH, worker=first, timeout=60)
        claimed = _job().claimed_by
        pid = int(claimed.rpartition(":")[2])
        os.kill(pid, signal.SIGKILL)  # mid-file: no warm shutdown, no acknowledgement
        killed = _job()
        assert killed.status == "running" and killed.rows_done < SAMPLES
        assert killed.file_size  # the bytes written so far, as the page shows them
        assert not (export_job_dir(job_id=job.pk) / "killed-all.csv").exists()
        if pool == "prefork":  # the pool replaces its child and redelivers the message
            _wait(lambda: _job().status == "done", worker=first, timeout=90)
    if pool == "solo":
        with running_worker(queues=("default",), extra_env=env, pool=pool, purge=False) as again:
            _wait(lambda: _job().status == "done", worker=again, timeout=90, sweep=True)
    done = _job()
    assert (done.attempts, done.rows_done, done.rows_total, done.error) == (2, SAMPLES, SAMPLES, "")
    assert done.claimed_by != claimed
    folder = export_job_dir(job_id=job.pk)
    rows = list(csv.DictReader(io.StringIO((folder / "killed-all.csv").read_text())))
    ids = set(Sample.objects.filter(dataset=dataset).values_list("external_id", flat=True))
    assert len(rows) == SAMPLES and {r["external_id"] for r in rows} == ids
    assert sorted(p.name for p in folder.iterdir()) == [
        "killed-all.csv", "killed-all.csv.datasheet.md", "killed-all.csv.labels.json",
    ]  # fmt: skip

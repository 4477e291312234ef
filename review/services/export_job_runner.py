"""Running one export job: claim it, write its files, count its progress, record how it ended.

Idempotent under redelivery (acks_late): the job is claimed with a conditional UPDATE (pending,
or running under a lapsed lease, or under the claim of a process gone from this host), and
every later write is conditional on that claim still being ours. A retaken job is written
again from the start (cheap next to the bookkeeping a resume would need); each file goes to a
temporary name in the job's folder and is renamed into place whole, so a half-written file
never shows, and a dead worker's temporary files are removed by the next claim.

Progress and the lease are written by a thread of their own (its own database connection),
every PROGRESS_EVERY seconds: the writer holds the main connection in a read snapshot
(review.selectors.snapshot), whose writes nobody would see until it ends. The same thread
notices a cancel (the claim is no longer ours) and the writer stops at its next chunk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import get_valid_filename

from review.models import ExportJob
from review.selectors.export_jobs import (
    BESIDE_SUFFIX,
    export_job_dir,
    export_part_name,
    export_rows_expected,
)
from review.services.export_formats import ExportChunk, ExportOptions, export_format
from review.services.export_posterior import LABEL_FROM_DECIDED
from review.services.mask_worker import owner_is_gone, worker_name

logger = logging.getLogger(__name__)

DONE, FAILED, SKIPPED, CANCELLED = "done", "failed", "skipped", "cancelled"
PROGRESS_EVERY = 0.5  # seconds between progress writes (at most ~2 a second)
ANSWER_FORMATS = ("csv", "parquet")
RELEASE_TRIES = 5  # a transient error's release of the claim, tried this often
RELEASE_PAUSE_SECONDS = 0.1  # times the try's number between tries
# The files beside the main one, and the writers that make them (the helpers' modules).
BESIDE_WRITERS = {
    "labels": "review.services.export_labelmap.label_map_bytes",
    "datasheet": "review.services.export_datasheet.datasheet_markdown",
    "labelconfig": "review.services.export_labelstudio.labelstudio_config_xml",
}


class _ClaimLost(Exception):
    """The job was cancelled, or another worker took it over: stop writing."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.EXPORT_CLAIM_LEASE_SECONDS)


def _claimable(*, gone_owner: str = "") -> Q:
    now = timezone.now()
    running = Q(status=ExportJob.Status.RUNNING)
    lapsed = Q(lease_until__lt=now) | Q(lease_until=None)
    claimable = Q(status=ExportJob.Status.PENDING) | (running & lapsed)
    if gone_owner:
        claimable |= running & Q(claimed_by=gone_owner)
    return claimable


def claim_export_job(*, job_id: int) -> ExportJob | None:
    """Claim the job for this process (None when it is not claimable: finished, cancelled, or
    held by a live claim). A claim starts the job over: no rows done, no error."""
    now = timezone.now()
    values: dict[str, Any] = {
        "status": ExportJob.Status.RUNNING, "started_at": now, "finished_at": None,
        "claimed_by": worker_name(), "lease_until": now + _lease(), "rows_done": 0,
        "error": "", "file_name": "", "file_size": None, "attempts": F("attempts") + 1,
    }  # fmt: skip
    jobs = ExportJob.objects.filter(pk=job_id)
    if not jobs.filter(_claimable()).update(**values):
        owner = jobs.filter(status=ExportJob.Status.RUNNING).values_list("claimed_by", flat=True)
        gone = next((o for o in owner if o and owner_is_gone(o)), "")
        if not gone or not jobs.filter(_claimable(gone_owner=gone)).update(**values):
            return None
        logger.warning("export job %s: taken over from %s (gone)", job_id, gone)
    return ExportJob.objects.select_related("dataset").get(pk=job_id)


def _ours(job: ExportJob) -> Any:
    return ExportJob.objects.filter(
        pk=job.pk,
        status=ExportJob.Status.RUNNING,
        claimed_by=job.claimed_by,
        started_at=job.started_at,
    )


class _Progress:
    """Counts rows and bytes as chunks come and writes them (and renews the lease) every
    PROGRESS_EVERY seconds, the first bytes at once (a format may count its rows only in a
    second pass, as COCO's annotations: its bytes still move). From a thread with its own
    connection, or inline when the caller runs the job inside a transaction of its own (a
    test), where another connection would not see the job."""

    def __init__(self, job: ExportJob) -> None:
        self.job, self.rows, self.bytes, self.lost = job, 0, 0, False
        self._inline = connection.in_atomic_block
        self._stop = threading.Event()
        self._first = threading.Event()  # the first bytes' progress is written at once
        self._last = timezone.now()
        self._thread = threading.Thread(target=self._run, name=f"export-{job.pk}", daemon=True)

    def __enter__(self) -> _Progress:
        if not self._inline:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._first.set()  # a thread still waiting for the first bytes ends now
        if not self._inline:
            self._thread.join()

    def add(self, rows: int, size: int) -> None:
        self.rows += rows
        self.bytes += size
        if self.bytes:
            self._first.set()
        if self._inline and (timezone.now() - self._last).total_seconds() >= PROGRESS_EVERY:
            self._last = timezone.now()
            self._write()
        if self.lost:
            raise _ClaimLost

    def _write(self) -> None:
        lease_until = timezone.now() + _lease()
        progress = {"rows_done": self.rows, "file_size": self.bytes, "lease_until": lease_until}
        if not _ours(self.job).update(**progress):
            self.lost = True

    def _run(self) -> None:
        try:
            self._first.wait(PROGRESS_EVERY)
            while not self._stop.is_set() and not self.lost:
                self._write()
                self._stop.wait(PROGRESS_EVERY)
        except DatabaseError as exc:  # the lease lapses; a takeover writes the job again
            logger.warning("export job %s: progress not written (%s)", self.job.pk, exc)
        finally:
            connections.close_all()  # this thread's own connection


def _remove_leftovers(folder: Path) -> None:
    """A dead worker's temporary files (".<name>.<random>.part")."""
    for leftover in folder.glob(".*.part"):
        leftover.unlink(missing_ok=True)


def _write_atomically(path: Path, chunks: Iterator[bytes], *, ours: Any) -> int:
    """Write the chunks to a temporary file beside `path`, then rename it into place if the
    claim is still ours; returns the file's size. Nothing stays behind on failure."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for data in chunks:
                out.write(data)
        if not ours.exists():
            raise _ClaimLost
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def job_file_name(*, job: ExportJob) -> str:
    """The main file's name: "<dataset>-<scope>.<suffix>" for labels, "<dataset>-answers.<fmt>"
    for answers (made safe for a file system)."""
    name = job.dataset.name
    if job.kind == ExportJob.Kind.ANSWERS:
        return get_valid_filename(f"{name}-answers.{job.fmt}")
    return get_valid_filename(f"{name}-{job.scope}.{export_format(job.fmt).suffix}")


def job_chunks(*, job: ExportJob) -> Iterator[ExportChunk]:
    """The job's main file as chunks, from the labels registry or the answers writer."""
    options = ExportOptions(
        formula_guard=bool(job.options.get("formula_guard", True)),
        embed_images=bool(job.options.get("embed_images", False)),
        label_from=str(job.options.get("label_from", LABEL_FROM_DECIDED)),
    )
    if job.kind == ExportJob.Kind.ANSWERS:
        writer = import_string("review.services.export_answers.iter_answers_export")
        answers: Iterator[ExportChunk] = writer(
            dataset=job.dataset, fmt=job.fmt, formula_guard=options.formula_guard
        )
        return answers
    return export_format(job.fmt).chunks(dataset=job.dataset, scope=job.scope, options=options)


def _data_bytes(chunks: Iterator[ExportChunk], progress: _Progress) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.data
            progress.add(chunk.rows, len(chunk.data))
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the writer's snapshot ends here, also when we stop early


def _beside_bytes(*, job: ExportJob, part: str, rows: int) -> bytes | None:
    """The label map, datasheet or Label Studio config; None when the job has no such part
    or its writer is not installed."""
    if part == "labelconfig" and (job.kind, job.fmt) != (ExportJob.Kind.LABELS, "labelstudio"):
        return None
    try:
        writer = import_string(BESIDE_WRITERS[part])
    except ImportError:
        logger.warning("export job %s: no %s writer (%s)", job.pk, part, BESIDE_WRITERS[part])
        return None
    if part == "labels":
        return bytes(writer(dataset=job.dataset))
    if part == "labelconfig":
        return str(writer(dataset=job.dataset)).encode("utf-8")
    if job.kind == ExportJob.Kind.LABELS:
        sheet = writer(dataset=job.dataset, scope=job.scope, fmt=job.fmt)
    else:
        sheet = writer(dataset=job.dataset, scope="all", fmt=job.fmt, answer_rows=rows)
    return str(sheet).encode("utf-8")


def write_job_files(*, job: ExportJob) -> tuple[str, int, int]:
    """Write the main file and the files beside it; (file name, its size, rows written)."""
    folder = export_job_dir(job_id=job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    name = job_file_name(job=job)
    with _Progress(job) as progress:
        size = _write_atomically(
            folder / name, _data_bytes(job_chunks(job=job), progress), ours=_ours(job)
        )
    for part in BESIDE_SUFFIX:
        data = _beside_bytes(job=job, part=part, rows=progress.rows)
        if data is not None:
            path = folder / export_part_name(file_name=name, part=part)  # type: ignore[arg-type]
            _write_atomically(path, iter([data]), ours=_ours(job))
    return name, size, progress.rows


def _finish(job: ExportJob, status: str, **values: Any) -> bool:
    return bool(
        _ours(job).update(status=status, finished_at=timezone.now(), lease_until=None, **values)
    )


def release_export_job(*, job: ExportJob) -> None:
    """Back to pending (a transient database error: the task's retry claims it again). A lock
    that made the job fail is usually still there a moment later, so the release is tried
    RELEASE_TRIES times; when every try failed it logs a warning (the lease then lapses)."""
    for attempt in range(RELEASE_TRIES):
        with contextlib.suppress(DatabaseError):
            _ours(job).update(
                status=ExportJob.Status.PENDING, claimed_by="", lease_until=None, started_at=None
            )
            return
        time.sleep(RELEASE_PAUSE_SECONDS * (attempt + 1))
    logger.warning("export job %s: not released; it waits for its lease to lapse", job.pk)


def execute_export_job(*, job_id: int) -> str:
    """Claim and run the job; returns "done", "failed", "cancelled" (stopped by a cancel or a
    takeover) or "skipped" (not claimable). Transient database errors are raised after the
    claim is released, for the caller to try again."""
    job = claim_export_job(job_id=job_id)
    if job is None:
        return SKIPPED
    try:
        total = export_rows_expected(dataset_id=job.dataset_id, kind=job.kind, scope=job.scope)
        _ours(job).update(rows_total=total)
        name, size, rows = write_job_files(job=job)
    except _ClaimLost:
        return CANCELLED
    except DatabaseError as exc:
        if _transient(exc):
            release_export_job(job=job)
            raise
        return _failed(job, exc)
    except Exception as exc:
        return _failed(job, exc)
    values = {"file_name": name, "file_size": size, "rows_done": rows, "rows_total": rows}
    return DONE if _finish(job, ExportJob.Status.DONE, **values) else CANCELLED


def _transient(exc: DatabaseError) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _failed(job: ExportJob, exc: Exception) -> str:
    # Not transient: a bug, a full disk, bad data. The page shows the message; a new job can
    # be started once it is fixed.
    logger.exception("export job %s failed", job.pk)
    _finish(job, ExportJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    return FAILED

"""Run a real Celery worker process against the test database and broker.

Usage (in a test marked redis, and django_db(transaction=True) so the worker sees the rows):

    with running_worker(queues=("default",)) as worker:
        some_task.delay(...)
        wait_until(lambda: ..., worker=worker, timeout=60)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from annotator.celery import app

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    hostname: str
    log_path: Path

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"Celery worker exited with {self.process.returncode}:\n{self.log()}"
            )


def database_url_for_worker() -> str:
    """DATABASE_URL naming the database this test process uses (pytest-django's test_<name>)."""
    db: dict[str, Any] = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError(
                "a worker process cannot share an in-memory SQLite test database; "
                "run this test with DATABASE_URL=postgres://..."
            )
        return f"sqlite:///{Path(name).resolve()}"
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or ''}{port}/{quote(db['NAME'], safe='')}"


def _worker_env() -> dict[str, str]:
    broker = settings.CELERY_BROKER_URL
    if not broker:
        raise RuntimeError("CELERY_BROKER_URL is unset: a real worker needs the Redis broker")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_worker(),
        CELERY_BROKER_URL=broker,
        DJANGO_SETTINGS_MODULE="annotator.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_ready(worker: Worker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.check_alive()
        if app.control.ping(destination=[worker.hostname], timeout=0.5):
            return
    raise AssertionError(f"Celery worker not ready after {timeout:.0f} s:\n{worker.log()}")


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: warm shutdown, the running task may finish
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


@contextmanager
def running_worker(
    *,
    queues: Sequence[str] = ("default", "gpu", "llm"),
    ready_timeout: float = 30.0,
    extra_env: dict[str, str] | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    purge: bool = True,
) -> Iterator[Worker]:
    """Start `celery -A annotator worker --pool <pool>` on `queues`; always stop it afterwards.

    Messages left in the queues by earlier runs are purged first (unless `purge` is False: a
    worker started in place of one a test killed), so the worker only sees what this test sends.
    """
    env = _worker_env() | (extra_env or {})
    if purge:
        app.control.purge()
    hostname = f"pytest-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in finally)
        prefix="celery-worker-", suffix=".log", delete=False
    )
    command = [
        sys.executable, "-m", "celery", "-A", "annotator", "worker",
        "-Q", ",".join(queues), "--pool", pool, "--concurrency", str(concurrency),
        "--hostname", hostname,
        "--loglevel", "INFO", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = Worker(process=process, hostname=hostname, log_path=Path(log_file.name))
    try:
        _wait_ready(worker, ready_timeout)
        yield worker
    finally:
        _stop(process, grace=15.0)
        log_file.close()
        worker.log_path.unlink(missing_ok=True)


def wait_until(
    predicate: Callable[[], bool], *, worker: Worker, timeout: float = 60.0, every: float = 0.2
) -> None:
    """Poll `predicate` until it holds; fail early if the worker died, with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        worker.check_alive()
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout:.0f} s; worker log:\n{worker.log()}")

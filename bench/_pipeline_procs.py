"""The processes pipeline_throughput.py runs around a measurement: the loopback model endpoint,
celery workers and beat, and the CPU time their process trees used."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any


def serve(urls: Any, stop: Any) -> None:
    """The loopback endpoint, in a process of its own: its threads do not compete with the
    bench's dispatching for one interpreter lock."""
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer(default=responder, record=False) as server:
        urls.put(server.base_url)
        stop.wait()


@contextmanager
def endpoint_process():
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=serve, args=(urls, stop), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        process.join(timeout=10)


def responder(body: dict[str, Any]) -> Any:
    from tests.support.openai_server import critic_content, instant_annotation, reply
    from tests.support.pipeline_runs import is_critic

    if is_critic(body):
        return reply(critic_content(verdict="preserve", emotion="awe", instructions=""))
    return instant_annotation(body)  # the emotion depends on image and model: ~7/8 disputed


@contextmanager
def workers(pool: str, concurrency: int, count: int, env: dict[str, str], code: Path):
    """`count` worker processes, each `--pool pool -c concurrency`, on every queue, running the
    code in `code`; yields their pids."""
    with ExitStack() as stack:
        yield [stack.enter_context(_worker(pool, concurrency, env, code)).pid for _ in range(count)]


@contextmanager
def _worker(pool: str, concurrency: int, env: dict[str, str], code: Path):
    from annotator.celery import app

    hostname = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    command = [
        sys.executable, "-m", "celery", "-A", "annotator", "worker", "-Q", "default,gpu,llm",
        "--pool", pool, "-c", str(concurrency), "--hostname", hostname, "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[hostname], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{Path(log.name).read_text()[-3000:]}")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the worker processes and their pool children used so far."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid: str) -> list[str] | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on

    roots = {str(pid) for pid in pids}
    total = 0.0
    for entry in os.listdir("/proc"):
        fields = stat(entry) if entry.isdigit() else None
        if fields and (entry in roots or fields[1] in roots):  # fields[1]: the parent's pid
            total += sum(int(v) for v in fields[11:13]) / tick  # utime, stime
    return total


@contextmanager
def beat(env: dict[str, str], folder: Path, code: Path):
    """celery beat, polling batch mode's batches every second."""
    command = [
        sys.executable, "-m", "celery", "-A", "annotator", "beat", "--loglevel", "WARNING",
        "--schedule", str(folder / f"beat-{uuid.uuid4().hex[:6]}"),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=code, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)

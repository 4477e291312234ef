"""Concurrent clients against gunicorn for bench/queue_speed.py: p50/p95 and server CPU.

gunicorn runs as docker/entrypoint.sh starts it (sync workers, WEB_CONCURRENCY=3 by default).
Server CPU is read from /proc: the gunicorn workers' user+system time, plus the PostgreSQL
backends' when the database is PostgreSQL (on SQLite the database works inside the workers).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLOCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


def proc_cpu(pid: int) -> float:
    """CPU seconds of one process, to the nanosecond (the scheduler's run time in
    /proc/PID/schedstat; /proc/PID/stat's user and system times move in 10 ms ticks, which
    made a 10 ms request's share of a PostgreSQL backend noise); 0 when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except OSError:
        pass
    try:  # a kernel without schedstat: the tick counts
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def database_backends() -> list[int]:
    """PostgreSQL backends on this database other than our own (none on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class Server:
    def __init__(self, *, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        command = [
            str(Path(sys.executable).parent / "gunicorn"), "annotator.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), "--timeout", "120",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=REPO, env=os.environ.copy())
        for _ in range(200):
            try:
                if self.get("/healthz", {})[0] in (200, 503):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer within 20 s")

    def get(self, path: str, cookies: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, cookies)

    def request(
        self, method: str, path: str, cookies: dict[str, str], body: str = "", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), **headers}
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body or None, headers=sent)
        response = conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            match = re.match(r"([^=]+)=([^;]*)", value)
            if match:
                cookies[match[1]] = match[2]
        conn.close()
        return response.status, dict(response.headers), data

    def server_cpu(self) -> float:
        pids = children(self.process.pid) + database_backends()
        return sum(proc_cpu(pid) for pid in pids) + proc_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


Step = Callable[[Server, dict[str, str]], str]  # runs one request, returns its kind


def run_clients(
    server: Server, *, clients: list[tuple[dict[str, str], Step]], seconds: float
) -> tuple[dict[str, list[float]], float, int]:
    """Each client repeats its step until time is up. (ms per kind, server CPU s, requests)."""
    times: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors: list[BaseException] = []

    def loop(cookies: dict[str, str], step: Step) -> None:
        try:
            while time.monotonic() < stop:
                start = time.perf_counter()
                kind = step(server, cookies)
                ms = (time.perf_counter() - start) * 1000
                with lock:
                    times[kind].append(ms)
        except BaseException as error:  # reported after the run
            errors.append(error)

    cpu_before = server.server_cpu()
    threads = [threading.Thread(target=loop, args=client) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = server.server_cpu() - cpu_before
    if errors:
        raise errors[0]
    return dict(times), cpu, sum(len(v) for v in times.values())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def session_cookies(user: Any) -> dict[str, str]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}

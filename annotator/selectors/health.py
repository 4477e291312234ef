"""The system's health for operators and compose healthchecks (/healthz).

Database (SELECT 1), broker (a connection and LLEN of each queue), workers (WorkerHeartbeat rows
seen within HEALTH_WORKER_SECONDS: every queue needs one) and queue lengths. Without a broker
(the embedded default) tasks run in-process: broker and workers are not needed. Never says
where the database or broker are, nor any password: errors are named by their kind only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from annotator.models import WorkerHeartbeat
from annotator.pipeline.runs.dispatch import BROKER_ERRORS, queue_lengths, uses_broker

QUEUES = ("default", "gpu", "llm")


@dataclass
class Health:
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        return [name for name, part in self.parts.items() if not part["ok"]]

    @property
    def ok(self) -> bool:
        return not self.failing

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "failing", "failing": self.failing, **self.parts}


def system_health(*, now: datetime | None = None) -> Health:
    health = Health()
    health.parts["database"] = _database()
    if not uses_broker():
        health.parts["broker"] = {"ok": True, "mode": "none: tasks run in-process"}
        return health
    health.parts["broker"], lengths = _broker()
    if health.parts["database"]["ok"]:
        health.parts["workers"], consumers = _workers(now or timezone.now())
    else:
        health.parts["workers"], consumers = {"ok": False, "error": "database unreachable"}, {}
    # Messages waiting per queue (None: unknown, a broker without lists) and workers serving it.
    health.parts["queues"] = {
        "ok": health.parts["broker"]["ok"],
        **{name: {"waiting": (lengths or {}).get(name), "workers": consumers.get(name, 0)}
           for name in QUEUES},
    }  # fmt: skip
    return health


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": _ms(started)}


def _broker() -> tuple[dict[str, Any], dict[str, int] | None]:
    started = time.perf_counter()
    try:
        lengths = queue_lengths(list(QUEUES))
    except BROKER_ERRORS as exc:
        return {"ok": False, "error": f"unreachable ({type(exc).__name__})"}, None
    return {"ok": True, "ms": _ms(started)}, lengths


def _workers(now: datetime) -> tuple[dict[str, Any], dict[str, int]]:
    within = settings.HEALTH_WORKER_SECONDS
    rows = WorkerHeartbeat.objects.filter(seen_at__gte=now - timedelta(seconds=within))
    seen = [
        {
            "name": row.name,
            "queues": row.queues,
            "seconds_ago": round((now - row.seen_at).total_seconds()),
        }
        for row in rows.order_by("name")
    ]
    consumers = {name: sum(name in row["queues"] for row in seen) for name in QUEUES}
    idle = [name for name in QUEUES if not consumers[name]]
    part: dict[str, Any] = {"ok": not idle, "seen_within_seconds": within, "seen": seen}
    if idle:
        part["error"] = f"no worker seen for queue {', '.join(idle)}"
    return part, consumers


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _ago(now: datetime, then: datetime) -> int:
    return round((now - then).total_seconds())

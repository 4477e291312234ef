"""Unit claims that name their worker and lapse when it is gone; the workers' heartbeat.

A claim is StageResult.claimed_by + lease_until. claimed_by names the process holding the unit:
"node:main pid:pid" (the Celery node name, worker@host, its main process, and the process that
runs the unit: the same in a solo pool, a child in a prefork pool). While a unit runs, a thread
of that process renews its lease every quarter of PIPELINE_UNIT_LEASE_SECONDS, so the lease
lapses minutes after its worker died, however long a unit may take. The same thread writes the
worker's WorkerHeartbeat row (/healthz).

A claim is taken over at once, without waiting for its lease, when it names a process of this
very worker that is gone (a prefork child was killed: the broker hands its message to a sibling
at once) or, in a worker process that runs one task at a time, this process itself (its earlier
try ended).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection
from django.utils import timezone

from annotator.models import StageResult, WorkerHeartbeat
from annotator.pipeline.runs.units import RUNNING
from annotator.processes import process_alive

logger = logging.getLogger(__name__)


@dataclass
class _Identity:
    node: str = field(default_factory=socket.gethostname)
    main_pid: int = field(default_factory=os.getpid)
    single_task: bool = False  # a Celery worker process: one task at a time
    queues: list[str] | None = None  # set in a worker's main process: it writes the heartbeat


_identity = _Identity()


def set_worker_identity(*, node: str, main_pid: int, single_task: bool = True) -> None:
    """Called by the worker's signals (annotator/celery.py): before the pool starts (main) and
    in each prefork child."""
    _identity.node, _identity.main_pid, _identity.single_task = node, main_pid, single_task


def holder_id() -> str:
    return f"{_identity.node}:{_identity.main_pid}:{os.getpid()}"


def lease_length() -> timedelta:
    return timedelta(seconds=max(1, settings.PIPELINE_UNIT_LEASE_SECONDS))


def holder_is_gone(claimed_by: str) -> bool:
    """Whether the claim names a process of this worker that is dead (or is this process, when
    it runs one task at a time). Claims of other workers lapse with their lease."""
    parts = claimed_by.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return False
    node, main_pid, pid = parts[0], int(parts[1]), int(parts[2])
    if (node, main_pid) != (_identity.node, _identity.main_pid):
        return False
    if pid == os.getpid():
        return _identity.single_task
    return not process_alive(pid)


class _Keeper(threading.Thread):
    """Renews the leases of the units this process runs; in a worker's main process it also
    writes the heartbeat row. Touches the database only when there is something to write."""

    def __init__(self) -> None:
        super().__init__(name="unit-lease-keeper", daemon=True)
        self.held: dict[int, str] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()

    def run(self) -> None:
        while True:
            self.wake.wait(self.interval())
            self.wake.clear()
            try:
                renew_leases()
                write_worker_heartbeat()
            except DatabaseError as exc:  # the database is away: try again next time
                logger.warning("lease keeper: %s", exc)
            except Exception:  # never let the thread die: leases would lapse under live units
                logger.exception("lease keeper")
            finally:
                connection.close_if_unusable_or_obsolete()

    @staticmethod
    def interval() -> float:
        every = settings.PIPELINE_UNIT_LEASE_SECONDS / 4
        if _identity.queues is not None:
            every = min(every, settings.WORKER_HEARTBEAT_SECONDS)
        return max(0.5, every)


_keeper: _Keeper | None = None
_keeper_pid = 0
_keeper_lock = threading.Lock()


def keeper() -> _Keeper:
    """This process's keeper, started on first use (a prefork child starts its own)."""
    global _keeper, _keeper_pid
    with _keeper_lock:
        if _keeper is None or _keeper_pid != os.getpid():
            _keeper, _keeper_pid = _Keeper(), os.getpid()
            _keeper.start()
        return _keeper


def hold(*, unit_id: int, holder: str) -> None:
    """Keep renewing this unit's lease until `release`."""
    hold_units(unit_ids=[unit_id], holder=holder)


def release(*, unit_id: int) -> None:
    release_units(unit_ids=[unit_id])


def hold_units(*, unit_ids: list[int], holder: str) -> None:
    """`hold` for a chunk of units claimed together."""
    kept = keeper()
    with kept.lock:
        kept.held.update(dict.fromkeys(unit_ids, holder))


def release_units(*, unit_ids: list[int]) -> None:
    kept = keeper()
    with kept.lock:
        for unit_id in unit_ids:
            kept.held.pop(unit_id, None)


def renew_leases() -> int:
    """Push the lease of every unit this process holds (and still owns) a lease further."""
    kept = keeper()
    with kept.lock:
        held = dict(kept.held)
    renewed = 0
    until = timezone.now() + lease_length()
    for holder in set(held.values()):
        ids = [pk for pk, owner in held.items() if owner == holder]
        renewed += StageResult.objects.filter(pk__in=ids, status=RUNNING, claimed_by=holder).update(
            lease_until=until
        )
    return renewed


def start_worker_heartbeat(*, queues: list[str]) -> None:
    """In a worker's main process, once it is ready: write the row now and every few seconds.
    Rows of workers gone for a day (killed, renamed) are dropped on the way."""
    _identity.queues = sorted(queues)
    write_worker_heartbeat()
    WorkerHeartbeat.objects.filter(seen_at__lt=timezone.now() - timedelta(days=1)).delete()
    keeper().wake.set()


def in_pool_child() -> None:
    """A prefork child (forked, maybe after the main process started its heartbeat): it runs
    units, renews their leases, and leaves the heartbeat row to the main process."""
    _identity.queues = None


def write_worker_heartbeat() -> None:
    if _identity.queues is None:
        return
    now = timezone.now()
    values = {"queues": _identity.queues, "pid": _identity.main_pid, "seen_at": now}
    if WorkerHeartbeat.objects.filter(name=_identity.node).update(**values):
        return
    try:
        WorkerHeartbeat.objects.create(name=_identity.node, started_at=now, **values)
    except IntegrityError:  # a worker of the same name wrote first
        WorkerHeartbeat.objects.filter(name=_identity.node).update(**values)


def stop_worker_heartbeat() -> None:
    """A worker shutting down: it is not seen any more (a killed one ages out)."""
    if _identity.queues is not None:
        WorkerHeartbeat.objects.filter(name=_identity.node, pid=_identity.main_pid).delete()
        _identity.queues = None

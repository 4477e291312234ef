"""Whether a process on this host still runs: how a worker tells that a claim's holder died
(a SIGKILLed prefork child, whose task the pool redelivers at once) without waiting for its
lease. Used by the pipeline's unit claims and by review's mask-edit claims."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """False when no process `pid` runs here, or it is a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # gone since the kill(0), or a system without /proc
        return not Path("/proc/self/stat").exists()
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")

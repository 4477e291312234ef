"""process_alive: how a claim's holder is known dead before its lease lapses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from annotator.processes import process_alive


def test_this_process_is_alive():
    assert process_alive(os.getpid())


def test_a_killed_child_not_yet_reaped_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, still a zombie
        assert not process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid)  # reaped: no such process

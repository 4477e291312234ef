"""Settings for a worker process the fault tests kill in the middle of mask edits.

SEGMENTER=grabcut-slow is GrabCut that first sleeps FAULT_SEGMENT_SECONDS (default 0.5), so a
test (or bench/faults.py) can SIGKILL the worker while an edit is claimed and computing. No
model weights: it runs wherever GrabCut (opencv) does.
"""

import os
import time

from annotator.adapters.segmenters import register_segmenter
from annotator.settings import *  # noqa: F403


class _SlowGrabCut:
    needs_embedding = False

    def __init__(self) -> None:
        from annotator.adapters.segmenters.grabcut import GrabCutSegmenter

        self._grabcut = GrabCutSegmenter()
        self.name = self._grabcut.name

    def prepare(self, **kwargs):  # type: ignore[no-untyped-def]
        return True

    def is_prepared(self, **kwargs):  # type: ignore[no-untyped-def]
        return True

    def segment(self, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(float(os.environ.get("FAULT_SEGMENT_SECONDS", "0.5")))
        return self._grabcut.segment(**kwargs)


register_segmenter("grabcut-slow", _SlowGrabCut)

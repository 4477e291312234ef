"""Settings for a worker process that segments with the tiny SAM (tests/support/tiny_sam.py).

A test starts the worker with DJANGO_SETTINGS_MODULE=tests.support.tiny_sam_settings,
SEGMENTER=sam, SAM_MODEL_TYPE=tiny and SAM_CHECKPOINT=<a file it wrote with
torch.save(build_tiny_sam(...).state_dict(), path)>. This module adds "tiny" to
segment_anything's model registry, so the worker builds the model through the app's real
path (settings -> get_segmenter -> SamSegmenter.from_settings -> sam_model_registry[type]
(checkpoint=...)) exactly as with an official vit_b file.

For the worker-loss test two more knobs:
- SEGMENTER=sam-slow: SAM that first sleeps TINY_SAM_DELAY_SECONDS, so a test can kill the
  worker in the middle of a task;
- TINY_SAM_REDELIVER_AFTER=<seconds>: the broker's visibility timeout, so that the message a
  killed worker never acknowledged is delivered again within the test.
"""

import importlib
import os
import time

from annotator.adapters.segmenters import register_segmenter
from annotator.settings import *  # noqa: F403
from tests.support.tiny_sam import build_tiny_sam  # fixes torchvision up before segment_anything

importlib.import_module("segment_anything").sam_model_registry["tiny"] = build_tiny_sam


class _SlowSam:
    needs_embedding = True

    def __init__(self) -> None:
        from annotator.adapters.segmenters.sam import SamSegmenter

        self._sam = SamSegmenter.from_settings()
        self.name = self._sam.name

    def prepare(self, **kwargs):  # type: ignore[no-untyped-def]
        return self._sam.prepare(**kwargs)

    def is_prepared(self, **kwargs):  # type: ignore[no-untyped-def]
        return self._sam.is_prepared(**kwargs)

    def segment(self, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(float(os.environ.get("TINY_SAM_DELAY_SECONDS", "30")))
        return self._sam.segment(**kwargs)


register_segmenter("sam-slow", _SlowSam)

if os.environ.get("TINY_SAM_REDELIVER_AFTER"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": float(os.environ["TINY_SAM_REDELIVER_AFTER"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

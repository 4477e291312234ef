"""Settings for a worker process that segments with the tiny SAM (tests/support/tiny_sam.py).

A test starts the worker with DJANGO_SETTINGS_MODULE=tests.support.tiny_sam_settings,
SEGMENTER=sam, SAM_MODEL_TYPE=tiny and SAM_CHECKPOINT=<a file it wrote with
torch.save(build_tiny_sam(...).state_dict(), path)>. This module only adds "tiny" to
segment_anything's model registry, so the worker builds the model through the app's real
path (settings -> get_segmenter -> SamSegmenter.from_settings -> sam_model_registry[type]
(checkpoint=...)) exactly as with an official vit_b file.
"""

import importlib

from annotator.settings import *  # noqa: F403
from tests.support.tiny_sam import build_tiny_sam  # fixes torchvision up before segment_anything

importlib.import_module("segment_anything").sam_model_registry["tiny"] = build_tiny_sam

"""The web app must not load the model stack: it is heavy and optional."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["torch", "segment_anything", "groundingdino", "openai", "cv2", "transformers"]

SCRIPT = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "annotator.settings"
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view module
import annotator.wsgi, annotator.celery
annotator.celery.app.loader.import_default_modules()  # every tasks module
print(",".join(m for m in %r if m in sys.modules))
"""


def test_importing_the_web_app_loads_no_model_stack():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT % HEAVY], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"loaded: {out.stdout.strip()}"

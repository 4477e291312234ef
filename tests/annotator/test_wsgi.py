"""A gunicorn worker is ready when it imports the application: views imported, startup objects
frozen out of the garbage collector's full passes."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, sys
before = gc.get_freeze_count()
import annotator.wsgi
print(before, gc.get_freeze_count(), "review.views.sample" in sys.modules)
"""


def test_importing_the_application_imports_the_views_and_freezes_what_it_built():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    before, after, views = out.stdout.split()
    assert int(before) == 0
    assert int(after) > 50_000  # Django, the URLconf and the views: all of it, not a handful
    assert views == "True"

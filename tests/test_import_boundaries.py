"""Import boundaries: the web app loads no model stack (heavy and optional), and the machine
side (annotator/) never reaches the human side (review/)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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


# annotator/ is the machine side and review/ the human side built on it: annotator never
# imports review, not even by name through the app registry. Files listed here still do,
# each with the issue that moves it; the list may only shrink (a stale entry fails too).
ANNOTATOR_TO_REVIEW_PENDING: set[str] = set()
REVIEW_REFERENCE = re.compile(
    r"^\s*(?:from\s+review(?:\.|\s)|import\s+review\b)"  # import review / from review...
    r"|get_model\(\s*[\"']review[\"'.]",  # apps.get_model("review", ...) / ("review.Model")
    re.MULTILINE,
)


def _annotator_files_reaching_review() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "annotator").rglob("*.py")):
        hits = [m.group(0).strip() for m in REVIEW_REFERENCE.finditer(path.read_text())]
        if hits:
            found[path.relative_to(ROOT).as_posix()] = hits
    return found


def test_the_machine_side_never_imports_the_human_side():
    found = _annotator_files_reaching_review()
    unexpected = {
        path: hits for path, hits in found.items() if path not in ANNOTATOR_TO_REVIEW_PENDING
    }
    assert unexpected == {}, "annotator -> review (register a hook from review's AppConfig.ready)"
    stale = ANNOTATOR_TO_REVIEW_PENDING - set(found)
    assert stale == set(), "no longer reaches review: drop it from ANNOTATOR_TO_REVIEW_PENDING"


def test_the_boundary_check_sees_each_way_of_reaching_review():
    caught = [
        "from review.models import AuditEvent",
        "    from review import policy",
        "import review.roles",
        'apps.get_model("review", "AuditEvent")',
        "apps.get_model('review.AuditEvent')",
    ]
    missed = ["from reviewer import x", "# the review app", 'get_model("annotator", "Sample")']
    assert all(REVIEW_REFERENCE.search(line) for line in caught)
    assert not any(REVIEW_REFERENCE.search(line) for line in missed)


# The dev extra's packages, by import name: tests and bench use them; the app never does, or a
# deployment installed without the extra would fail (pyproject.toml keeps them out of runtime).
# Not pandas: crowd-kit, which the consensus fit uses, takes pandas frames and brings pandas.
DEV_ONLY = [
    "pytest", "factory", "playwright", "skimage", "schemathesis", "datasets",
    "polars", "markdown_it", "krippendorff", "statsmodels", "sklearn",
]  # fmt: skip


def test_the_app_imports_nothing_from_the_dev_extra():
    pattern = re.compile(r"^\s*(?:from|import)\s+(" + "|".join(DEV_ONLY) + r")\b", re.MULTILINE)
    found = {
        path.relative_to(ROOT).as_posix(): pattern.findall(path.read_text())
        for folder in ("annotator", "review")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    }
    assert {path: names for path, names in found.items() if names} == {}


# review/views/ holds only views: what builds tables, charts or a page's context lives in
# review/audit/ or review/pages/, so nothing but the URL confs imports a views module.
VIEWS_IMPORT = re.compile(r"^\s*(?:from\s+review\.views\b|from\s+review\s+import\s+views\b)", re.M)
URL_CONFS = {"review/urls.py", "review/auth_urls.py"}


def test_only_the_url_confs_import_views():
    found = [
        path.relative_to(ROOT).as_posix()
        for folder in ("annotator", "review")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if VIEWS_IMPORT.search(path.read_text())
    ]
    outside = [p for p in found if p not in URL_CONFS and not p.startswith("review/views/")]
    assert outside == [], "move what these need from review/views/ to review/audit/ or pages/"
    assert VIEWS_IMPORT.search("from review.views.audit import x")
    assert not VIEWS_IMPORT.search("from review.viewsets import x")

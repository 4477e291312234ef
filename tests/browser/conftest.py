"""A real chromium (Debian's, not Playwright's download) driven by Playwright's sync API."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.demo_site import demo_site  # noqa: F401  (a fixture for every browser test)

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM
# calls from the test body ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def chromium_page(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def seeded_rows() -> None:
    """The taxonomy and role groups migrations seed: a transactional test's live_server flushes
    the database afterwards, so tests that sign people in put them back first."""
    from django.contrib.auth.models import Group

    from annotator.models import Taxonomy
    from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
    from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR

    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})
    for name in (ANNOTATOR, ADJUDICATOR, AUDITOR):
        Group.objects.get_or_create(name=name)

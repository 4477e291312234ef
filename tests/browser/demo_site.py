"""The app exactly as the README's demo sets it up, for browser tests that assert what a person
sees: the bundled demo dataset (overlap k = 1), the accounts `annotator` and `admin`, the default
segmenter (GrabCut: no SAM checkpoint) and tasks in-process.

In the PostgreSQL + Redis leg (CELERY_BROKER_URL set) the same fixture also starts a real Celery
worker on every queue, so the same test runs through the broker.

tests/browser/conftest.py makes the fixture available to every browser test:

    def test_something(demo_site, chromium_browser):
        page = demo_site.log_in(chromium_browser, "annotator")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group

from annotator.models import Dataset, Sample, Taxonomy
from annotator.services.demo import DEMO_DATASET, import_demo_dataset, reset_demo_account
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR

LAPTOP = {"width": 1366, "height": 768}
DESKTOP = {"width": 1440, "height": 900}


@dataclass
class DemoSite:
    url: str
    passwords: dict[str, str]
    dataset: Dataset
    contexts: list[Any] = field(default_factory=list)

    def log_in(self, browser: Any, username: str, *, viewport: dict[str, int] | None = None) -> Any:
        """A new browser context signed in as `username`; returns its page on the queue."""
        context = browser.new_context(viewport=viewport or DESKTOP)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(f"{self.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", self.passwords[username])
        page.click("button[type=submit] >> text=Log in")
        page.wait_for_url(f"{self.url}/review/")
        return page

    def disputed(self) -> list[Sample]:
        return list(self.dataset.samples.filter(status=Sample.Status.DISPUTED).order_by("pk"))


def _seed_rows() -> None:
    # live_server tests flush the database afterwards; migrations' seeded rows come back here.
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})
    for name in (ANNOTATOR, ADJUDICATOR, AUDITOR):
        Group.objects.get_or_create(name=name)


@pytest.fixture
def demo_site(live_server, settings, transactional_db) -> Iterator[DemoSite]:
    """The demo's data and accounts behind a live server; a real worker when a broker is set."""
    settings.SEGMENTER = "auto"
    settings.SAM_CHECKPOINT = None  # the demo has no weights: GrabCut
    _seed_rows()
    import_demo_dataset()
    accounts = [
        reset_demo_account(username="annotator", is_admin=False, roles=(ANNOTATOR,)),
        reset_demo_account(username="admin", is_admin=True),
    ]
    site = DemoSite(
        url=live_server.url,
        passwords={a.username: a.password for a in accounts},
        dataset=Dataset.objects.get(name=DEMO_DATASET),
    )
    with ExitStack() as stack:
        if settings.CELERY_BROKER_URL:
            from tests.support.celery_worker import running_worker

            stack.enter_context(running_worker(extra_env={"SEGMENTER": "grabcut"}))
        try:
            yield site
        finally:
            for context in site.contexts:
                context.close()

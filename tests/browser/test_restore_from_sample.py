"""An admin restores a dropped sample from its own page, with htmx in a real browser: the page
comes back with the sample's new status and no Restore button (walkthrough 70_dropped_sample)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from annotator.models import CriticVerdict, Sample
from tests.factories import (
    DEFAULT_PASSWORD,
    AdminFactory,
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    SampleFactory,
)

SHOTS = Path("/tmp/H_shots")
pytestmark = [
    pytest.mark.browser,
    # live_server flushes the database afterwards; restore the seeded taxonomy and groups.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_rows"),
]


def test_an_admin_restores_a_dropped_sample_from_its_page(live_server, chromium_page, images_root):
    SHOTS.mkdir(exist_ok=True)
    Image.new("RGB", (320, 200), (128, 128, 128)).save(images_root / "gravel.jpg")
    ds = DatasetFactory.create(images_root=str(images_root))
    sample = SampleFactory.create(
        dataset=ds, external_id="demo-gravel", image_path="gravel.jpg", width=320, height=200,
        status=Sample.Status.DROPPED,
    )  # fmt: skip
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="contentment")
    ProposalFactory.create(sample=sample, model_name="gemini-2.5", emotion="sadness")
    CriticVerdictFactory.create(sample=sample, verdict=CriticVerdict.Verdict.DROP)
    admin = AdminFactory.create()
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{live_server.url}/review/")
    page.goto(f"{live_server.url}/review/samples/{sample.pk}/")
    assert page.locator("#sample-status").inner_text() == "Dropped"
    card = page.locator(".restore-dropped")
    assert "Dropped by the critic" in card.inner_text() and card.is_visible()
    page.screenshot(path=str(SHOTS / "dropped_sample.png"))

    page.click("#restore-form button")  # htmx: HX-Redirect back to the sample, a new page
    page.wait_for_selector(".messages:has-text('Restored demo-gravel')")
    sample.refresh_from_db()
    assert sample.status != Sample.Status.DROPPED
    assert page.locator("#sample-status").inner_text().lower() == sample.status
    assert page.locator("#restore-form").count() == 0
    assert page.url.endswith(f"/review/samples/{sample.pk}/")
    page.screenshot(path=str(SHOTS / "restored_sample.png"))

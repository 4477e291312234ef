"""Two tabs of one reviewer on the same sample: the second save gets the 409 box, and the label
banner above it now names the version that won (walkthrough 48_conflict.png kept "version 1")."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from annotator.models import Sample
from review.labels import Label
from review.models import Adjudication
from review.roles import ADJUDICATOR, ANNOTATOR
from review.services.adjudication import adjudicate_sample
from tests.factories import DEFAULT_PASSWORD, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import member

SHOTS = Path("/tmp/H_shots")
pytestmark = [
    pytest.mark.browser,
    # live_server flushes the database afterwards; restore the seeded taxonomy and groups.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_rows"),
]


def _decided_sample(images_root: Path) -> Sample:
    Image.new("RGB", (320, 200), (150, 150, 150)).save(images_root / "coins.jpg")
    ds = DatasetFactory.create(images_root=str(images_root), overlap_k=1)
    sample = SampleFactory.create(
        dataset=ds, external_id="demo-coins", image_path="coins.jpg", width=320, height=200
    )
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="gemini-2.5", emotion="contentment")
    adjudicate_sample(
        sample=sample,
        annotator=member(ANNOTATOR, username="annotator"),
        label=Label(emotion="sadness", confidence=5.0),
        base_version=0,
        method=Adjudication.Method.PERSON,
    )
    return sample


def test_the_banner_shows_the_version_that_won_after_a_conflict(
    live_server, chromium_browser, images_root
):
    SHOTS.mkdir(exist_ok=True)
    sample = _decided_sample(images_root)
    reviewer = member(ADJUDICATOR, username="reviewer")
    context = chromium_browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        first = context.new_page()
        first.goto(f"{live_server.url}/accounts/login/")
        first.fill("#id_username", reviewer.username)
        first.fill("#id_password", DEFAULT_PASSWORD)
        first.click("button[type=submit] >> text=Log in")
        first.wait_for_url(f"{live_server.url}/review/")
        url = f"{live_server.url}/review/samples/{sample.pk}/"
        second = context.new_page()  # the same person, a second tab
        for page in (first, second):
            page.goto(url)
            assert "sadness" in page.locator("#decision").inner_text()
            assert "version 1." in page.locator("#decision").inner_text()

        first.check("input[name=emotion][value=awe]")
        first.click("#adjudication-form button[type=submit]")
        first.wait_for_url(lambda u: u != url)
        assert Adjudication.objects.filter(sample=sample).count() == 2

        second.check("input[name=emotion][value=contentment]")
        second.click("#adjudication-form button[type=submit]")
        second.wait_for_selector("#conflict")  # the 409 partial, swapped in place
        conflict = second.locator("#conflict").inner_text()
        assert "You changed this label meanwhile" in conflict and "now version 2" in conflict
        banner = second.locator("#decision")
        assert banner.is_visible()
        text = banner.inner_text()
        assert "Decided awe" in text and "by reviewer" in text and "version 2." in text
        assert "sadness" not in text and "version 1" not in text
        assert second.locator("#decision").count() == 1  # swapped, not added
        # Still above the conflict box, where the old banner was.
        assert banner.bounding_box()["y"] < second.locator("#conflict").bounding_box()["y"]
        second.screenshot(path=str(SHOTS / "conflict_banner.png"), full_page=True)
    finally:
        context.close()

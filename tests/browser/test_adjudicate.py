"""An annotator's round trip in a real browser: log in, press Start (a lease), decide with the
keyboard. Overlap k = 1: the answer is the final label, as in the issue-2 flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from annotator.models import Region, Sample
from review.models import Adjudication
from review.roles import ANNOTATOR
from tests.factories import (
    DEFAULT_PASSWORD,
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    RegionFactory,
    SampleFactory,
)
from tests.review.team import member

pytestmark = [
    pytest.mark.browser,
    # live_server flushes the database afterwards; restore the seeded taxonomy for later tests.
    pytest.mark.django_db(transaction=True),
]

SCREENSHOT = Path("/tmp/sample_page.png")
# (role, phrase, box) in image pixels; the image paints the same rectangles so a screenshot
# shows at a glance whether the SVG overlay lines up with the pixels.
BOXES = [
    (Region.Role.BACKGROUND, "snow-covered plain", (0, 250, 640, 400)),
    (Region.Role.SUBJECT, "person", (380, 110, 470, 330)),
    (Region.Role.ATTRIBUTE, "raised arms", (360, 100, 490, 190)),
]


def _scene(path: Path) -> None:
    image = Image.new("RGB", (640, 400), (120, 160, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 639, 399), fill=(235, 240, 245))
    draw.rectangle((380, 110, 469, 329), fill=(70, 60, 60))
    draw.rectangle((360, 100, 489, 189), outline=(20, 20, 20), width=2)
    image.save(path, quality=90)


def _disputed_pair(images_root: Path) -> tuple[Sample, Sample]:
    _scene(images_root / "scene.jpg")
    ds = DatasetFactory.create(
        images_root=str(images_root), model_weights={"gemini-2.5": 1.2}, overlap_k=1
    )
    first = SampleFactory.create(
        dataset=ds,
        external_id="emoset-00017",
        image_path="scene.jpg",
        width=640,
        height=400,
        suggested_emotion="awe",
        vote_margin=0.09,
        dispute_reasons=[
            {"type": "label_mismatch", "models": {"gemini-2.5": "awe", "gpt-4o": "excitement"}}
        ],
    )
    for role, phrase, (x1, y1, x2, y2) in BOXES:
        RegionFactory.create(sample=first, role=role, phrase=phrase, x1=x1, y1=y1, x2=x2, y2=y2)
    ProposalFactory.create(
        sample=first,
        model_name="gemini-2.5",
        emotion="awe",
        confidence=7.5,
        description="A lone hiker raises both arms on a vast snowy plain under a clear sky.",
    )
    ProposalFactory.create(
        sample=first,
        model_name="gpt-4o",
        emotion="excitement",
        confidence=6.0,
        attribute="raised arms",
        description="Someone celebrates on a snowfield.",
    )
    CriticVerdictFactory.create(
        sample=first,
        verdict="revise",
        emotion="awe",
        reasoning="The scale of the plain dominates; the raised arms read as wonder, not thrill.",
        instructions="Describe the landscape's scale before the gesture.",
    )
    following = SampleFactory.create(dataset=ds, image_path="a.jpg")
    return first, following


def test_annotator_decides_with_the_keyboard_and_lands_on_the_next_sample(
    live_server, chromium_page, images_root
):
    first, following = _disputed_pair(images_root)
    user = member(ANNOTATOR)
    page = chromium_page

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{live_server.url}/review/")

    page.click("#start-annotating")  # "Next": the oldest disputed sample is leased to them
    page.wait_for_url(f"**/review/samples/{first.pk}/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth === 640")
    assert page.locator(".overlay g.box").count() == 3
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Digits typed into the confidence field are text, not shortcuts.
    page.fill("#id_confidence", "")
    page.locator("#id_confidence").type("11")
    assert page.locator("input[name=emotion][value=awe]").is_checked()
    page.keyboard.press("Enter")  # htmx: 422, the form comes back with its error in place
    page.wait_for_selector("#adjudication-form div.errorlist")
    assert page.url.endswith(f"/review/samples/{first.pk}/")
    assert not Adjudication.objects.exists()

    page.fill("#id_confidence", "8")
    page.locator("h1").click()  # leave the text field
    page.keyboard.press("7")  # fear, 7th in taxonomy order
    assert page.locator("input[name=emotion][value=fear]").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/review/samples/{following.pk}/")

    decision = Adjudication.objects.get(sample=first)
    assert (decision.emotion, decision.confidence, decision.annotator_id) == ("fear", 8.0, user.pk)
    assert decision.method == Adjudication.Method.PERSON
    assert decision.background == "snow-covered plain"  # pre-filled from the weighted vote
    assert decision.time_spent_ms > 0
    first.refresh_from_db()
    assert first.status == Sample.Status.ADJUDICATED
    assert "Saved" in page.locator(".messages").inner_text()

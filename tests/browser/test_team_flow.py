"""Two annotators answer blind, an adjudicator resolves their disagreement, in real browsers;
on the way: a draft survives a reload, and a second adjudicator's stale save gets the 409
partial with both versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from annotator.models import Sample
from review.models import Adjudication, Annotation, Draft
from review.roles import ADJUDICATOR, ANNOTATOR
from tests.factories import DEFAULT_PASSWORD, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.team import member

SCREENSHOTS = Path("/tmp")
pytestmark = [
    pytest.mark.browser,
    # live_server flushes the database afterwards; restore the seeded taxonomy and groups.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_rows"),
]


def _sample(images_root: Path) -> Sample:
    Image.new("RGB", (320, 200), (120, 160, 210)).save(images_root / "team.jpg")
    ds = DatasetFactory.create(images_root=str(images_root), overlap_k=2)
    sample = SampleFactory.create(
        dataset=ds, external_id="team-0001", image_path="team.jpg", width=320, height=200
    )
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
    ProposalFactory.create(sample=sample, model_name="gemini-2.5", emotion="fear")
    return sample


def _log_in(browser, base: str, person):
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", person.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{base}/review/")
    return context, page


def _answer(page, sample: Sample, emotion: str) -> None:
    page.click("#start-annotating")
    page.wait_for_url(f"**/review/samples/{sample.pk}/")
    assert page.locator(".answers").count() == 0  # blind: no one else's answers
    page.check(f"input[name=emotion][value={emotion}]")
    page.fill("#id_confidence", "7")
    page.click("#adjudication-form button[type=submit]")
    page.wait_for_url("**/review/")  # queue done: k = 2 answers, nothing else waits
    # Said once, by the work page: no message above it saying the same in other words.
    assert page.locator("#queue-state").inner_text().startswith("Queue done")
    assert "Queue done" not in page.locator(".messages").inner_text()


def test_two_annotators_then_an_adjudicator(live_server, chromium_browser, images_root):
    sample = _sample(images_root)
    ana, bea = member(ANNOTATOR, username="ana"), member(ANNOTATOR, username="bea")
    judge, late = member(ADJUDICATOR, username="judge"), member(ADJUDICATOR, username="late")
    base = live_server.url
    contexts = []
    try:
        for person, emotion in ((ana, "awe"), (bea, "fear")):
            context, page = _log_in(chromium_browser, base, person)
            contexts.append(context)
            _answer(page, sample, emotion)
        assert Annotation.objects.filter(sample=sample).count() == 2
        assert not Adjudication.objects.exists()  # awe vs fear: no consensus

        context, page = _log_in(chromium_browser, base, judge)
        contexts.append(context)
        assert "Resolve conflicts (1)" in page.locator("#start-adjudicating").inner_text()
        page.click("#start-adjudicating")
        page.wait_for_url(f"**/review/samples/{sample.pk}/")
        answers = page.locator(".answers").inner_text()
        assert "ana" in answers and "bea" in answers and "awe" in answers and "fear" in answers
        page.screenshot(path=str(SCREENSHOTS / "team_adjudicator.png"), full_page=True)

        # A draft autosaves ("change delay:800ms") and comes back after a reload.
        page.check("input[name=emotion][value=fear]")
        page.fill("#id_notes", "the face reads as fear")
        page.locator("h1").click()  # leave the field: change fires
        page.wait_for_selector("#draft-status:has-text('Draft saved')")
        page.reload()
        assert page.locator("#id_notes").input_value() == "the face reads as fear"
        assert page.locator("input[name=emotion][value=fear]").is_checked()
        assert "Draft restored" in page.locator("#draft-status").inner_text()
        # The note reads at the left; Save & next stays at the right edge, clear of it.
        note = page.locator("#draft-status").bounding_box()
        save = page.locator("form .actions button[type=submit]").first.bounding_box()
        actions = page.locator("form .actions", has=page.locator("#draft-status")).bounding_box()
        assert note and save and actions
        assert abs(save["x"] + save["width"] - (actions["x"] + actions["width"])) < 1
        assert note["x"] + note["width"] + 4 <= save["x"]

        # A second adjudicator opened the same sample before the first saved.
        late_context, late_page = _log_in(chromium_browser, base, late)
        contexts.append(late_context)
        late_page.goto(f"{base}/review/samples/{sample.pk}/")
        late_page.check("input[name=emotion][value=sadness]")
        late_page.fill("#id_confidence", "4")

        page.fill("#id_confidence", "8")
        page.click("#adjudication-form button[type=submit]")
        page.wait_for_url("**/review/")
        decision = Adjudication.objects.get(sample=sample)
        assert (decision.method, decision.annotator_id, decision.emotion) == (
            "adjudicator",
            judge.pk,
            "fear",
        )
        assert decision.notes == "the face reads as fear"
        assert not Draft.objects.filter(author=judge).exists()

        late_page.click("#adjudication-form button[type=submit]")
        late_page.wait_for_selector(".conflict")  # the 409 partial, swapped in place
        conflict = late_page.locator(".conflict").inner_text()
        assert "Someone else changed this label" in conflict and "judge" in conflict
        assert late_page.locator(".conflict td.theirs").first.inner_text() == "fear"
        assert late_page.locator(".conflict td.yours").first.inner_text() == "sadness"
        assert Adjudication.objects.filter(sample=sample).count() == 1  # nothing overwritten
        late_page.screenshot(path=str(SCREENSHOTS / "team_conflict.png"), full_page=True)

        late_page.click(".conflict button:has-text('Save mine over theirs')")
        late_page.wait_for_url("**/review/")
        current = Adjudication.objects.filter(sample=sample).order_by("-version").first()
        assert current is not None and (current.version, current.emotion) == (2, "sadness")
        sample.refresh_from_db()
        assert sample.status == Sample.Status.ADJUDICATED
    finally:
        for context in contexts:
            context.close()

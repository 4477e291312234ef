"""Blind to machines in a real browser, on the demo's own configuration: the annotator sees the
image and an empty form, commits a first answer, then sees the machines and may revise; the
database keeps both answers and the audit counts the change."""

from __future__ import annotations

import pytest

from annotator.models import CriticVerdict, Sample
from review.models import Annotation, BlindAnswer
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

SHOTS = "/tmp/issue9/blind"


def _sample_of(page) -> Sample:
    pk = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    return Sample.objects.get(pk=pk)


def _other_emotion(sample: Sample, *avoid: str) -> str:
    labels = sample.dataset.taxonomy.labels
    return next(label for label in labels if label not in (*avoid, sample.suggested_emotion))


def test_blind_mode_hides_the_machines_until_a_first_answer(demo_site, chromium_browser):
    demo_site.dataset.machine_blind = True
    demo_site.dataset.save()
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    sample = _sample_of(page)
    models = list(sample.proposals.values_list("model_name", flat=True))
    assert "gpt-4o" in models  # the demo's proposals exist; the page must not show them

    # Blind: the image, an empty form; no proposals, critic, vote, boxes or masks.
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    body = page.inner_text("main")
    assert all(name not in body for name in models), body
    assert "Model proposals" not in body and "Weighted vote" not in body
    assert "Critic" not in body and "Why it is disputed" not in body
    assert page.locator(".box-label:visible, svg.overlay, #mask-panel").count() == 0
    assert page.locator("input[name=emotion]:checked").count() == 0
    assert page.input_value("input[name=confidence]") == ""
    assert page.input_value("input[name=subject]") == ""
    assert page.is_visible("text=Commit, then show the machines")
    page.screenshot(path=f"{SHOTS}_before.png")

    # Commit a first answer with the keyboard (1-8 pick, Enter commits), unlike the machines.
    blind = _other_emotion(sample)
    labels = sample.dataset.taxonomy.labels
    page.locator("body").press(str(labels.index(blind) + 1))
    page.fill("input[name=confidence]", "6")
    page.locator("input[name=confidence]").press("Enter")
    page.wait_for_selector("#proposals-title")

    # Revealed: the models' names and the blind answer are visible text; the form holds it.
    body = page.inner_text("main")
    assert all(name in body for name in models), body
    assert "Weighted vote" in body and f"Your blind answer: {blind}" in body
    if CriticVerdict.objects.filter(sample=sample).exists():
        assert page.is_visible("#critic-title")
    if sample.regions.exclude(x1=None).exists():
        assert page.locator(".box-label").first.is_visible()
    assert page.is_checked(f"input[name=emotion][value={blind}]")
    assert page.input_value("input[name=confidence]") == "6.0"
    page.screenshot(path=f"{SHOTS}_after.png", full_page=True)

    # A reload keeps the revealed page; then revise to the machines' suggestion and save.
    page.reload()
    assert page.is_visible("#proposals-title")
    final = sample.suggested_emotion
    page.check(f"input[name=emotion][value={final}]")
    page.fill("input[name=confidence]", "8")
    with page.expect_navigation():
        page.click("#adjudication-form button[type=submit]")
    kept = BlindAnswer.objects.get(sample=sample)
    answer = Annotation.objects.get(sample=sample)
    assert (kept.emotion, kept.confidence, kept.suggested_emotion) == (blind, 6.0, final)
    assert (answer.emotion, answer.confidence) == (final, 8.0)
    assert errors == []  # no script broke on the page without the mask panel

    # The audit counts the move toward the machines.
    audit = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    audit.goto(f"{demo_site.url}/review/audit/?dataset={demo_site.dataset.name}")
    table = audit.locator("#audit-anchoring")
    table.scroll_into_view_if_needed()
    row = table.locator("tr", has_text="everyone").inner_text()
    assert row.split("\t")[1:4] == ["1", "1 (100%)", "1 (100%)"], row
    table.screenshot(path=f"{SHOTS}_audit.png")

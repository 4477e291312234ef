"""An annotator's day with the keyboard, on the README's demo: progress that counts, K back to an
answer and change it, J forward, skip and take back, and the `?` list of keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from review.models import Adjudication, Annotation, Assignment
from tests.browser.demo_site import LAPTOP

SHOTS = Path("/tmp/issue9")
pytestmark = [pytest.mark.browser]


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"nav_{name}.png"))


def _sample_id(page) -> int:
    match = re.search(r"/review/samples/(\d+)/$", page.url)
    assert match, page.url
    return int(match.group(1))


def _press_and_follow(page, key: str) -> int:
    """Press a key that opens another page; the id of the sample it opens."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state()
    return _sample_id(page)


def _answer_with_keys(page, digit: str) -> int:
    """Pick an emotion and step the confidence up with the keyboard, then Enter."""
    confidence = page.locator("#id_confidence")
    before = float(confidence.input_value() or 0)
    page.keyboard.press(digit)
    assert page.locator(f'[data-emotion-key="{digit}"] input').is_checked()
    page.keyboard.press("]")
    stepped = float(confidence.input_value())
    assert stepped == min(10.0, (int(before * 2 + 1e-9) + 1) / 2)  # the next 0.5 step up
    return _press_and_follow(page, "Enter")


def test_progress_back_and_forth_skip_and_the_keys_list(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    open_samples = len(demo_site.disputed())
    figures = page.locator("#queue-progress")
    assert figures.inner_text().startswith(f"0 of {open_samples} done · {open_samples} to go")
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    first = _sample_id(page)
    header = page.locator("#work-progress")
    assert header.inner_text() == f"1 of {open_samples} · 0 today"
    _shot(page, "1_first_sample")

    second = _answer_with_keys(page, "3")  # contentment
    assert header.inner_text() == f"2 of {open_samples} · 1 today"
    third = _answer_with_keys(page, "5")  # anger
    assert len({first, second, third}) == 3
    assert header.inner_text() == f"3 of {open_samples} · 2 today"
    page.goto(f"{demo_site.url}/review/")
    assert figures.inner_text().startswith(f"2 of {open_samples} done · {open_samples - 2} to go")
    assert "2 today" in figures.inner_text()
    _shot(page, "2_queue_progress")
    page.click("#start-annotating")  # "Continue": the sample in hand
    page.wait_for_url(f"**/review/samples/{third}/")

    # K goes back: the answer is shown, in a form that changes it.
    assert _press_and_follow(page, "k") == second
    assert "Your answer: anger" in page.locator(".own-answer").inner_text()
    assert page.locator("#adjudication-form h2").inner_text() == "Change your answer"
    assert page.locator('[data-emotion-key="5"] input').is_checked()
    assert header.inner_text() == f"2 of {open_samples} · 2 today"
    assert _press_and_follow(page, "k") == first
    assert _press_and_follow(page, "j") == second  # J forward again
    assert _press_and_follow(page, "k") == first
    assert "Your answer: contentment" in page.locator(".own-answer").inner_text()
    _shot(page, "3_back_to_first_answer")
    page.keyboard.press("8")  # sadness
    assert _press_and_follow(page, "Enter") == third  # saved; Next reopens the one in hand
    changed = Annotation.objects.get(sample_id=first)
    assert changed.emotion == "sadness"
    label = Adjudication.objects.filter(sample_id=first, reverted=False).order_by("-version")[0]
    assert (label.version, label.emotion, label.method) == (2, "sadness", "person")
    assert "Saved “sadness”" in page.locator(".messages").inner_text()

    # S skips; the queue says so, the Skipped list gives it back.
    fourth = _press_and_follow(page, "s")
    assert fourth not in (first, second, third)
    assert Assignment.objects.get(sample_id=third).status == Assignment.Status.SKIPPED
    page.goto(f"{demo_site.url}/review/")
    assert "1 skipped still open" in figures.inner_text()
    page.click(".work-filters >> text=Skipped")
    page.wait_for_url("**/review/?show=skipped")
    row = page.locator("table.my-work tbody tr")
    assert row.count() == 1 and "Take back" in row.inner_text()
    _shot(page, "4_skipped_list")
    row.locator("button", has_text="Take back").click()
    page.wait_for_url(f"**/review/samples/{third}/")
    assert "is yours again" in page.locator(".messages").inner_text()
    assert page.locator("#adjudication-form h2").inner_text() == "Your answer"

    # ? lists the keys; keys meant for the list do not touch the answer behind it.
    page.keyboard.press("2")  # taken back with nothing picked (no machine pre-selection)
    dialog = page.locator("#keys-help")
    assert not dialog.is_visible()
    page.keyboard.press("?")
    assert dialog.is_visible()
    text = dialog.inner_text()
    for line in ("confidence down / up by 0.5", "skip this sample", "write a note", "accept"):
        assert line in text
    _shot(page, "5_keys_overlay")
    picked = page.locator("input[name=emotion]:checked").get_attribute("value")
    page.keyboard.press("1")
    assert page.locator("input[name=emotion]:checked").get_attribute("value") == picked
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.name") == "notes"
    page.keyboard.type("sky")  # typed into the notes, not taken as keys
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.name") != "notes"
    assert page.locator("#id_notes").input_value() == "sky"


def test_the_key_hints_name_the_taxonomys_last_digit_and_pages_load_without_console_errors(
    demo_site, chromium_browser
):
    page = demo_site.log_in(chromium_browser, "annotator")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    page.keyboard.press("?")
    first_keys = page.locator("dialog dt").first.locator("kbd").all_inner_texts()
    assert first_keys == ["1", "8"]  # Mikels 8: the digit 9 picks nothing
    assert errors == []  # e.g. no 404 for /favicon.ico

"""No silent failure, in a real browser on the demo's own setup: a second tab's save shows the
saved answer, a session that ended leads to sign-in and back with what was typed, a lost
connection says so and keeps the text, and the 403/404 pages are pages with a way back."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.sessions.models import Session

from review.models import Annotation, Draft
from tests.browser.demo_site import LAPTOP

SHOTS = Path("/tmp/issue9")
pytestmark = [pytest.mark.browser]

SAVE = "#adjudication-form button[type=submit]"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"errors_{name}.png"), full_page=False)


def _start(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    return page


def _fill(page, emotion: str, notes: str) -> None:
    page.check(f"#adjudication-form input[name=emotion][value={emotion}]")
    page.fill("#adjudication-form textarea[name=notes]", notes)


def test_second_tab_save_shows_the_saved_answer(demo_site, chromium_browser):
    first = _start(demo_site, chromium_browser)
    sample_url = first.url
    second = first.context.new_page()  # the same person, another tab
    second.goto(sample_url)
    _fill(first, "awe", "saved from the first tab")
    first.click(SAVE)
    first.wait_for_url(lambda url: url != sample_url)
    _fill(second, "fear", "typed in the second tab")
    second.click(SAVE)
    conflict = second.locator("#conflict")
    conflict.wait_for()
    conflict.scroll_into_view_if_needed()
    _shot(second, "second_tab_conflict")
    text = conflict.inner_text()
    assert "You already answered this sample" in text
    assert "saved from the first tab" in text and "typed in the second tab" in text
    assert "awe" in text and "fear" in text
    # k = 1: the saved answer is the label and still theirs, so it may be replaced.
    assert conflict.get_by_role("button", name="Replace it with this tab's answer").is_visible()
    assert Annotation.objects.get(notes="saved from the first tab").emotion == "awe"
    assert not Annotation.objects.filter(notes="typed in the second tab").exists()
    second.click("text=Keep my saved answer · next sample")
    second.wait_for_url(lambda url: url != sample_url)


def test_expired_session_signs_in_and_returns_to_the_sample_with_the_typed_notes(
    demo_site, chromium_browser
):
    page = _start(demo_site, chromium_browser)
    sample_url = page.url
    Session.objects.all().delete()  # the session ends (expiry, a server flush)
    _fill(page, "awe", "typed after the session ended")
    page.click(SAVE)
    message = page.locator("#adjudication-form .request-error")
    message.wait_for()
    _shot(page, "session_ended")
    assert "Your session ended: sign in again." in message.inner_text()
    assert "What you typed is kept" in message.inner_text()
    # Nothing swapped in: one header, no login form inside the page, the notes still there.
    assert page.locator("header.topbar").count() == 1
    assert page.locator("#id_username").count() == 0
    notes = page.locator("#adjudication-form textarea[name=notes]")
    assert notes.input_value() == "typed after the session ended"

    page.locator("#adjudication-form").get_by_role("link", name="Sign in again").click()
    page.wait_for_url("**/accounts/login/**")
    assert "Your session ended" in page.inner_text("main")
    _shot(page, "sign_in_again")
    page.fill("#id_username", "annotator")
    page.fill("#id_password", demo_site.passwords["annotator"])
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(sample_url)
    notes = page.locator("#adjudication-form textarea[name=notes]")
    assert notes.input_value() == "typed after the session ended"
    assert page.locator("#adjudication-form input[value=awe]").is_checked()
    restored = page.locator("#adjudication-form .request-error.restored")
    assert "Restored what you typed" in restored.inner_text()
    page.locator("#draft-status", has_text="Draft saved").wait_for()  # the autosave kept it
    restored.scroll_into_view_if_needed()
    _shot(page, "back_on_the_sample")
    assert Draft.objects.get().data["notes"] == "typed after the session ended"
    page.click(SAVE)
    page.wait_for_url(lambda url: url != sample_url)
    assert Annotation.objects.get().notes == "typed after the session ended"


def test_a_mask_click_after_the_session_ended_says_so_in_the_mask_panel(
    demo_site, chromium_browser
):
    page = _start(demo_site, chromium_browser)
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    Session.objects.all().delete()
    box = page.locator(".stage img").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    error = page.locator("#mask-state-subject .mask-error")
    error.get_by_role("link", name="Sign in again").wait_for()
    error.scroll_into_view_if_needed()
    _shot(page, "mask_session_ended")
    assert error.inner_text().startswith("Your session ended: sign in again.")
    # The panel is still the panel: no login page inside it, no second header.
    assert page.locator("#mask-panel #id_username").count() == 0
    assert page.locator("header.topbar").count() == 1
    assert page.locator("#mask-state-subject h3").inner_text().strip().lower() == "subject"


def test_a_lost_connection_says_so_and_keeps_the_typed_text(demo_site, chromium_browser):
    page = _start(demo_site, chromium_browser)
    sample_url = page.url
    page.route("**/answer/", lambda route: route.abort("internetdisconnected"))
    _fill(page, "sadness", "typed while offline")
    page.click(SAVE)
    message = page.locator("#adjudication-form .request-error")
    message.wait_for()
    _shot(page, "offline")
    assert "No connection to the server: nothing was saved." in message.inner_text()
    assert page.locator("#request-status").inner_text().startswith("No connection")
    notes = page.locator("#adjudication-form textarea[name=notes]")
    assert notes.input_value() == "typed while offline"
    assert not Annotation.objects.exists()
    page.unroute("**/answer/")
    page.click(SAVE)  # back online: the same form saves
    page.wait_for_url(lambda url: url != sample_url)
    assert Annotation.objects.get().notes == "typed while offline"


def test_403_and_404_pages_have_a_way_back(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/no-such-page/")
    assert "Nothing here" in page.inner_text("h1")
    assert page.locator("main >> text=Go to the queue").is_visible()
    assert page.locator("main >> text=← Back").is_visible()  # the queue was the previous page
    _shot(page, "404")
    sample = demo_site.disputed()[-1]  # not leased to this annotator
    page.goto(f"{demo_site.url}/review/samples/{sample.pk}/")
    assert "You cannot open this" in page.inner_text("h1")
    assert "This sample is not assigned to you." in page.inner_text("main")
    _shot(page, "403")
    page.click("main >> text=Go to the queue")
    page.wait_for_url(f"{demo_site.url}/review/")

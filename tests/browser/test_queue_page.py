"""The reviewer's queue page in a real browser: after Back the filters read what the rows show
(and no CSP error), the status counts are links to their status, J/K move a highlighted row."""

from __future__ import annotations

from typing import Any

import pytest

from review.roles import ADJUDICATOR, AUDITOR
from tests.factories import DEFAULT_PASSWORD, DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/h4_shots"
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _reviewer_page(live_server: Any, browser: Any) -> tuple[Any, list[str]]:
    ds = DatasetFactory.create(name="pets")
    statuses = ["disputed", "agreed", "adjudicated", "adjudicated", "dropped"]
    for i, status in enumerate(statuses):
        SampleFactory.create(
            dataset=ds,
            external_id=f"s{i}",
            source="web" if i % 2 else "FI",
            status=status,
            suggested_emotion="awe" if i < 3 else "sadness",
        )
    user = member(AUDITOR, ADJUDICATOR)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{live_server.url}/review/")
    return page, errors


def _selects(page: Any) -> list[str]:
    return [page.locator(f"#id_{n}").input_value() for n in ("status", "source", "suggested")]


def test_back_and_forward_show_the_filters_of_the_rows(live_server, chromium_browser):
    page, errors = _reviewer_page(live_server, chromium_browser)
    page.select_option("#id_status", "")
    page.wait_for_function("() => location.search.includes('status=')")
    page.select_option("#id_source", "web")
    page.wait_for_function("() => location.search.includes('source=web')")
    page.select_option("#id_suggested", "awe")
    page.wait_for_function("() => location.search.includes('suggested=awe')")
    page.wait_for_function(
        "() => document.querySelectorAll('#queue-results tbody tr').length === 1"
    )
    page.go_back()
    page.wait_for_function("() => !location.search.includes('suggested=awe')")
    page.wait_for_timeout(300)
    assert _selects(page) == ["", "web", ""]
    assert page.locator("#queue-results tbody th").all_inner_texts() == ["s1", "s3"]
    page.go_back()
    page.wait_for_function("() => !location.search.includes('source=web')")
    page.wait_for_timeout(300)
    assert _selects(page) == ["", "", ""]
    page.go_forward()
    page.wait_for_function("() => location.search.includes('source=web')")
    page.wait_for_timeout(300)
    assert _selects(page) == ["", "web", ""]
    # Checked before any screenshot: Playwright's screenshot leaves a style="" on the page's
    # hidden inputs, which the next Back then reports as a CSP violation (not the app's doing).
    assert page.evaluate("window.__csp") == []
    assert errors == []
    page.screenshot(path=f"{SHOTS}/1_after_back_forward.png")


def test_status_counts_are_links_keeping_the_other_filters(live_server, chromium_browser):
    page, _ = _reviewer_page(live_server, chromium_browser)
    page.select_option("#id_source", "web")
    page.wait_for_function("() => location.search.includes('source=web')")
    current = page.locator(".counts a[aria-current=page]")
    assert current.inner_text().split() == ["1", "Disputed"]
    page.locator(".counts a", has_text="adjudicated").click()
    page.wait_for_url("**status=adjudicated**")
    assert "source=web" in page.url
    assert _selects(page) == ["adjudicated", "web", ""]
    assert page.locator("#queue-results tbody th").all_inner_texts() == ["s3"]
    # The counts are per status in the dataset (not narrowed by source): 2 adjudicated.
    assert page.locator(".counts a[aria-current=page]").inner_text().split() == [
        "2",
        "Adjudicated",
    ]
    page.screenshot(path=f"{SHOTS}/2_status_link.png")


def _focus_colour(page: Any) -> str:
    return page.evaluate("getComputedStyle(document.activeElement).outlineColor")


def test_j_and_k_move_through_the_rows_and_enter_opens_one(live_server, chromium_browser):
    page, _ = _reviewer_page(live_server, chromium_browser)
    page.select_option("#id_status", "")
    page.wait_for_function(
        "() => document.querySelectorAll('#queue-results tbody tr').length === 5"
    )
    page.locator("h1").click()  # the select no longer holds the keys
    focused = "() => document.activeElement.textContent"
    page.keyboard.press("j")
    assert page.evaluate(focused) == "s0"
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate(focused) == "s2"
    page.keyboard.press("k")
    assert page.evaluate(focused) == "s1"
    # The focus ring (app.css :focus-visible, the accent colour) marks the row a person sees.
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    assert _focus_colour(page) not in ("", "rgba(0, 0, 0, 0)")
    page.screenshot(path=f"{SHOTS}/4_queue_j_k.png")
    page.keyboard.press("Enter")
    page.wait_for_url("**/review/samples/**")
    assert page.locator("h1").inner_text().startswith("s1")


def test_an_empty_queue_says_why_and_links_where_the_samples_are(live_server, chromium_browser):
    page, _ = _reviewer_page(live_server, chromium_browser)
    page.select_option("#id_source", "FI")
    page.select_option("#id_suggested", "sadness")
    page.wait_for_function("() => document.getElementById('queue-empty') !== null")
    empty = page.locator("#queue-empty")
    assert empty.inner_text().startswith(
        "The only disputed sample does not have source “FI” and suggested emotion “sadness”."
    )
    page.screenshot(path=f"{SHOTS}/3_empty_narrowed.png")
    page.locator("#queue-empty a", has_text="Show them all").click()
    page.wait_for_function("() => document.querySelectorAll('#queue-results tbody tr').length")
    assert page.locator("#queue-results tbody th").all_inner_texts() == ["s0"]
    assert _selects(page) == ["disputed", "", ""]

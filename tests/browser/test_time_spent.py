"""Time spent on a sample is the time its page was visible, in this tab, across reloads: a person
who holds a sample 70 s and reloads once is recorded at 70 s, not at the seconds after it."""

from __future__ import annotations

import re

import pytest

from review.models import Annotation

pytestmark = [pytest.mark.browser]

KEY_PREFIX = "emoreview:time-spent:"


def _open_first_sample(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator")
    page.context.clock.install()  # Date.now moves only when the test says so
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    match = re.search(r"/samples/(\d+)/$", page.url)
    assert match, page.url
    return page, int(match.group(1))


def _save(page) -> None:
    page.keyboard.press("3")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()


def _set_visibility(page, state: str) -> None:
    page.evaluate(
        """state => {
            const visibility = {configurable: true, get: () => state};
            Object.defineProperty(document, "visibilityState", visibility);
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_a_reload_keeps_the_time_already_spent_and_a_save_clears_it(demo_site, chromium_browser):
    page, sample_id = _open_first_sample(demo_site, chromium_browser)
    page.clock.fast_forward("01:00")
    page.reload()
    page.clock.fast_forward("00:10")
    sample_path = page.evaluate("location.pathname")
    _save(page)

    spent = Annotation.objects.get(sample_id=sample_id).time_spent_ms
    assert 70_000 <= spent < 72_000  # both visits, not the 10 s after the reload
    stored = page.evaluate("key => sessionStorage.getItem(key)", KEY_PREFIX + sample_path)
    assert stored is None  # saved: a later visit starts its own count


def test_time_while_the_tab_is_hidden_does_not_count(demo_site, chromium_browser):
    page, sample_id = _open_first_sample(demo_site, chromium_browser)
    page.clock.fast_forward("00:20")
    _set_visibility(page, "hidden")
    page.clock.fast_forward("05:00")  # another tab in front for five minutes
    _set_visibility(page, "visible")
    page.clock.fast_forward("00:05")
    _save(page)

    spent = Annotation.objects.get(sample_id=sample_id).time_spent_ms
    assert 25_000 <= spent < 27_000

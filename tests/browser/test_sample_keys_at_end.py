"""J / K on a sample page where there is nothing further: a short status line says why, on the
README's demo (the annotator's sample in hand, the reviewer's last sample)."""

from __future__ import annotations

import pytest

from annotator.models import Sample
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]
SHOTS = "/tmp/h4_shots"


def test_j_on_the_sample_in_hand_says_to_save_or_skip_it_first(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    url = page.url
    page.locator("h1").click()  # keys go to the page, not a field
    page.keyboard.press("j")
    status = page.locator("#key-status")
    status.wait_for()
    page.wait_for_function("() => document.getElementById('key-status').textContent !== ''")
    assert page.url == url  # nothing opened
    assert status.inner_text() == (
        "J: this is the last sample in your hands: save or skip it, then J brings a new one."
    )
    assert status.get_attribute("role") == "status"
    assert status.is_visible()
    page.keyboard.press("k")
    page.wait_for_function(
        "() => document.getElementById('key-status').textContent.startsWith('K')"
    )
    assert status.inner_text() == "K: this is the first sample, there is none before it."
    page.screenshot(path=f"{SHOTS}/5_j_at_the_end.png")


def test_j_on_the_reviewer_s_last_sample_says_it_is_the_last(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    last = demo_site.dataset.samples.filter(status=Sample.Status.DISPUTED).order_by("pk").last()
    assert last is not None
    page.goto(f"{demo_site.url}/review/samples/{last.pk}/")
    if page.locator("#next-sample").count():
        pytest.skip("the reviewer's order puts another sample after the last id")
    page.locator("h1").click()
    page.keyboard.press("j")
    page.wait_for_function("() => (document.getElementById('key-status') || {}).textContent")
    assert page.locator("#key-status").inner_text() == (
        "J: this is the last sample, there is none after it."
    )

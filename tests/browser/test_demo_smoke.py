"""The demo site fixture itself: the README's accounts sign in and reach the queue."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]


def test_demo_accounts_sign_in_and_see_the_queue(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator")
    assert "annotator" in page.inner_text("header")
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    page.screenshot(path="/tmp/issue9/annotator_sample.png")
    assert page.locator(".stage img").count() == 1

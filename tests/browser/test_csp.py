"""The Content-Security-Policy in a real browser, on the demo's own setup: every page an
annotator and an admin use (login, queue, a sample with a mask click, audit, export, runs, the
API docs, the admin) works with no policy violation and no console error, and the layout values
that used to be style="" attributes (image size, box labels) still apply."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

# Recorded before any page script runs, on every page the context opens.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
SETTLED = """() => {
  const s = document.getElementById("mask-state-subject");
  return s && s.dataset.version !== "0" && ["done", "none", "failed"].includes(s.dataset.status);
}"""


class Watch:
    """Console errors and CSP violations of one browser context, across its pages."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=LAPTOP)
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message: Any) -> None:
        source = message.location.get("url", "")
        # Django's admin links no icon: the browser's own /favicon.ico guess is not ours.
        if message.type == "error" and not source.endswith("/favicon.ico"):
            self.errors.append(f"{self.page.url}: {message.text} ({source})")

    def visit(self, path: str) -> None:
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, (path, response)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        self.page.wait_for_load_state("networkidle")
        self.check()

    def check(self) -> None:
        violations = self.page.evaluate("window.__csp")
        assert violations == [], (self.page.url, violations)
        assert self.errors == [], self.errors

    def log_in(self, username: str, password: str) -> None:
        self.visit("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit] >> text=Log in")
        self.page.wait_for_url(f"{self.base}/review/")
        self.check()


def test_an_annotators_pages_and_a_mask_click_keep_the_policy(
    demo_site, chromium_browser, settings
):
    # A mask poll waits this long on the server: short, so none is still running at teardown.
    settings.MASK_WAIT_SECONDS = 0.3
    watch = Watch(chromium_browser, demo_site.url)
    watch.log_in("annotator", demo_site.passwords["annotator"])
    page = watch.page
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    watch.check()

    # The nonce'd <style> applies: the viewport has the image's aspect ratio, labels sit apart.
    ratio = page.evaluate(
        """() => { const v = document.querySelector('.viewport'); const s = getComputedStyle(v);
        return [s.getPropertyValue('--w').trim(), s.getPropertyValue('--h').trim(),
                v.clientWidth / v.clientHeight,
                document.querySelector('.stage img').naturalWidth /
                document.querySelector('.stage img').naturalHeight]; }"""
    )
    assert ratio[0] and ratio[1] and abs(ratio[2] - ratio[3]) < 0.02, ratio
    labels = page.evaluate(
        """() => [...document.querySelectorAll('.box-label')].map(l => {
            const s = getComputedStyle(l); return [s.left, s.top, s.bottom]; })"""
    )
    for left, top, bottom in labels:
        assert left != "auto" and (top != "auto" or bottom != "auto"), labels

    box = page.locator(".stage img").bounding_box()
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    page.wait_for_function(SETTLED, timeout=60_000)
    watch.check()
    # The autosaved draft (htmx, after a change) and its status line.
    page.fill("#adjudication-form textarea[name=notes]", "looks calm")
    page.dispatch_event("#adjudication-form textarea[name=notes]", "change")
    page.wait_for_selector("#draft-status:has-text('saved')", timeout=10_000)
    watch.check()
    watch.visit("/review/?status=")
    watch.context.close()


@pytest.mark.parametrize("path", ["/review/", "/review/audit/", "/review/export/", "/review/runs/"])
def test_an_admins_pages_keep_the_policy(demo_site, chromium_browser, path):
    watch = Watch(chromium_browser, demo_site.url)
    watch.log_in("admin", demo_site.passwords["admin"])
    watch.visit(path)
    select = watch.page.locator("main form select").first
    if select.count():  # an htmx filter (queue, audit): its request and swap
        options = select.locator("option").all()
        if len(options) > 1:
            select.select_option(index=1)
            watch.page.wait_for_load_state("networkidle")
            watch.check()
    watch.context.close()


def test_the_api_docs_and_the_admin_keep_the_policy(demo_site, chromium_browser):
    watch = Watch(chromium_browser, demo_site.url)
    watch.log_in("admin", demo_site.passwords["admin"])
    watch.visit("/api/docs/")
    watch.page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert watch.page.locator(".swagger-ui .opblock").count() > 5
    watch.check()
    watch.visit("/admin/")
    assert re.search(r"Site administration", watch.page.content())
    watch.check()
    watch.context.close()

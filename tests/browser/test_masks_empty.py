"""Two things a new user met on the demo (GrabCut, in-process): a box dragged over the cat's
fur on demo-chelsea comes out empty, and the panel must say so and keep "Accept mask" off
(it said "score 1.00" with Accept on); hiding an element hides its click markers with its mask.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.lib.rle import mask_area
from annotator.models import Sample
from review.models import MaskEdit
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

SCREENSHOT_DIR = Path("/tmp/h2_shots")

# The element's answer is in and painted, no click left on its way.
SETTLED = """([role, before]) => {
  const s = document.getElementById("mask-state-" + role);
  const canvas = document.querySelector('canvas.mask-canvas[data-role="' + role + '"]');
  return s.dataset.version !== before && ["done", "failed"].includes(s.dataset.status)
    && canvas.dataset.version === s.dataset.version
    && !document.querySelector(".mask-marks .mask-point.pending");
}"""
# The click markers a person sees: drawn and not hidden by CSS.
VISIBLE_MARKERS = """() => Array.from(document.querySelectorAll(".mask-marks circle.mask-point"))
  .filter(c => { const s = getComputedStyle(c); const r = c.getBoundingClientRect();
                 return s.visibility !== "hidden" && s.display !== "none" && r.width > 0; })
  .length"""


def _open_chelsea(demo_site, chromium_browser):
    chelsea = Sample.objects.get(external_id="demo-chelsea")
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/samples/{chelsea.pk}/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    return page, chelsea


def _at(page, fx: float, fy: float) -> tuple[float, float]:
    """A point at a fraction of the displayed image's width and height."""
    box = page.locator(".stage img").bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def _settle(page, role: str, before: str | None) -> None:
    page.wait_for_function(SETTLED, arg=[role, before], timeout=60_000)


def _version(page, role: str) -> str | None:
    return page.get_attribute(f"#mask-state-{role}", "data-version")


def test_a_box_that_comes_out_empty_says_so_and_cannot_be_accepted(demo_site, chromium_browser):
    page, chelsea = _open_chelsea(demo_site, chromium_browser)
    page.check("input[name=mask-role][value=attribute]")
    before = _version(page, "attribute")
    start, end = _at(page, 0.02, 0.03), _at(page, 0.26, 0.32)  # the top-left corner's fur
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 20, start[1] + 20, steps=3)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    _settle(page, "attribute", before)

    edit = MaskEdit.objects.get(sample=chelsea, role="attribute", undone=False)
    assert edit.box is not None and edit.points == []
    assert mask_area(edit.candidates[0]["rle"]) == 0  # what GrabCut made of it
    status = page.inner_text("#mask-state-attribute .mask-status")
    assert "The mask came out empty: click inside the region, or drag a tighter box." in status
    assert "score" not in status  # no 1.00 that means nothing
    accept = page.locator("#mask-state-attribute button:has-text('Accept mask')")
    assert accept.is_disabled()
    assert accept.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"
    page.keyboard.press("a")  # the key does what the button does: nothing
    page.wait_for_timeout(500)
    assert MaskEdit.objects.get(pk=edit.pk).accepted_at is None
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.locator("#mask-state-attribute").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT_DIR / "empty_box_mask.png"))

    # A click inside the region gives a mask there is: the message goes, Accept comes back.
    before = _version(page, "attribute")
    page.mouse.click(*_at(page, 0.12, 0.15))
    _settle(page, "attribute", before)
    status = page.inner_text("#mask-state-attribute .mask-status")
    assert "came out" not in status and "score" not in status  # GrabCut keeps its one click
    assert not accept.is_disabled()


def test_hiding_an_element_hides_its_click_markers(demo_site, chromium_browser):
    page, _ = _open_chelsea(demo_site, chromium_browser)
    assert page.is_checked("input[name=mask-role][value=subject]")
    before = _version(page, "subject")
    page.mouse.click(*_at(page, 0.5, 0.5))
    _settle(page, "subject", before)
    assert page.evaluate(VISIBLE_MARKERS) == 1
    page.screenshot(path=str(SCREENSHOT_DIR / "subject_shown.png"))

    page.uncheck("input[name=mask-visible][value=subject]")
    assert page.evaluate(VISIBLE_MARKERS) == 0
    page.screenshot(path=str(SCREENSHOT_DIR / "subject_hidden.png"))
    page.check("input[name=mask-visible][value=subject]")
    assert page.evaluate(VISIBLE_MARKERS) == 1

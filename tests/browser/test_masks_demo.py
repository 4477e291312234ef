"""Masks on the demo's own configuration (GrabCut: one mask per click; tasks in-process, or a
real Celery worker in the PostgreSQL + Redis leg): what an annotator sees after clicking.

After a click the canvas paints exactly the stored mask; quick clicks are all stored, one edit
each, and undo takes back one; the opacity slider changes the painted alpha; outline paints the
contour only; hiding an element clears its canvas; a disabled "Accept mask" looks disabled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotator.lib.rle import mask_area
from review.models import MaskEdit
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

SCREENSHOT_DIR = Path("/tmp/issue9")

# The subject canvas's pixels: how many are painted (alpha > 0) and the largest alpha.
PAINTED = """() => {
  const canvas = document.querySelector('canvas.mask-canvas[data-role="subject"]');
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0, top = 0;
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] > 0) { n += 1; top = Math.max(top, data[i]); }
  }
  return [n, top];
}"""
# The subject's answer is in, finished, painted, and no click is left on its way.
SETTLED = """(before) => {
  const s = document.getElementById("mask-state-subject");
  const canvas = document.querySelector('canvas.mask-canvas[data-role="subject"]');
  const finished = ["done", "none", "failed", "stale"].includes(s.dataset.status);
  return s.dataset.version !== before && finished
    && canvas.dataset.version === s.dataset.version
    && !document.querySelector(".mask-marks .mask-point.pending");
}"""


class MaskPage:
    def __init__(self, page):
        self.page = page
        self.version = page.get_attribute("#mask-state-subject", "data-version")

    def click(self, fx: float, fy: float) -> None:
        """A left click at a fraction of the displayed image's width and height."""
        box = self.page.locator(".stage img").bounding_box()
        self.page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])

    def settle(self) -> None:
        self.page.wait_for_function(SETTLED, arg=self.version, timeout=60_000)
        self.version = self.page.get_attribute("#mask-state-subject", "data-version")

    def painted(self) -> tuple[int, int]:
        return tuple(self.page.evaluate(PAINTED))

    def clicks_drawn(self) -> int:
        return self.page.locator(".mask-marks circle.mask-point").count()


def _head(sample_id: int) -> MaskEdit:
    edits = MaskEdit.objects.filter(sample_id=sample_id, role="subject", undone=False)
    return edits.order_by("-seq")[0]


def _open_a_sample(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    found = re.search(r"/samples/(\d+)/", page.url)
    assert found is not None
    sample_id = int(found.group(1))
    assert page.is_checked("input[name=mask-role][value=subject]")
    return page, sample_id


def _accept_looks(page) -> tuple[str, str, bool]:
    button = page.locator("#mask-state-subject button:has-text('Accept mask')")
    style = button.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).cursor]"
    )
    return style[0], style[1], button.is_disabled()


def test_a_click_paints_its_mask_and_quick_clicks_are_all_stored(demo_site, chromium_browser):
    page, sample_id = _open_a_sample(demo_site, chromium_browser)
    masks = MaskPage(page)
    disabled_look = _accept_looks(page)
    assert disabled_look[1:] == ("not-allowed", True)  # nothing to accept yet, and it shows

    masks.click(0.5, 0.5)
    masks.settle()
    edit = _head(sample_id)
    assert (edit.status, edit.segmenter, len(edit.points)) == ("done", "grabcut", 1)
    area = mask_area(edit.candidates[0]["rle"])
    assert masks.painted() == (area, 128)  # exactly the stored mask, at the default 50 %
    assert area > 0 and masks.clicks_drawn() == 1
    assert "grabcut" in page.inner_text("#mask-state-subject .mask-status")
    enabled_look = _accept_looks(page)
    assert not enabled_look[2] and enabled_look[0] != disabled_look[0]
    page.screenshot(path=str(SCREENSHOT_DIR / "masks_demo_click.png"))

    page.keyboard.press("Control+z")  # back to no clicks
    masks.settle()
    assert not MaskEdit.objects.filter(sample_id=sample_id, undone=False).exists()

    for i in range(6):  # ~100 ms apart, far quicker than GrabCut answers
        masks.click(0.35 + 0.05 * i, 0.4 + 0.04 * i)
        page.wait_for_timeout(100)
    masks.settle()
    head = _head(sample_id)
    assert len(head.points) == 6 and head.status == "done"
    assert MaskEdit.objects.filter(sample_id=sample_id, undone=False).count() == 6
    assert masks.painted()[0] == mask_area(head.candidates[0]["rle"]) > 0
    assert masks.clicks_drawn() == 6

    page.keyboard.press("Control+z")  # takes back the sixth click only
    masks.settle()
    head = _head(sample_id)
    assert len(head.points) == 5 and head.status == "done"
    assert masks.painted()[0] == mask_area(head.candidates[0]["rle"])
    assert masks.clicks_drawn() == 5


def test_opacity_outline_and_visibility_change_what_is_painted(demo_site, chromium_browser):
    page, sample_id = _open_a_sample(demo_site, chromium_browser)
    masks = MaskPage(page)
    masks.click(0.5, 0.5)
    masks.settle()
    area = mask_area(_head(sample_id).candidates[0]["rle"])
    assert masks.painted() == (area, 128)

    slider = page.locator("input[name=mask-opacity]")
    slider.focus()
    page.keyboard.press("End")  # 100 %
    assert masks.painted() == (area, 255)
    page.keyboard.press("Home")  # 10 %
    assert masks.painted() == (area, 26)
    assert page.inner_text(".mask-opacity output") == "10%"
    page.keyboard.press("End")

    page.check("input[name=mask-outline]")
    outline = masks.painted()[0]
    assert 0 < outline < area / 2  # the contour, not the inside
    page.screenshot(path=str(SCREENSHOT_DIR / "masks_demo_outline.png"))
    page.uncheck("input[name=mask-outline]")
    assert masks.painted()[0] == area

    page.uncheck("input[name=mask-visible][value=subject]")
    assert masks.painted() == (0, 0)
    page.check("input[name=mask-visible][value=subject]")
    assert masks.painted() == (area, 255)

    # The opacity and outline choice stays for the next sample (this browser's storage).
    page.reload()
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    assert page.input_value("input[name=mask-opacity]") == "100"
    page.wait_for_function(f"({PAINTED})()[1] === 255")


def test_clicks_while_the_page_polls_are_all_stored(demo_site, chromium_browser, settings):
    """Answers that come back before the mask (no waiting for the worker): with a worker
    (the PostgreSQL + Redis leg) the page polls, and clicks made meanwhile still all arrive."""
    settings.MASK_WAIT_SECONDS = 0
    page, sample_id = _open_a_sample(demo_site, chromium_browser)
    masks = MaskPage(page)
    for i in range(4):
        masks.click(0.4 + 0.05 * i, 0.5)
        page.wait_for_timeout(150 * i)  # 0, 150, 300, 450 ms: some while a poll is on its way
    masks.settle()
    head = _head(sample_id)
    assert len(head.points) == 4 and head.status == "done"
    assert masks.painted()[0] == mask_area(head.candidates[0]["rle"]) > 0
    assert masks.clicks_drawn() == 4


# Every text the subject's status line shows, as the person reads it (innerText skips hidden).
RECORD_STATUS = """() => {
  window.__statusTexts = [];
  const note = () => {
    const status = document.querySelector("#mask-state-subject .mask-status");
    if (status) window.__statusTexts.push(status.innerText.trim());
  };
  new MutationObserver(note).observe(document.querySelector(".mask-panel") || document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def test_the_status_says_computing_while_a_click_is_on_its_way(demo_site, chromium_browser):
    page, _ = _open_a_sample(demo_site, chromium_browser)
    masks = MaskPage(page)
    assert "No mask yet" in page.inner_text("#mask-state-subject .mask-status")
    page.evaluate(RECORD_STATUS)
    masks.click(0.5, 0.5)
    masks.settle()
    seen = page.evaluate("window.__statusTexts")
    assert any(text.startswith("computing mask…") for text in seen), seen
    assert not any("No mask yet" in text and "computing" in text for text in seen), seen
    assert "grabcut" in page.inner_text("#mask-state-subject .mask-status")


def test_a_click_on_the_rocket_stays_in_its_grounding_box(demo_site, chromium_browser):
    """A new user's one click inside the demo's rocket gave a mask 4-5x wider than the rocket,
    over sky and launch pad: GrabCut now starts from the element's grounding box."""
    from annotator.lib.rle import mask_bbox
    from annotator.models import Region, Sample

    rocket = Sample.objects.get(external_id="demo-rocket")
    boxes = Region.objects.filter(sample=rocket, role="subject").values_list("x1", "x2")
    left = min(float(x or 0) for x, _ in boxes)
    right = max(float(x or 0) for _, x in boxes)
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/samples/{rocket.pk}/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth > 0")
    masks = MaskPage(page)
    masks.click((left + right) / 2 / rocket.width, 0.63)
    masks.settle()
    rle = _head(rocket.pk).candidates[0]["rle"]
    x, _y, width, _h = mask_bbox(rle)
    pad = 0.02 * max(rocket.width, rocket.height) + 1
    assert left - pad <= x and x + width <= right + pad
    assert masks.painted() == (mask_area(rle), 128)  # what the person sees is that mask
    page.screenshot(path=str(SCREENSHOT_DIR / "masks_demo_rocket.png"))

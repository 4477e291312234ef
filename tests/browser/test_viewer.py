"""The sample image as a viewer (static/js/viewer.js), on the README demo's configuration: the
wheel zooms around the cursor, Space/middle-button drags pan, Fit and 1:1 give the sizes they
promise, and the grounded box stays over the same image pixels through all of it. On a
1366x768 laptop the image and the emotion choice share the first screen."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from annotator.models import Region, Sample
from review.models import MaskEdit
from review.selectors.samples import sample_image_path
from tests.browser.demo_site import DESKTOP, LAPTOP

pytestmark = [pytest.mark.browser]

TOLERANCE_PX = 2
# On-screen rectangles (left, top, width, height) of what a person sees in the viewer.
GEOMETRY = """() => {
  const rect = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height];
  };
  const box = document.querySelector(".overlay g.box");
  return {
    img: rect(document.querySelector(".stage img")),
    viewport: rect(document.querySelector(".viewport")),
    box: box ? rect(box.querySelector("rect.edge")) : null,
    boxAttrs: box ? ["x", "y", "width", "height"].map(
      (a) => +box.querySelector("rect.edge").getAttribute(a)) : null,
    boxRole: box ? box.dataset.role : null,
    label: box ? rect(document.querySelector(".box-label.role-" + box.dataset.role)) : null,
    layers: Array.from(document.querySelectorAll(
      ".stage .mask-canvas, .stage .mask-marks, .stage .overlay")).map(rect),
    zoom: document.querySelector(".zoom-level").textContent,
  };
}"""


def open_first_sample(demo_site: Any, browser: Any, viewport: dict[str, int]) -> tuple[Any, Sample]:
    """The annotator's page after "Start reviewing", its image loaded and the viewer ready."""
    page = demo_site.log_in(browser, "annotator", viewport=viewport)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    page.wait_for_function(
        "(() => { const img = document.querySelector('.stage img');"
        " return img.complete && img.naturalWidth > 0"
        " && !document.querySelector('.viewer-toolbar').hidden; })()"
    )
    pk = int(page.url.rstrip("/").rsplit("/", 1)[1])
    return page, Sample.objects.get(pk=pk)


def wheel(page: Any, x: float, y: float, *, notches: int) -> None:
    """Wheel up (zoom in) `notches` times at (x, y), each one applied before the next."""
    page.mouse.move(x, y)
    for _ in range(notches):
        before = page.get_attribute(".viewport", "data-zoom")
        page.mouse.wheel(0, -100)
        page.wait_for_function(
            "(b) => document.querySelector('.viewport').dataset.zoom !== b", arg=before
        )


def image_to_screen(
    geometry: dict[str, Any], sample: Sample, x: float | None, y: float | None
) -> tuple[float, float]:
    """Where image pixel (x, y) is on the screen now."""
    assert x is not None and y is not None
    left, top, width, height = geometry["img"]
    return left + x * width / sample.width, top + y * height / sample.height


def assert_box_over_region(geometry: dict[str, Any], sample: Sample) -> None:
    x, y, w, h = geometry["boxAttrs"]
    region = Region.objects.get(
        sample=sample,
        role=geometry["boxRole"],
        x1__range=(x - 0.5, x + 0.5),
        y1__range=(y - 0.5, y + 0.5),
        x2__range=(x + w - 0.5, x + w + 0.5),
        y2__range=(y + h - 0.5, y + h + 0.5),
    )
    x1, y1 = image_to_screen(geometry, sample, region.x1, region.y1)
    x2, y2 = image_to_screen(geometry, sample, region.x2, region.y2)
    left, top, width, height = geometry["box"]
    assert left == pytest.approx(x1, abs=TOLERANCE_PX)
    assert top == pytest.approx(y1, abs=TOLERANCE_PX)
    assert left + width == pytest.approx(x2, abs=TOLERANCE_PX)
    assert top + height == pytest.approx(y2, abs=TOLERANCE_PX)
    # The label sits at its box's corner (inside the box, a few px in), not where it was drawn.
    label_left = geometry["label"][0]
    assert x1 - 1 <= label_left <= x1 + 8
    # Mask canvases, click marks and boxes cover exactly the image.
    for layer in geometry["layers"]:
        assert layer == pytest.approx(geometry["img"], abs=0.5)


def test_wheel_zooms_around_the_cursor(demo_site, chromium_browser):
    page, sample = open_first_sample(demo_site, chromium_browser, DESKTOP)
    before = page.evaluate(GEOMETRY)
    shown_before = page.locator(".viewport").screenshot()
    left, top, width, height = before["img"]
    cursor = (left + 0.3 * width, top + 0.4 * height)  # image point (30%, 40%)

    wheel(page, *cursor, notches=3)
    after = page.evaluate(GEOMETRY)

    assert after["img"][2] > 1.6 * width and after["img"][3] > 1.6 * height
    x, y = image_to_screen(after, sample, 0.3 * sample.width, 0.4 * sample.height)
    assert x == pytest.approx(cursor[0], abs=TOLERANCE_PX)
    assert y == pytest.approx(cursor[1], abs=TOLERANCE_PX)
    # The viewport keeps its place and size; what it shows changed; the toolbar says how much.
    assert after["viewport"] == pytest.approx(before["viewport"], abs=0.5)
    assert page.locator(".viewport").screenshot() != shown_before
    assert int(after["zoom"].rstrip("%")) > 1.6 * int(before["zoom"].rstrip("%"))


def test_wheel_down_over_a_fitted_image_scrolls_the_page(demo_site, chromium_browser):
    page, _ = open_first_sample(demo_site, chromium_browser, DESKTOP)
    before = page.evaluate(GEOMETRY)
    left, top, width, height = before["img"]
    page.mouse.move(left + width / 2, top + height / 2)
    page.mouse.wheel(0, 200)
    page.wait_for_function("() => window.scrollY > 0")
    after = page.evaluate(GEOMETRY)
    assert after["img"][2:] == before["img"][2:] and after["zoom"] == before["zoom"]


def test_box_stays_over_its_pixels_through_zoom_and_pan(demo_site, chromium_browser):
    page, sample = open_first_sample(demo_site, chromium_browser, DESKTOP)
    geometry = page.evaluate(GEOMETRY)
    assert geometry["box"], "the demo's first sample has a grounded box"
    assert_box_over_region(geometry, sample)

    left, top, width, height = geometry["img"]
    wheel(page, left + 0.5 * width, top + 0.5 * height, notches=4)
    zoomed = page.evaluate(GEOMETRY)
    assert_box_over_region(zoomed, sample)

    # Space + drag pans, even though a left press on the image means "add a point" to masks.js.
    page.mouse.move(left + 0.5 * width, top + 0.5 * height)
    page.keyboard.down("Space")
    page.mouse.down()
    page.mouse.move(left + 0.5 * width - 90, top + 0.5 * height - 70, steps=6)
    page.mouse.up()
    page.keyboard.up("Space")
    panned = page.evaluate(GEOMETRY)
    assert panned["img"][0] == pytest.approx(zoomed["img"][0] - 90, abs=1)
    assert panned["img"][1] == pytest.approx(zoomed["img"][1] - 70, abs=1)
    assert_box_over_region(panned, sample)
    assert page.locator(".mask-marks circle").count() == 0
    assert MaskEdit.objects.count() == 0

    # So does a middle-button drag.
    page.mouse.move(left + 0.5 * width, top + 0.5 * height)
    page.mouse.down(button="middle")
    page.mouse.move(left + 0.5 * width + 40, top + 0.5 * height + 30, steps=4)
    page.mouse.up(button="middle")
    dragged = page.evaluate(GEOMETRY)
    assert dragged["img"][0] == pytest.approx(panned["img"][0] + 40, abs=1)
    assert dragged["img"][1] == pytest.approx(panned["img"][1] + 30, abs=1)
    assert_box_over_region(dragged, sample)
    assert MaskEdit.objects.count() == 0


def test_a_click_on_the_zoomed_image_lands_on_the_pixel_under_the_cursor(
    demo_site, chromium_browser
):
    page, sample = open_first_sample(demo_site, chromium_browser, DESKTOP)
    left, top, width, height = page.evaluate(GEOMETRY)["img"]
    wheel(page, left + 0.6 * width, top + 0.5 * height, notches=4)
    zoomed = page.evaluate(GEOMETRY)
    cursor = (left + 0.45 * width, top + 0.55 * height)
    scale = zoomed["img"][2] / sample.width
    expected = ((cursor[0] - zoomed["img"][0]) / scale, (cursor[1] - zoomed["img"][1]) / scale)

    page.mouse.click(*cursor)  # masks.js: a click on the image adds a point to the subject's mask
    page.wait_for_function("() => document.querySelectorAll('.mask-marks circle').length > 0")
    mark = page.locator(".mask-marks circle").first.bounding_box()
    assert mark["x"] + mark["width"] / 2 == pytest.approx(cursor[0], abs=TOLERANCE_PX)
    assert mark["y"] + mark["height"] / 2 == pytest.approx(cursor[1], abs=TOLERANCE_PX)
    edit = _wait_for_stored_edit()
    x, y, label = edit.points[0]
    assert (x, y, label) == (
        pytest.approx(expected[0], abs=1),
        pytest.approx(expected[1], abs=1),
        1,
    )


def _wait_for_stored_edit(*, computed: bool = False) -> MaskEdit:
    """The first click's edit once stored (and, with `computed`, once its mask is done)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        edit = MaskEdit.objects.order_by("pk").first()
        if edit is not None and edit.points and (not computed or edit.status == "done"):
            return edit
        time.sleep(0.2)
    raise AssertionError("the click was not stored" + (" and computed" if computed else ""))


def test_fit_and_actual_pixels(demo_site, chromium_browser):
    page, sample = open_first_sample(demo_site, chromium_browser, DESKTOP)
    fitted = page.evaluate(GEOMETRY)
    assert fitted["img"] == pytest.approx(fitted["viewport"], abs=0.5)
    fit_scale = fitted["img"][2] / sample.width
    assert fitted["zoom"] == f"{round(fit_scale * 100)}%"

    page.click("button[data-zoom=actual]")
    actual = page.evaluate(GEOMETRY)
    assert actual["img"][2:] == pytest.approx([sample.width, sample.height], abs=0.01)
    assert actual["zoom"] == "100%"
    # 1:1 shows the original file's own pixels (the page's device pixel ratio is 1), boxes off.
    page.uncheck("#toggle-boxes")
    assert _difference_from_original(page, sample) < 1.0
    page.check("#toggle-boxes")

    page.click("button[data-zoom=fit]")
    assert page.evaluate(GEOMETRY)["img"] == pytest.approx(fitted["img"], abs=0.5)

    # Keys: Z = 1:1, + zooms in a step, 0 fits; the digits still pick emotions (app.js).
    page.keyboard.press("z")
    assert page.evaluate(GEOMETRY)["img"][2] == pytest.approx(sample.width, abs=0.01)
    page.keyboard.press("0")
    page.keyboard.press("+")
    assert page.evaluate(GEOMETRY)["img"][2] == pytest.approx(1.25 * fitted["img"][2], abs=0.5)
    page.keyboard.press("0")
    assert page.evaluate(GEOMETRY)["img"] == pytest.approx(fitted["img"], abs=0.5)
    page.keyboard.press("1")
    assert page.is_checked("[data-emotion-key='1'] input[type=radio]")


def _difference_from_original(page: Any, sample: Sample) -> float:
    """Mean absolute difference (0-255) between the screen and the image file, per channel."""
    left, top, width, height = page.evaluate(GEOMETRY)["img"]
    shot = page.screenshot(clip={"x": left, "y": top, "width": width, "height": height})
    shown = Image.open(io.BytesIO(shot)).convert("RGB")
    path = sample_image_path(sample=sample)
    assert path is not None
    original = Image.open(path).convert("RGB")
    assert shown.size == original.size
    return sum(ImageStat.Stat(ImageChops.difference(shown, original)).mean) / 3


@pytest.mark.parametrize("viewport", [LAPTOP, DESKTOP], ids=["1366x768", "1440x900"])
def test_image_and_emotion_choice_share_the_first_screen(demo_site, chromium_browser, viewport):
    page, _ = open_first_sample(demo_site, chromium_browser, viewport)
    assert_on_first_screen(page, viewport)
    # The next sample opens under a "Saved …" message: still one screen.
    first = page.url
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    page.wait_for_function("(url) => location.href !== url", arg=first)
    page.wait_for_function("() => document.querySelector('.stage img')?.complete")
    assert "Saved" in page.inner_text(".messages")
    assert_on_first_screen(page, viewport)


def test_adjudicator_sees_image_and_emotion_choice_on_a_laptop(demo_site, chromium_browser):
    """Also with an annotator's mask on the sample (the people's masks card is below the form)."""
    page, sample = open_first_sample(demo_site, chromium_browser, DESKTOP)
    left, top, width, height = page.evaluate(GEOMETRY)["img"]
    page.mouse.click(left + width / 2, top + height / 2)
    _wait_for_stored_edit(computed=True)

    admin = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    admin.goto(f"{demo_site.url}/review/samples/{sample.pk}/")
    admin.wait_for_function("() => document.querySelector('.stage img').complete")
    assert admin.locator("#adjudication-form").count() == 1
    assert admin.locator(".people-masks").count() == 1
    assert_on_first_screen(admin, LAPTOP)


def assert_on_first_screen(page: Any, viewport: dict[str, int]) -> None:
    """The whole image and every emotion option are on screen, unscrolled and uncovered."""
    assert page.evaluate("window.scrollY") == 0

    def within_screen(selector: str) -> None:
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= viewport["width"], selector
        assert box["y"] + box["height"] <= viewport["height"], selector

    within_screen(".stage img")
    options = page.locator(".emotion-option")
    assert options.count() == 8
    for i in range(options.count()):
        within_screen(f".emotion-option >> nth={i}")
    # Nothing covers them: the point at each option's centre belongs to that option.
    covered = page.evaluate(
        """() => Array.from(document.querySelectorAll(".emotion-option")).filter((el) => {
          const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return !el.contains(hit);
        }).length"""
    )
    assert covered == 0

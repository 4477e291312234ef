"""The demo on a phone (390x844), as the annotator and as the admin: no page scrolls sideways,
every link of the top nav is on the screen, and the answer form comes right after the image
instead of ~2,900 px down below the vote, the critic and the model proposals. On a desktop
(1366x850) the sample page keeps its two columns: the form beside the image, under the proposals.

Screenshots go to /tmp/h1_shots/ (phone_*, desktop_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 850}
SHOTS = Path("/tmp/h1_shots")

ANNOTATOR_PAGES = {"queue": "/review/"}
ADMIN_PAGES = {"queue": "/review/", "audit": "/review/audit/", "export": "/review/export/"}


def _shot(page: Any, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _nav_links_right_edges(page: Any) -> dict[str, float]:
    """Each top-nav link's text and the x of its right edge, as the browser lays it out."""
    return dict(
        page.evaluate(
            """() => [...document.querySelectorAll('header.topbar nav a, header.topbar .logout')]
                 .map(e => [e.textContent.trim(), e.getBoundingClientRect().right])"""
        )
    )


def _assert_fits_the_phone(page: Any, name: str) -> None:
    page.wait_for_load_state("load")
    _shot(page, f"phone_{name}")
    assert _page_width(page) <= PHONE["width"], name
    edges = _nav_links_right_edges(page)
    assert edges, name
    outside = {text: right for text, right in edges.items() if right > PHONE["width"]}
    assert outside == {}, (name, outside)


def _open_a_sample_to_answer(demo_site: Any, page: Any) -> None:
    page.goto(f"{demo_site.url}/review/")
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")


def _top(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["y"])


def _assert_form_right_after_the_image(page: Any, name: str) -> None:
    image, form = page.locator(".image-panel"), page.locator("#adjudication-form")
    image_box, form_box = image.bounding_box(), form.bounding_box()
    assert image_box is not None and form_box is not None
    # Under the image (its mask panel included), above everything the models say.
    assert form_box["y"] >= image_box["y"] + image_box["height"], name
    assert form_box["y"] < _top(page, ".proposals"), name
    assert form_box["y"] < _top(page, ".dispute"), name
    assert form_box["y"] < PHONE["height"] * 2, (name, form_box["y"])
    # The form as wide as the screen allows, not squeezed by the reordering.
    assert form_box["width"] >= PHONE["width"] - 2 * 24, (name, form_box["width"])
    _shot(page, f"phone_{name}_full", full_page=True)


def test_annotator_pages_fit_a_phone(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=PHONE)
    for name, path in ANNOTATOR_PAGES.items():
        page.goto(f"{demo_site.url}{path}")
        _assert_fits_the_phone(page, f"annotator_{name}")
    _open_a_sample_to_answer(demo_site, page)
    _assert_fits_the_phone(page, "annotator_sample")
    _assert_form_right_after_the_image(page, "annotator_sample")
    # "Your work" with rows in it (one answered, one in hand): its table fits its frame, no
    # badge cut off at the edge.
    page.locator("#adjudication-form input[name=emotion]").first.check()
    page.fill("#adjudication-form input[name=confidence]", "7")
    with page.expect_navigation():
        page.click("#adjudication-form button[type=submit]")
    page.goto(f"{demo_site.url}/review/")
    table, frame = page.evaluate(
        "() => ['table.my-work', '.table-wrap'].map("
        "s => document.querySelector(s).getBoundingClientRect().right)"
    )
    assert table <= frame + 0.5, (table, frame)  # was 390 in a 374 px frame
    _shot(page, "phone_annotator_work_with_a_row")


def test_admin_pages_fit_a_phone(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "admin", viewport=PHONE)
    for name, path in ADMIN_PAGES.items():
        page.goto(f"{demo_site.url}{path}")
        _assert_fits_the_phone(page, f"admin_{name}")
    # The seven nav links and the logout button wrap onto lines instead of running off.
    assert len(_nav_links_right_edges(page)) == 8
    disputed = demo_site.disputed()[0]
    page.goto(f"{demo_site.url}/review/samples/{disputed.pk}/")
    _assert_fits_the_phone(page, "admin_sample")
    assert page.locator(".proposals td.differs").count() > 0  # the hidden "(disagrees)" labels
    # The models' columns keep whole words and scroll sideways under row names that stay put.
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.proposals table.compare td')]"
        ".map(td => td.getBoundingClientRect().width)"
    )
    assert widths and min(widths) >= 8.5 * 16 - 1, widths
    wrap = page.locator(".proposals .table-wrap")
    row_name = page.locator(".proposals table.compare th[scope=row]").first
    wrap.scroll_into_view_if_needed()
    before = row_name.bounding_box()
    wrap.evaluate("w => { w.scrollLeft = 200; }")
    after = row_name.bounding_box()
    assert before is not None and after is not None and after["x"] == before["x"]
    _shot(page, "admin_sample_proposals_scrolled")
    _assert_form_right_after_the_image(page, "admin_sample")


def test_desktop_sample_keeps_the_form_beside_the_image(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "admin", viewport=DESKTOP)
    _shot(page, "desktop_admin_queue")
    for name, path in ADMIN_PAGES.items():
        page.goto(f"{demo_site.url}{path}")
        page.wait_for_load_state("load")
        _shot(page, f"desktop_admin_{name}")
        assert _page_width(page) <= DESKTOP["width"], name
        assert len(_nav_links_right_edges(page)) == 8
        # One line of nav on a desktop: every link as high up as the first.
        tops = page.evaluate(
            "() => [...document.querySelectorAll('header.topbar nav a')]"
            ".map(e => Math.round(e.getBoundingClientRect().top))"
        )
        assert len(set(tops)) == 1, (name, tops)
    disputed = demo_site.disputed()[0]
    page.goto(f"{demo_site.url}/review/samples/{disputed.pk}/")
    page.wait_for_load_state("load")
    _shot(page, "desktop_admin_sample")
    image = page.locator(".image-panel").bounding_box()
    form = page.locator("#adjudication-form").bounding_box()
    assert image is not None and form is not None
    assert form["x"] >= image["x"] + image["width"]  # beside, not under
    assert _top(page, ".proposals") < form["y"]  # the proposals above it, as before
    assert _top(page, ".dispute") > image["y"]  # the vote under the image in its column


def test_desktop_annotator_sample_keeps_two_columns(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=DESKTOP)
    _open_a_sample_to_answer(demo_site, page)
    page.wait_for_load_state("load")
    _shot(page, "desktop_annotator_sample")
    image = page.locator(".image-panel").bounding_box()
    form = page.locator("#adjudication-form").bounding_box()
    assert image is not None and form is not None
    assert form["x"] >= image["x"] + image["width"]
    assert _top(page, ".proposals") < form["y"]


def _right_strip_min_luminance(png: bytes, *, strip: int = 12) -> int:
    """The darkest pixel in the strip along the right edge of a screenshot."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    return min(image.crop((width - strip, 0, width, height)).getdata())


def test_a_table_wider_than_the_phone_fades_at_the_edge_with_more(demo_site, chromium_browser):
    """The queue's margin and status columns lie beyond the phone's right edge: that edge
    fades out (the text there turns pale) until the table is scrolled to its end, and then
    the left edge fades instead."""
    page = demo_site.log_in(chromium_browser, "admin", viewport=PHONE)
    page.goto(f"{demo_site.url}/review/?status=disputed")
    wrap = page.locator(".table-wrap").first
    page.wait_for_function("() => document.querySelector('.table-wrap.more-right')")
    faded = _right_strip_min_luminance(wrap.screenshot())
    wrap.evaluate("w => w.classList.remove('more-right')")  # the same rows, drawn unfaded
    plain = _right_strip_min_luminance(wrap.screenshot())
    assert faded > plain + 60, (faded, plain)  # dark text at the edge now near the background
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    page.wait_for_function("() => document.querySelector('.table-wrap.more-left')")
    assert "more-right" not in (wrap.get_attribute("class") or "")
    _shot(page, "phone_admin_queue_scrolled_to_the_end")
    page.set_viewport_size(DESKTOP)
    page.wait_for_function("() => !document.querySelector('.table-wrap.more-left')")
    assert "more-right" not in (wrap.get_attribute("class") or "")  # it all fits: no fade

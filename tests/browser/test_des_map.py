"""The DES map in chromium on the demo: the map computes in the background and draws; colouring
by another attribute changes the canvas' pixels; a box selection opens a queue of exactly the
samples it held."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from django.core.cache import cache

from annotator.models import Sample
from review.models import Adjudication
from review.models_desmap import MapSelection
from tests.browser.test_csp import RECORD_VIOLATIONS

pytestmark = [pytest.mark.browser]

PIXELS = """() => {
  const c = document.getElementById("des-canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0, painted = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3]) painted++;
    h = (h * 31 + d[i] * 7 + d[i + 1] * 13 + d[i + 2] + d[i + 3]) % 1000000007;
  }
  return [h, painted];
}"""

FIRST_POINT = """() => {
  const c = document.getElementById("des-canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] === 255) return [(i / 4) % c.width, Math.floor(i / 4 / c.width)];
  }
  return null;
}"""


def _give_des(dataset) -> None:
    """The demo ships no DES vectors: give each sample one, clustered by suggested emotion."""
    rng = np.random.default_rng(7)
    emotions = sorted(set(dataset.samples.values_list("suggested_emotion", flat=True)))
    for sample in dataset.samples.order_by("pk"):
        centre = np.zeros(64)
        centre[emotions.index(sample.suggested_emotion) % 64] = 4.0
        vector = (centre + rng.normal(size=64)).astype("<f4")
        Sample.objects.filter(pk=sample.pk).update(des=vector.tobytes())


def test_the_map_draws_recolours_and_a_box_opens_its_queue(demo_site, chromium_browser):
    cache.clear()  # colourings are cached by map id, and ids repeat between tests
    _give_des(demo_site.dataset)
    total = demo_site.dataset.samples.count()
    page = demo_site.log_in(chromium_browser, "admin")
    page.context.add_init_script(RECORD_VIOLATIONS)  # the strict CSP, as test_csp checks it
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.locator("nav a", has_text="Map").click()
    # No map yet: the page asks for one, polls, and reloads when it is done.
    page.wait_for_function(
        "() => Number(document.getElementById('des-canvas')?.dataset.drawn || 0) >= 1",
        timeout=30_000,
    )
    assert page.locator("#des-canvas").get_attribute("data-points") == str(total)
    before, painted = page.evaluate(PIXELS)
    assert painted > 0

    page.select_option("#des-by", "status")
    page.wait_for_function(
        "() => document.getElementById('des-canvas').dataset.by === 'status'", timeout=10_000
    )
    page.wait_for_function("() => document.querySelector('#des-legend li')", timeout=10_000)
    after, _ = page.evaluate(PIXELS)
    assert after != before  # the points changed colour
    assert "by=status" in page.url
    assert page.evaluate("window.__csp") == [] and errors == []

    # Hover over a drawn point: its thumbnail; a click opens its sample.
    x, y = page.evaluate(FIRST_POINT)
    box = page.locator("#des-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x + 2, box["y"] + y + 2)
    page.wait_for_function("() => !document.getElementById('des-tip').hidden", timeout=5_000)
    src = page.locator("#des-tip-img").get_attribute("src") or ""
    assert re.fullmatch(r"/review/samples/\d+/image/", src)
    page.screenshot(path="/tmp/des_map_hover.png")
    page.mouse.click(box["x"] + x + 2, box["y"] + y + 2)
    page.wait_for_url(re.compile(r".*/review/samples/\d+/$"))
    assert page.url.endswith(src.removesuffix("image/"))
    page.go_back()
    page.wait_for_function(
        "() => Number(document.getElementById('des-canvas')?.dataset.drawn || 0) >= 1"
    )

    assert page.evaluate("window.__csp") == [] and errors == []

    # A lasso drawn around the whole map holds every point, those on its edges too.
    page.check("input[name=des-tool][value=lasso]")
    box = page.locator("#des-canvas").bounding_box()
    assert box is not None
    left, top = box["x"] + 3, box["y"] + 3
    right, bottom = box["x"] + box["width"] - 3, box["y"] + box["height"] - 3
    page.mouse.move(left, top)
    page.mouse.down()
    for x, y in [(right, top), (right, bottom), (left, bottom), (left, top + 5)]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()
    assert page.locator("#des-review").inner_text() == f"Review these {total}"

    page.check("input[name=des-tool][value=box]")
    box = page.locator("#des-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2, steps=8)
    page.mouse.up()
    text = page.locator("#des-review").inner_text()
    chosen = int(re.search(r"\d+", text).group())  # type: ignore[union-attr]
    assert 0 < chosen < total
    page.screenshot(path="/tmp/des_map.png", full_page=True)
    page.locator("#des-review").click()
    page.wait_for_url(re.compile(r".*/review/\?.*selection=.*"))
    token = re.search(r"selection=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]
    assert MapSelection.objects.get(token=token).n_samples == chosen
    assert page.locator("table.queue tbody tr").count() == chosen


def test_at_1366x768_the_map_fits_its_points_keep_off_the_edge_and_hover_names_the_sample(
    demo_site, chromium_browser
):
    cache.clear()
    _give_des(demo_site.dataset)
    page = demo_site.log_in(chromium_browser, "admin", viewport={"width": 1366, "height": 768})
    page.goto(f"{demo_site.url}/review/map/")
    page.wait_for_function(
        "() => Number(document.getElementById('des-canvas')?.dataset.drawn || 0) >= 1",
        timeout=30_000,
    )
    box = page.locator("#des-canvas").bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 768  # the whole canvas above the fold
    x, y = page.evaluate(FIRST_POINT)  # the topmost point's top-left pixel
    assert y >= 20  # padding inside the canvas, not a point at its edge
    # 9 px off the point's centre still finds it (10 px points, a 12 px hit radius).
    page.mouse.move(box["x"] + x + 5 + 9, box["y"] + y + 5)
    page.wait_for_function("() => !document.getElementById('des-tip').hidden", timeout=5_000)
    src = page.locator("#des-tip-img").get_attribute("src") or ""
    sample = Sample.objects.get(pk=int(re.search(r"/(\d+)/image/", src).group(1)))  # type: ignore[union-attr]
    label = page.locator("#des-tip-text").inner_text()
    assert label.startswith(f"{sample.external_id} · "), label
    assert not label.startswith("#")
    page.screenshot(path="/tmp/des_map_1366x768.png")


SWATCHES = """() => Object.fromEntries([...document.querySelectorAll('#des-legend li')].map(li => [
  li.textContent.trim().replace(/\\s+\\d+$/, ''),
  getComputedStyle(li.querySelector('.des-swatch')).backgroundColor.match(/\\d+/g).map(Number),
]))"""

PAINTED_WITH = """(rgb) => {
  const c = document.getElementById("des-canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] && d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) n++;
  }
  return n;
}"""


def _drawn_map(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "() => Number(document.getElementById('des-canvas')?.dataset.drawn || 0) >= 1",
        timeout=30_000,
    )


def test_each_emotion_keeps_its_colour_when_another_label_goes_and_umap_says_what_to_install(
    demo_site, chromium_browser
):
    cache.clear()
    dataset = demo_site.dataset
    _give_des(dataset)
    page = demo_site.log_in(chromium_browser, "admin")
    url = f"{demo_site.url}/review/map/?dataset={dataset.pk}&by=emotion"
    _drawn_map(page, url)
    option = page.locator("#des-method option[value=umap]")
    if importlib.util.find_spec("umap") is None:
        assert option.is_disabled() and option.inner_text() == "UMAP (needs the map extra)"
        hint = page.locator("#des-needs-umap")
        assert hint.is_visible()
        assert (
            hint.inner_text()
            == 'UMAP needs the map extra: pip install -c constraints.txt -e ".[map]"'
        )
        page.goto(f"{url}&method=umap")  # an old link: what to install, no failed job
        missing = page.locator("#des-map-missing")
        assert missing.inner_text().endswith('pip install -c constraints.txt -e ".[map]"')
        assert page.locator(".des-recompute").count() == 0
        page.screenshot(path="/tmp/h6_shots/map_umap_missing.png", full_page=True)
        _drawn_map(page, url)
    else:
        assert option.is_enabled()
    first = page.evaluate(SWATCHES)
    page.screenshot(path="/tmp/h6_shots/map_before.png", full_page=True)
    labels = list(dataset.taxonomy.labels)
    shown = [label for label in labels if label in first]
    assert len(shown) >= 3, first
    gone, into = shown[0], shown[-1]  # every label after the first would move up a colour
    Sample.objects.filter(dataset=dataset, suggested_emotion=gone).update(suggested_emotion=into)
    Adjudication.objects.filter(sample__dataset=dataset, emotion=gone).update(emotion=into)
    cache.clear()  # the colouring is kept 30 s
    _drawn_map(page, url)
    second = page.evaluate(SWATCHES)
    page.screenshot(path="/tmp/h6_shots/map_after.png", full_page=True)
    assert gone not in second
    for label in shown[1:]:
        assert second[label] == first[label], (label, first, second)
        assert page.evaluate(PAINTED_WITH, second[label]) > 0, label  # its points wear it

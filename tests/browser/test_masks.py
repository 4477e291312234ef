"""Click-to-refine in a real browser: click the image, the mask overlay changes; keys cycle
candidates and undo. Tasks run in the server's process (no broker), with the tiny SAM."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from annotator.lib.rle import mask_area
from review.models import MaskEdit
from review.roles import ADJUDICATOR
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.masks import inline_tasks, make_scene_sample, tiny_sam  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ml,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOT = Path("/tmp/mask_page.png")
# Pixels the element's canvas paints (alpha > 0): what a person sees of the mask.
PAINTED = """(role) => {
  const canvas = document.querySelector(`canvas.mask-canvas[data-role="${role}"]`);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
  return n;
}"""


def _open_sample(page, live_server, sample):
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name=ADJUDICATOR)[0])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.goto(f"{live_server.url}/review/samples/{sample.pk}/")
    page.wait_for_function("() => document.querySelector('.stage img').naturalWidth === 320")


def _wait_state(page, version_before: str) -> str:
    """Until a newer state is swapped in, finished, and painted (the canvas carries the version
    it last drew)."""
    page.wait_for_function(
        """(before) => {
          const s = document.getElementById("mask-state-subject");
          const canvas = document.querySelector('canvas.mask-canvas[data-role="subject"]');
          return s.dataset.version !== before && s.dataset.status !== "pending"
            && canvas.dataset.version === s.dataset.version;
        }""",
        arg=version_before,
    )
    return page.get_attribute("#mask-state-subject", "data-version")


@pytest.mark.usefixtures("tiny_sam", "inline_tasks")
def test_clicking_the_image_changes_the_overlay(live_server, chromium_page, images_root):
    sample = make_scene_sample(images_root)
    page = chromium_page
    _open_sample(page, live_server, sample)
    assert page.is_checked("input[name=mask-role][value=subject]")
    assert page.evaluate(PAINTED, "subject") == 0
    version = page.get_attribute("#mask-state-subject", "data-version")

    box = page.locator(".stage img").bounding_box()
    scale = box["width"] / 320
    page.mouse.click(box["x"] + 150 * scale, box["y"] + 100 * scale)  # image pixel (150, 100)
    version = _wait_state(page, version)

    edit = MaskEdit.objects.get()
    assert edit.status == "done"
    x, y, label = edit.points[0]
    assert (abs(x - 150) < 1.5, abs(y - 100) < 1.5, label) == (True, True, 1)
    best = edit.candidates[0]["rle"]
    # The overlay (a PNG at the image's size) paints exactly the stored mask's pixels.
    assert page.evaluate(PAINTED, "subject") == mask_area(best) > 0
    assert page.locator(".mask-marks circle.mask-point.add").count() == 1
    assert "sam-tiny" in page.inner_text("#mask-state-subject .mask-status")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.keyboard.press("m")  # the next candidate, drawn from the page's data, then stored
    second = mask_area(edit.candidates[1]["rle"])
    page.wait_for_function(f"({PAINTED})('subject') === {second}", timeout=5000)
    version = _wait_state(page, version)
    edit.refresh_from_db()
    assert edit.chosen == 1

    page.keyboard.down("Shift")  # shift-click removes
    page.mouse.click(box["x"] + 20 * scale, box["y"] + 20 * scale)
    page.keyboard.up("Shift")
    version = _wait_state(page, version)
    latest = MaskEdit.objects.order_by("-seq")[0]
    assert [p[2] for p in latest.points] == [1, 0]
    assert page.locator(".mask-marks circle.mask-point.remove").count() == 1

    page.keyboard.press("Control+z")
    _wait_state(page, version)
    assert page.evaluate(PAINTED, "subject") == mask_area(edit.candidates[1]["rle"])
    assert page.locator(".mask-marks circle").count() == 1

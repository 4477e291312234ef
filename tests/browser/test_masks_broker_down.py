"""A click in a real browser while the broker is unreachable: the panel says the workers are
unreachable and keeps polling; once the broker is back, a poll sends the saved click and the
mask appears. The server runs in this process (GrabCut; tasks inline once "back")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from review.models import MaskEdit
from review.roles import ADJUDICATOR
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.broker import UNREACHABLE_BROKER, broker_at
from tests.support.masks import make_scene_sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATUS = "#mask-state-subject .mask-status"


def test_a_click_waits_for_the_workers_and_is_drawn_when_they_are_back(
    live_server, chromium_page, images_root, settings
):
    settings.SEGMENTER = "grabcut"
    settings.MASK_WAIT_SECONDS = 0.2
    sample = make_scene_sample(images_root)
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name=ADJUDICATOR)[0])
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    with broker_at(UNREACHABLE_BROKER, settings):
        page.goto(f"{live_server.url}/review/samples/{sample.pk}/")
        page.wait_for_function("() => document.querySelector('.stage img').naturalWidth === 320")
        box = page.locator(".stage img").bounding_box()
        scale = box["width"] / 320
        page.mouse.click(box["x"] + 150 * scale, box["y"] + 100 * scale)
        page.wait_for_selector(f"{STATUS} >> text=workers unreachable")
        assert "will be computed when they are back" in page.inner_text(STATUS)
        assert MaskEdit.objects.get().status == "pending"
    MaskEdit.objects.update(sent_at=timezone.now() - timedelta(seconds=5))
    with broker_at(UNREACHABLE_BROKER, settings, eager=True):  # back: tasks run in-process
        page.wait_for_function(
            "() => document.getElementById('mask-state-subject').dataset.status === 'done'",
            timeout=20_000,
        )
    assert MaskEdit.objects.get().status == "done"
    assert "unreachable" not in page.inner_text(STATUS)

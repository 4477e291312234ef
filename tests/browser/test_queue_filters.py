"""The queue in a real browser: the filter selects (drawn without Django's widget templates)
swap the rows through htmx and push the URL; the Next link continues from the last row."""

from __future__ import annotations

import pytest

from review.roles import ADJUDICATOR, AUDITOR
from tests.factories import DEFAULT_PASSWORD, DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = "() => document.querySelectorAll('#queue-results tbody tr').length"


def test_filters_swap_the_rows_and_next_continues(live_server, chromium_page, settings):
    settings.QUEUE_PAGE_SIZE = 2
    ds = DatasetFactory.create(name="pets")
    for i, source in enumerate(["FI", "EmoSet", "FI", "FI"]):
        SampleFactory.create(dataset=ds, external_id=f"s{i}", source=source)
    user, page = member(AUDITOR, ADJUDICATOR), chromium_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{live_server.url}/review/")
    assert page.locator("#id_status").input_value() == "disputed"
    page.select_option("#id_source", "FI")  # hx-trigger="change": only the rows come back
    page.wait_for_function("() => location.search.includes('source=FI')")
    page.wait_for_function("() => document.body.textContent.includes('Page 1 of 2')")
    assert page.locator("#queue-results tbody th").all_inner_texts() == ["s0", "s2"]
    page.click("#queue-results a[rel=next]")
    page.wait_for_function("() => location.search.includes('after=')")
    page.wait_for_function(f"{ROWS} === 1")
    assert page.locator("#queue-results tbody th").all_inner_texts() == ["s3"]
    assert page.locator("#id_source").input_value() == "FI"

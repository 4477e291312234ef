"""What a person sees on the demo: the audit's Fleiss' kappa over the three models that labelled
the same samples (emoverse left out, saying why and over how many samples), and a history that
lists only the fields each event changed, with yes/no and local moments."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from review.labels import Label
from review.services.adjudication import adjudicate_sample
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

SHOTS = "/tmp/h_shots/{}.png"


def test_the_models_table_has_a_kappa_and_says_over_what(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/audit/?dataset=demo")
    table = page.locator("#table-models")
    text = " ".join(table.inner_text().split())
    rows = [" ".join(row.split()) for row in table.locator("tbody tr").all_inner_texts()]
    kappa = [row for row in rows if row.startswith("Fleiss' kappa ")]
    assert len(kappa) == 1 and re.fullmatch(r"Fleiss' kappa -?\d\.\d{3}", kappa[0]), rows
    assert "Fleiss' kappa: models emovit, gemini-2.5-flash, gpt-4o" in text
    assert "emoverse left out: it labelled no sample the others did." in text
    assert re.search(r"Fleiss' kappa is over the \d+ samples that emovit", text)
    table.scroll_into_view_if_needed()
    table.screenshot(path=SHOTS.format("h3_audit_models"))


def test_the_history_lists_changed_fields_in_words(demo_site, chromium_browser, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    sample = demo_site.dataset.samples.order_by("pk").first()
    assert sample is not None
    admin = User.objects.get(username="admin")
    for emotion in ("awe", "fear"):
        adjudicate_sample(sample=sample, annotator=admin, label=Label(emotion, 5))
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/samples/{sample.pk}/history/")
    events = page.locator("#events-title + ol.history > li")
    latest = events.first.locator("table.changes tbody tr")
    rows = [" ".join(row.split()) for row in latest.all_inner_texts()]
    assert rows == ["version 1 2", "emotion awe fear"]  # not method, annotator, confidence
    body = page.inner_text("body")
    assert "False" not in body and "True" not in body and "+00:00" not in body
    page.screenshot(path=SHOTS.format("h3_history"), full_page=True)

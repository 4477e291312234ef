"""The queue's empty list says why it is empty and links where the samples are."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotator.models import Sample
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def _empty(html: str) -> str:
    block = html.split('id="queue-empty">', 1)[1].split("</div>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", block)).strip()


def test_no_disputed_sample_names_the_statuses_that_hold_them(client, auditor):
    ds = DatasetFactory.create(name="pets")
    SampleFactory.create_batch(2, dataset=ds, status=Sample.Status.ADJUDICATED)
    SampleFactory.create(dataset=ds, status=Sample.Status.DROPPED)
    client.force_login(auditor)
    html = client.get(QUEUE).content.decode()
    assert "No samples match these filters" not in html
    text = _empty(html)
    assert text.startswith("No disputed sample waits: nothing is left for people to settle.")
    assert "See instead: 2 adjudicated · 1 dropped." in text
    assert f'href="{QUEUE}?status=adjudicated"' in html


def test_filters_that_hide_the_status_s_samples_offer_to_clear_them(client, auditor):
    ds = DatasetFactory.create(name="pets")
    SampleFactory.create_batch(3, dataset=ds, source="FI", suggested_emotion="awe")
    client.force_login(auditor)
    listed = client.get(QUEUE, {"dataset": ds.pk, "source": "FI", "suggested": "awe"})
    assert 'id="queue-empty"' not in listed.content.decode()
    none = client.get(QUEUE, {"dataset": ds.pk, "status": "adjudicated"}).content.decode()
    assert _empty(none).startswith("No adjudicated sample in pets.")
    assert "See instead: 3 disputed." in _empty(none)
    SampleFactory.create(dataset=ds, source="web", suggested_emotion="fear")
    narrowed = client.get(QUEUE, {"dataset": ds.pk, "source": "web", "suggested": "awe"})
    text = _empty(narrowed.content.decode())
    assert text.startswith(
        "None of the 4 disputed samples in pets has source “web” and suggested emotion “awe”."
    )
    assert "Show them all (without the source and emotion filters)." in text
    assert f'href="{QUEUE}?dataset={ds.pk}"' in narrowed.content.decode()


def test_status_counts_link_to_their_status_keeping_the_other_filters(client, auditor):
    ds = DatasetFactory.create(name="pets")
    SampleFactory.create(dataset=ds, source="FI")
    client.force_login(auditor)
    html = client.get(QUEUE, {"dataset": ds.pk, "source": "FI"}).content.decode()
    link = f"{QUEUE}?dataset={ds.pk}&amp;source=FI&amp;status=dropped"
    assert f'<a class="count status-dropped" href="{link}"' in html
    current = f'<a class="count status-disputed current" href="{QUEUE}?dataset={ds.pk}'
    assert current in html and 'aria-current="page"' in html

"""The history page as a person reads it: only the fields an event changed, yes/no for
booleans, moments in the site's time zone to the second (not raw JSON: False,
2026-12-04T19:54:51.460832+00:00, "method adjudicator -> adjudicator")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from review.labels import Label
from review.models import AuditEvent
from review.roles import ADJUDICATOR, ANNOTATOR
from review.selectors.history import event_changes, shown_value
from review.services.adjudication import adjudicate_sample
from review.services.assignment import lease_next_sample
from review.services.history import record_event
from tests.factories import AdminFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db

LEASED_AT = datetime(2026, 12, 4, 19, 24, 51, 460832, tzinfo=UTC)


def _rows(html: str) -> list[list[str]]:
    """Every row of the change tables, as the cells' text."""
    rows = []
    for table in re.findall(r'<table class="changes">(.*?)</table>', html, flags=re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:  # after the header
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
            rows.append([unescape(cell).strip() for cell in cells])
    return rows


@pytest.fixture
def history(client, settings):
    """A lease, then an adjudicator's two decisions that change only the emotion."""
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in December
    sample = SampleFactory.create()
    assert lease_next_sample(user=member(ANNOTATOR), dataset=sample.dataset, now=LEASED_AT)
    judge = member(ADJUDICATOR, username="judge")
    adjudicate_sample(sample=sample, annotator=judge, label=Label(emotion="awe", confidence=5))
    adjudicate_sample(sample=sample, annotator=judge, label=Label(emotion="fear", confidence=5))
    client.force_login(AdminFactory())
    response = client.get(reverse("review:history", args=[sample.pk]))
    assert response.status_code == 200
    return sample, response.content.decode()


def test_a_decision_lists_only_the_fields_it_changed(history):
    sample, html = history
    second = AuditEvent.objects.filter(sample=sample, action="decide").order_by("-id").first()
    assert second is not None and second.before and second.after
    assert second.before["method"] == second.after["method"]
    fields = [c.field for c in event_changes(event=second)]
    assert fields == ["version", "emotion"]  # not method, annotator, confidence, reverted
    rows = _rows(html)
    assert ["version", "1", "2"] in rows and ["emotion", "awe", "fear"] in rows
    assert ["method", "adjudicator", "adjudicator"] not in rows
    assert not any(row[1] == row[2] for row in rows)  # no unchanged row anywhere


def test_booleans_read_yes_no_and_no_raw_json_value_shows(history):
    _, html = history
    rows = _rows(html)
    assert ["reverted", "—", "no"] in rows  # the first version: False as "no"
    assert "False" not in html and "+00:00" not in html and "T19:" not in html


def test_the_lease_expiry_is_in_the_site_time_zone(history):
    _, html = history
    expiry = next(row for row in _rows(html) if row[0] == "expires_at")
    after = AuditEvent.objects.get(action="lease").after
    assert after is not None
    written = after["expires_at"]
    assert written.endswith("+00:00")  # the event holds UTC
    berlin = datetime.fromisoformat(written) + timedelta(hours=1)  # Europe/Berlin in December
    assert expiry == ["expires_at", "—", berlin.strftime("%Y-%m-%d %H:%M:%S")]


def test_shown_values(settings):
    settings.TIME_ZONE = "UTC"
    assert shown_value(True) == "yes" and shown_value(False) == "no"
    assert shown_value(5.0) == "5" and shown_value(7.5) == "7.5"
    assert shown_value(None) == "—" and shown_value("") == "—"
    assert shown_value("2026-12-04T19:54:51.460832+00:00") == "2026-12-04 19:54:51"  # UTC site
    assert shown_value("2026-13-04T19:54") == "2026-13-04T19:54"  # not a moment: as written
    assert shown_value({"b": True, "a": 1}) == '{"a": 1, "b": true}'


def test_an_event_with_nothing_changed_lists_no_field():
    sample = SampleFactory.create()
    same = {"method": "adjudicator", "confidence": 5.0, "notes": ""}
    event = record_event(
        sample=sample, actor=None, action="decide", before=same, after={**same, "notes": None}
    )
    assert event_changes(event=event) == []

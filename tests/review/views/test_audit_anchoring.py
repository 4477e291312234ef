"""The anchoring table on the audit page, as CSV, in the JSON figures and agreement --json."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from review.models import Annotation, BlindAnswer
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_audit_cache")]


@pytest.fixture
def dataset():
    dataset = DatasetFactory.create(name="blind-set", machine_blind=True)
    person = member(username="ana")
    for blind, final in (("fear", "awe"), ("awe", "awe")):
        sample = SampleFactory.create(dataset=dataset, suggested_emotion="awe")
        BlindAnswer.objects.create(
            sample=sample, annotator=person, emotion=blind, confidence=5, suggested_emotion="awe"
        )
        Annotation.objects.create(sample=sample, annotator=person, emotion=final, confidence=6)
    return dataset


def test_the_dashboard_shows_the_anchoring_table(auditor_client, dataset):
    html = auditor_client.get(reverse("review:audit"), {"dataset": "blind-set"}).content.decode()
    assert 'id="audit-anchoring"' in html and "moved to the machines" in html
    assert "everyone" in html and "ana" in html and "1 (50%)" in html


def test_the_table_downloads_as_csv_and_shows_in_the_json(auditor_client, dataset):
    url = reverse("review:audit_table", args=["anchoring"])
    csv_text = b"".join(
        auditor_client.get(url, {"dataset": "blind-set", "format": "csv"}).streaming_content
    ).decode()
    assert csv_text.splitlines()[1].startswith("everyone,2,1,1,0,1,2,")
    figures = auditor_client.get(reverse("review:audit_json"), {"dataset": "blind-set"}).json()
    assert figures["anchoring"]["total"]["toward_machines"] == 1


def test_a_dataset_that_is_not_blind_has_no_anchoring_section(auditor_client):
    DatasetFactory.create(name="plain")
    html = auditor_client.get(reverse("review:audit"), {"dataset": "plain"}).content.decode()
    assert 'id="audit-anchoring"' not in html


def test_agreement_json_has_the_anchoring_figures(capsys, dataset):
    call_command("agreement", "--dataset", "blind-set", "--json")
    figures = json.loads(capsys.readouterr().out)
    assert figures["anchoring"]["total"]["changed"] == 1
    assert figures["anchoring"]["people"][0]["annotator"] == "ana"

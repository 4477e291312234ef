"""The audit's binary-protocol section: votes per unit, yes-share of single- and multi-vote
units, agreement on multiply-rated units, and the warning with its figures."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from review.models import BinaryVote
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_audit_cache")]

UNITS = 30  # per group: above the protocol's minimum for judging the design


@pytest.fixture
def dataset():
    """Sequential votes: a first "no" ends the unit; a first "yes" gets two more votes that
    mostly agree (as EmoNet-Face's protocol)."""
    dataset = DatasetFactory.create(name="votes")
    people = [member(username=name) for name in ("h1", "h2", "h3")]
    votes = []
    for i in range(2 * UNITS):
        sample = SampleFactory.create(dataset=dataset)
        first = i < UNITS
        votes.append(BinaryVote(sample=sample, annotator=people[0], emotion="awe", value=first))
        if first:
            votes.append(BinaryVote(sample=sample, annotator=people[1], emotion="awe", value=True))
            third = i % 3 != 0  # a third of the follow-ups disagree
            votes.append(BinaryVote(sample=sample, annotator=people[2], emotion="awe", value=third))
    BinaryVote.objects.bulk_create(votes)
    return dataset


def test_the_dashboard_warns_with_the_figures(auditor_client, dataset):
    response = auditor_client.get(reverse("review:audit"), {"dataset": "votes"})
    html = " ".join(response.content.decode().split())
    assert 'id="audit-protocol"' in html and "Alpha misleads here." in html
    # Single-vote units all said no (0.0%); multi-vote ones: 80 yes of 90 votes.
    assert "88.9% on the 30 units with two or more votes but 0.0% on the 30 single-vote" in html
    assert "units by number of votes" in html


def test_the_figures_are_in_the_json_and_the_tables_download(auditor_client, dataset):
    figures = auditor_client.get(reverse("review:audit_json"), {"dataset": "votes"}).json()
    protocol = figures["binary_protocol"]
    assert [(r["votes"], r["units"]) for r in protocol["by_votes"]] == [(1, 30), (3, 30)]
    assert protocol["multi_units_without_yes"] == 0 and protocol["warnings"]
    url = reverse("review:audit_table", args=["binary-protocol-votes"])
    response = auditor_client.get(url, {"dataset": "votes", "format": "csv"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("votes per unit,units,") and lines[1].startswith("1,30,0.5,0.0,")


def test_a_dataset_of_label_answers_has_no_protocol_section(auditor_client):
    DatasetFactory.create(name="labels")
    html = auditor_client.get(reverse("review:audit"), {"dataset": "labels"}).content.decode()
    assert 'id="audit-protocol"' not in html
    url = reverse("review:audit_table", args=["binary-protocol"])
    assert auditor_client.get(url, {"dataset": "labels"}).status_code == 404


def test_agreement_json_has_the_protocol(capsys, dataset):
    call_command("agreement", "--dataset", "votes", "--json")
    figures = json.loads(capsys.readouterr().out)
    assert figures["binary_protocol"]["single_units"] == 30

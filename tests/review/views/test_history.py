"""Undo names the version the person saw, on the history page and the API (issue 10): an
admin's undo without it reverted another person's later label."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from review.models import Adjudication
from review.roles import ADJUDICATOR
from tests.factories import AdjudicationFactory, AdminFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample():
    """Version 1 by one adjudicator, then version 2 by another (the current one)."""
    s = SampleFactory.create()
    AdjudicationFactory.create(sample=s, version=1, annotator=member(ADJUDICATOR), emotion="awe")
    AdjudicationFactory.create(sample=s, version=2, annotator=member(ADJUDICATOR), emotion="fear")
    return s


def _undo(client, sample, **data):
    return client.post(reverse("review:undo", args=[sample.pk]), data)


def _nothing_reverted() -> bool:
    return not Adjudication.objects.filter(reverted=True).exists()


def test_an_admins_undo_of_an_older_version_is_a_409_and_the_later_label_stays(client, sample):
    client.force_login(AdminFactory())
    response = _undo(client, sample, version="1")  # the admin opened the page at version 1
    assert response.status_code == 409
    html = response.content.decode()
    assert "Not undone" in html and "version 2" in html
    assert _nothing_reverted()


@pytest.mark.parametrize("version", [None, "", "two", "99999999999999999999"])
def test_an_undo_without_a_version_is_a_400(client, sample, version):
    client.force_login(AdminFactory())
    response = _undo(client, sample) if version is None else _undo(client, sample, version=version)
    assert response.status_code == 400
    assert "Say which version you undo" in response.content.decode()
    assert _nothing_reverted()


def test_an_htmx_undo_gets_the_message_alone(client, sample):
    client.force_login(AdminFactory())
    response = client.post(
        reverse("review:undo", args=[sample.pk]), {"version": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/plain") and "Not undone" in response.text


def test_the_current_version_is_undone_and_the_page_offers_it(client, sample):
    client.force_login(AdminFactory())
    page = client.get(reverse("review:history", args=[sample.pk])).content.decode()
    assert 'name="version" value="2"' in page
    response = _undo(client, sample, version="2")
    assert response.status_code == 302
    assert Adjudication.objects.get(version=2).reverted


def test_the_api_undo_needs_the_version_and_refuses_a_stale_one(sample):
    token = Token.objects.create(user=AdminFactory.create()).key
    api = Client(headers={"Authorization": f"Token {token}"})
    url = f"/api/samples/{sample.pk}/adjudication/undo/"
    missing = api.post(url, {})
    assert missing.status_code == 400 and "version" in missing.json()
    stale = api.post(url, {"version": 1})
    assert stale.status_code == 409 and stale.json()["theirs"]["version"] == 2
    assert _nothing_reverted()
    assert api.post(url, {"version": 2}).status_code == 200


def test_after_undoing_every_version_the_form_names_the_version_a_save_makes(client, sample):
    client.force_login(AdminFactory())
    assert _undo(client, sample, version="2").status_code < 400
    assert _undo(client, sample, version="1").status_code < 400
    page = client.get(reverse("review:sample", args=[sample.pk])).content.decode()
    # Versions are never reused: the next save is version 3 (the form said "version 1").
    assert "No final label yet: saving makes version 3." in page

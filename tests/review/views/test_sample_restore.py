"""Restore a dropped sample from its own page (walkthrough 70_dropped_sample.png: Restore was
only on a pipeline run's page). Admins only, as policy.can_administer says; plain POST or htmx."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import CriticVerdict, Sample
from review.models import AuditEvent
from tests.factories import CriticVerdictFactory, ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dropped():
    sample = SampleFactory.create(external_id="gravel", status=Sample.Status.DROPPED)
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="contentment")
    ProposalFactory.create(sample=sample, model_name="gemini", emotion="sadness")
    CriticVerdictFactory.create(sample=sample, verdict=CriticVerdict.Verdict.DROP)
    return sample


def _page(client, sample) -> str:
    return client.get(reverse("review:sample", args=[sample.pk])).content.decode()


def test_admins_see_restore_on_a_dropped_sample(client, admin_user, dropped):
    client.force_login(admin_user)
    html = _page(client, dropped)
    url = reverse("review:restore_from_sample", args=[dropped.pk])
    assert f'action="{url}" hx-post="{url}"' in html
    assert "Dropped by the critic" in html and ">Restore</button>" in html


def test_no_restore_for_adjudicators_or_samples_in_review(client, admin_user, adjudicator, dropped):
    client.force_login(adjudicator)
    assert 'id="restore-form"' not in _page(client, dropped)
    client.force_login(admin_user)
    assert 'id="restore-form"' not in _page(client, SampleFactory.create())


def test_a_plain_post_restores_and_comes_back_to_the_sample(client, admin_user, dropped):
    client.force_login(admin_user)
    url = reverse("review:restore_from_sample", args=[dropped.pk])
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(reverse("review:sample", args=[dropped.pk]), 302)]
    dropped.refresh_from_db()
    assert dropped.status != Sample.Status.DROPPED
    html = response.content.decode()
    assert f"Restored gravel: now {dropped.status}." in html
    assert 'id="restore-form"' not in html  # nothing left to restore
    assert CriticVerdict.objects.filter(sample=dropped, verdict="preserve").exists()
    assert AuditEvent.objects.filter(sample=dropped, action="restore_dropped").count() == 1


def test_htmx_gets_a_full_navigation_back_to_the_sample(client, admin_user, dropped):
    client.force_login(admin_user)
    url = reverse("review:restore_from_sample", args=[dropped.pk])
    response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("review:sample", args=[dropped.pk])
    dropped.refresh_from_db()
    assert dropped.status != Sample.Status.DROPPED


def test_a_second_restore_says_it_is_no_longer_dropped(client, admin_user, dropped):
    client.force_login(admin_user)
    url = reverse("review:restore_from_sample", args=[dropped.pk])
    client.post(url)
    again = client.post(url, follow=True).content.decode()
    assert "gravel is" in again and "not dropped." in again
    assert AuditEvent.objects.filter(sample=dropped, action="restore_dropped").count() == 1


def test_only_admins_may_restore(client, adjudicator, dropped):
    url = reverse("review:restore_from_sample", args=[dropped.pk])
    assert client.post(url).status_code == 302  # to the login page
    client.force_login(adjudicator)
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 405
    dropped.refresh_from_db()
    assert dropped.status == Sample.Status.DROPPED
    assert not CriticVerdict.objects.filter(sample=dropped, verdict="preserve").exists()


def test_greyed_previous_and_next_say_why(client, admin_user, dropped):
    """The only dropped sample: J/K walk the samples of its status, so both are greyed out and
    say so (the walkthrough saw them greyed without a word)."""
    client.force_login(admin_user)
    html = _page(client, dropped)
    assert 'title="No earlier dropped sample: J/K walk the samples of this status"' in html
    assert 'title="No later dropped sample: J/K walk the samples of this status"' in html
    later = SampleFactory.create(dataset=dropped.dataset, status=Sample.Status.DROPPED)
    html = _page(client, dropped)
    assert f'href="{reverse("review:sample", args=[later.pk])}" rel="next"' in html
    assert "No later dropped sample" not in html

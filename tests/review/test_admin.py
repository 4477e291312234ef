"""The dataset admin: the action that sends a share of agreed samples to people (review/admin.py)
and the blind-to-machines switch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Sample
from review.models import AuditEvent
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db


def _run_action(client, *datasets) -> str:
    response = client.post(
        reverse("admin:annotator_dataset_changelist"),
        {"action": "select_human_checks", "_selected_action": [d.pk for d in datasets]},
        follow=True,
    )
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def test_the_action_flags_the_datasets_share_of_agreed_samples_and_says_so(client, admin_user):
    client.force_login(admin_user)
    dataset = DatasetFactory.create(agreed_review_share=0.5)
    SampleFactory.create_batch(40, dataset=dataset, status=Sample.Status.AGREED)
    disputed = SampleFactory.create(dataset=dataset, status=Sample.Status.DISPUTED)

    message = _run_action(client, dataset)
    flagged = Sample.objects.filter(dataset=dataset, human_check=True)
    assert 8 <= flagged.count() <= 32  # a seeded hash, about half
    assert f"{flagged.count()} of 40 agreed samples go to people" in message
    assert not Sample.objects.get(pk=disputed.pk).human_check
    assert AuditEvent.objects.filter(actor=admin_user).exists()

    again = _run_action(client, dataset)  # the same seed picks the same samples
    assert "+0, -0" in again
    assert Sample.objects.filter(dataset=dataset, human_check=True).count() == flagged.count()


def test_a_bad_share_is_reported_and_changes_nothing(client, admin_user):
    client.force_login(admin_user)
    dataset = DatasetFactory.create(agreed_review_share=1.5)
    SampleFactory.create_batch(3, dataset=dataset, status=Sample.Status.AGREED)
    message = _run_action(client, dataset)
    assert f"{dataset.name}: share must be between 0 and 1, not 1.5" in message
    assert not Sample.objects.filter(human_check=True).exists()


def test_an_annotator_cannot_run_the_action(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="x", is_staff=False)
    client.force_login(user)
    dataset = DatasetFactory.create(agreed_review_share=1.0)
    SampleFactory.create(dataset=dataset, status=Sample.Status.AGREED)
    response = client.post(
        reverse("admin:annotator_dataset_changelist"),
        {"action": "select_human_checks", "_selected_action": [dataset.pk]},
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Sample.objects.filter(human_check=True).exists()


def test_an_admin_turns_blind_to_machines_on_in_the_dataset_form(client, admin_user):
    client.force_login(admin_user)
    dataset = DatasetFactory.create()
    url = reverse("admin:annotator_dataset_change", args=[dataset.pk])
    form = client.get(url).context["adminform"].form
    assert "machine_blind" in form.fields and form.initial["machine_blind"] is False
    data = {k: v for k, v in form.initial.items() if v is not None and k != "taxonomy"}
    data |= {"model_weights": "{}", "binary_protocol": "{}", "machine_blind": "on"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    dataset.refresh_from_db()
    assert dataset.machine_blind is True
    listing = client.get(
        reverse("admin:annotator_dataset_changelist"), {"machine_blind__exact": "1"}
    )
    assert dataset.name in listing.content.decode()

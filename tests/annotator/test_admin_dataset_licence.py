"""An admin sets a dataset's licence and attribution, which every export and datasheet state."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


def test_an_admin_sets_licence_and_attribution_in_the_dataset_form(client, admin_user):
    client.force_login(admin_user)
    dataset = DatasetFactory.create()
    url = reverse("admin:annotator_dataset_change", args=[dataset.pk])
    form = client.get(url).context["adminform"].form
    assert {"licence", "attribution"} <= set(form.fields)
    data = {k: v for k, v in form.initial.items() if v is not None and k != "taxonomy"}
    data |= {"model_weights": "{}", "binary_protocol": "{}"}
    data |= {"licence": "CC BY-NC 4.0", "attribution": "Images: EmoSet (Yang et al., 2023)"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    dataset.refresh_from_db()
    assert (dataset.licence, dataset.attribution) == (
        "CC BY-NC 4.0",
        "Images: EmoSet (Yang et al., 2023)",
    )
    listing = client.get(reverse("admin:annotator_dataset_changelist")).content.decode()
    assert "CC BY-NC 4.0" in listing

"""Every factory saves a valid row on its own (subfactories make what it needs)."""

from __future__ import annotations

import pytest

from tests import factories, factories_review

pytestmark = pytest.mark.django_db

FACTORIES = [
    value
    for module in (factories, factories_review)
    for name, value in vars(module).items()
    if name.endswith("Factory") and value.__module__ == module.__name__
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_the_factory_saves_a_row(factory):
    row = factory.create()
    model = factory._meta.model
    assert model.objects.filter(pk=row.pk).exists()
    row.full_clean()  # what the services would accept too

"""The DES change mark's triggers come back after what drops them (a SQLite migration that
rebuilds annotator_sample): post_migrate reinstalls them, as it does QueueCount's, so the map's
staleness check keeps its cheap path."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from review.services import des_map_changes
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _drop_triggers() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {des_map_changes.POSTGRES_TRIGGER} ON annotator_sample")
        else:
            for name in des_map_changes.SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER {name}")


def test_dropped_triggers_are_back_after_migrate():
    dataset = DatasetFactory.create()
    assert des_map_changes.des_generation(dataset_id=dataset.pk) is not None
    _drop_triggers()
    assert des_map_changes.des_generation(dataset_id=dataset.pk) is None  # the slow path
    call_command("migrate", verbosity=0, interactive=False)  # post_migrate
    assert des_map_changes.des_generation(dataset_id=dataset.pk) is not None

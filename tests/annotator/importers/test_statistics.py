"""After an import the planner has statistics, and on PostgreSQL the new pages are marked
all-visible (VACUUM), so the queue's OFFSET and counts can read its indexes alone."""

from __future__ import annotations

import pytest

from annotator.services.importing import import_samples_file
from tests.annotator.importers.helpers import record, write_jsonl
from tests.support.sql import scalar


def _visible_pages() -> int:
    return int(str(scalar("SELECT relallvisible FROM pg_class WHERE relname = 'annotator_sample'")))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_outside_a_transaction_vacuums_its_tables(tmp_path, images_root):
    assert _visible_pages() == 0
    path = write_jsonl(
        tmp_path / "samples.jsonl", *[record(f"s{i}", "a.jpg", emotion="awe") for i in range(40)]
    )
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert _visible_pages() > 0  # only VACUUM sets it; ANALYZE alone leaves it at 0


def _plan_cache_mode() -> str:
    return str(scalar("SHOW plan_cache_mode"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_plans_each_statement_with_its_values_and_the_web_keeps_auto():
    from django.db import transaction

    from annotator.importers.statistics import plan_with_values

    assert _plan_cache_mode() == "auto"  # the connection's default (settings)
    with transaction.atomic():
        plan_with_values()
        assert _plan_cache_mode() == "force_custom_plan"
    assert _plan_cache_mode() == "auto"  # SET LOCAL: gone with the import's transaction

"""Beat's statistics check: the tables changed past autovacuum's thresholds get ANALYZE, the
others are left alone, whether or not autovacuum runs."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from annotator.celery import app
from annotator.models import Sample
from annotator.services.planner_statistics import analyze_stale_tables
from tests.factories import DatasetFactory, SampleFactory
from tests.support.sql import scalar

TABLE = "public.annotator_sample"


def _rows_the_planner_knows() -> float:
    return float(str(scalar("SELECT reltuples FROM pg_class WHERE relname = 'annotator_sample'")))


def _flush_counters() -> None:
    """The counters reach pg_stat_user_tables at a transaction's end, at most once a second
    unless asked (PostgreSQL 15)."""
    scalar("SELECT pg_stat_force_next_flush()")
    scalar("SELECT 1")


@pytest.fixture
def no_autovacuum():
    """Where the server runs autovacuum, it could analyse the table between our steps."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE annotator_sample SET (autovacuum_enabled = false)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE annotator_sample RESET (autovacuum_enabled)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_table_changed_past_the_threshold_is_analysed_once(no_autovacuum):
    dataset = DatasetFactory.create(name="stats")
    SampleFactory.create_batch(120, dataset=dataset)  # never analysed: 120 > 50 + 0.1 x 0
    _flush_counters()
    assert _rows_the_planner_knows() < 120
    assert TABLE in analyze_stale_tables()
    assert _rows_the_planner_knows() == Sample.objects.count() == 120
    _flush_counters()
    assert TABLE not in analyze_stale_tables()  # nothing changed since
    SampleFactory.create_batch(30, dataset=dataset)  # 30 < 50 + 0.1 x 120
    _flush_counters()
    assert TABLE not in analyze_stale_tables()
    assert _rows_the_planner_knows() == 120


@pytest.mark.django_db
def test_on_sqlite_it_asks_sqlite_to_optimize():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's branch")
    SampleFactory.create_batch(3)
    assert analyze_stale_tables() == []


def test_beat_runs_the_check():
    app.loader.import_default_modules()
    assert "annotator.analyze_stale_tables" in app.tasks
    schedule = app.conf.beat_schedule.values()
    entries = [e for e in schedule if e["task"] == "annotator.analyze_stale_tables"]
    assert len(entries) == 1 and entries[0]["schedule"] == 60.0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_command_names_what_it_analysed(capsys, no_autovacuum):
    SampleFactory.create_batch(60)
    _flush_counters()
    call_command("analyze_stale_tables")
    assert TABLE in capsys.readouterr().out
    _flush_counters()
    call_command("analyze_stale_tables")
    assert "No table needed analysing." in capsys.readouterr().out

"""The audit's transport: fetch's columnar path (SQLite and PostgreSQL) gives the row path's
numbers exactly, falls back when a float is not in millionths, and the background loader sees
the same data."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from django.db import connection, transaction

from annotator.models import Proposal
from review.models import Adjudication
from review.selectors.audit_data import load_audit_data
from review.selectors.audit_query import (
    AuditFilters,
    EpochMillis,
    _fetch_columns,
    _fetch_rows,
    coded,
    fetch,
    in_background,
)
from tests.factories import AdjudicationFactory, DatasetFactory, ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db


def _sorted(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort(rows.T[::-1])] if len(rows) else rows


def _proposals(confidences: list[float | None]) -> None:
    dataset = DatasetFactory.create()
    for i, confidence in enumerate(confidences):
        sample = SampleFactory.create(dataset=dataset)
        ProposalFactory.create(
            sample=sample, model_name=["m1", "m2"][i % 2], emotion="awe", confidence=confidence
        )
        ProposalFactory.create(sample=sample, model_name="m3", emotion="nope", confidence=0.0)


def _query():
    columns = ("sample_id", coded("model_name", ["m1", "m2"]), coded("emotion", ["awe"]))
    return Proposal.objects.values_list(*columns, "confidence", EpochMillis("created_at"))


def _both_paths() -> tuple[np.ndarray | None, np.ndarray]:
    compiler = _query().query.get_compiler(using="default")
    sql, params = compiler.as_sql()
    kinds = ["integer", "integer", "integer", "float", "integer"]
    return _fetch_columns(connection, sql, params, kinds), _fetch_rows(connection, sql, params, 5)


def test_columns_carry_codes_nulls_floats_and_times_exactly():
    _proposals([7.5, None, 0.1, 10.0, 3.141592])
    columns, rows = _both_paths()
    assert columns is not None and columns.shape == (10, 5)
    assert np.array_equal(_sorted(columns), _sorted(rows), equal_nan=True)
    assert set(columns[:, 1]) == {0.0, 1.0, -1.0} and set(columns[:, 2]) == {0.0, -1.0}
    assert np.isnan(columns[:, 3]).sum() == 1 and 0.1 in columns[:, 3]
    created = Proposal.objects.order_by("id").first().created_at  # type: ignore[union-attr]
    assert abs(columns[:, 4].min() / 1000 - created.timestamp()) < 0.001


def test_a_float_not_in_millionths_falls_back_to_rows():
    _proposals([7.5, 1 / 3])
    columns, _ = _both_paths()
    assert columns is None
    assert 1 / 3 in fetch(_query())[:, 3]  # exactly the stored double


def test_fetch_of_nothing_is_an_empty_array_of_the_right_width():
    assert fetch(_query()).shape == (0, 5)
    assert fetch(_query().none()).shape == (0, 5)  # no SQL at all (EmptyResultSet)


def test_a_boolean_column_comes_as_zero_and_one():
    AdjudicationFactory.create(reverted=True)
    AdjudicationFactory.create(reverted=False)
    values = fetch(Adjudication.objects.values_list("reverted", "version"))
    assert sorted(values[:, 0]) == [0.0, 1.0]


def test_inside_a_transaction_the_work_stays_on_this_thread():
    result = in_background(lambda: threading.current_thread().name)
    assert result() == threading.current_thread().name


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_audit_reads_answers_on_a_thread_with_the_same_result(
    monkeypatch,
):
    _proposals([7.5, 2.0, None])
    dataset = Proposal.objects.first().sample.dataset  # type: ignore[union-attr]
    threads: list[str] = []
    from review.selectors import audit_data as module

    answers = module._answers

    def spy(*args):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return answers(*args)

    monkeypatch.setattr(module, "_answers", spy)
    filters = AuditFilters(dataset=dataset)
    threaded = load_audit_data(filters=filters)
    assert threads[0].startswith("audit-load")
    with transaction.atomic():
        here = load_audit_data(filters=filters)
    assert threads[1] == threading.current_thread().name
    for name in ("model_labels", "model_conf", "rating_unit", "rating_value", "decision_at"):
        assert np.array_equal(getattr(threaded, name), getattr(here, name), equal_nan=True)
    assert np.array_equal(threaded.model_conf[:, 2], [0.0, 0.0, 0.0])

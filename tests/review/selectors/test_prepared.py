"""Prepared statements: compiled once, run with each call's values."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.models import Sample
from review.models import Draft
from review.selectors import prepared
from tests.factories import DatasetFactory, SampleFactory
from tests.factories_review import DraftFactory

pytestmark = pytest.mark.django_db


def _recent(*, dataset_id, since, source):
    return (
        Sample.objects.filter(dataset_id=dataset_id, created_at__gte=since, source=source)
        .order_by("id")
        .values_list("external_id")
    )


def test_each_call_binds_its_own_values_into_the_compiled_sql():
    a, b = DatasetFactory.create(), DatasetFactory.create()
    SampleFactory.create(dataset=a, external_id="a1", source="FI")
    SampleFactory.create(dataset=b, external_id="b1", source="FI")
    SampleFactory.create(dataset=b, external_id="b2", source="EmoSet")
    now = timezone.now()
    built = []

    def build(**slots):
        built.append(slots)
        return _recent(**slots)

    def run(**values):
        return [r[0] for r in prepared.fetch(key="test-recent", build=build, values=values)]

    hour_ago = now - timedelta(hours=1)
    assert run(dataset_id=a.pk, since=hour_ago, source="FI") == ["a1"]
    assert run(dataset_id=b.pk, since=hour_ago, source="FI") == ["b1"]
    assert run(dataset_id=b.pk, since=hour_ago, source="EmoSet") == ["b2"]
    assert run(dataset_id=b.pk, since=now + timedelta(hours=1), source="FI") == []
    assert len(built) == 1  # compiled once
    with CaptureQueriesContext(connection) as ctx:
        assert prepared.count(key="test-count", build=build, values={
            "dataset_id": b.pk, "since": hour_ago, "source": "FI"}) == 1  # fmt: skip
    assert len(ctx.captured_queries) == 1


def test_a_value_left_out_of_the_parameters_is_refused():
    def build(*, dataset_id):  # ignores its slot: the SQL would not follow the value
        return Sample.objects.filter(dataset_id=1).values_list("id")

    with pytest.raises(ValueError, match="not parameters"):
        prepared.fetch(key="test-folded", build=build, values={"dataset_id": 5})


def test_constants_are_written_into_the_sql_and_slots_stay_parameters():
    """A generic plan (PostgreSQL, after five runs) knows the constants: text (quotes and
    percent signs kept) and integers become literals; the slots' values stay parameters."""
    ds = DatasetFactory.create()
    SampleFactory.create(dataset=ds, external_id="it's 100%", source="Emo'Set%")
    SampleFactory.create(dataset=ds, external_id="other", source="FI")

    def build(*, dataset_id):
        return (
            Sample.objects.filter(dataset_id=dataset_id, source="Emo'Set%")
            .order_by("id")
            .values_list("external_id")[:5]
        )

    for _ in range(7):  # past PostgreSQL's five custom plans
        rows = prepared.fetch(key="test-constants", build=build, values={"dataset_id": ds.pk})
        assert rows == [("it's 100%",)]
    sql, names, params = prepared._COMPILED[("test-constants", connection.vendor)]
    assert "'Emo''Set%%'" in sql and "LIMIT 5" in sql
    assert names == ("dataset_id",) and len(params) == 1


def _drafts(*, sample_id):
    return Draft.objects.filter(sample_id=sample_id).order_by("pk")


def _model_fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_instances_are_the_models_the_orm_reads_json_and_moments_converted():
    first, second = SampleFactory.create(), SampleFactory.create()
    DraftFactory.create(sample=first, data={"emotion": "awe", "confidence": 7.5})
    DraftFactory.create(sample=second, data={"notes": "ä <b>"}, base_version=3)
    DraftFactory.create(sample=second, data={})
    for sample in (first, second):
        got = prepared.instances(key="test-drafts", build=_drafts, values={"sample_id": sample.pk})
        expected = list(_drafts(sample_id=sample.pk))
        assert [_model_fields(d) for d in got] == [_model_fields(d) for d in expected]
        assert all(isinstance(d.updated_at, datetime) and d.updated_at.tzinfo for d in got)
    deferred = prepared.instances(
        key="test-deferred",
        build=lambda *, sample_id: Sample.objects.filter(pk=sample_id).defer("des"),
        values={"sample_id": first.pk},
    )
    assert deferred[0].external_id == first.external_id
    assert "des" in deferred[0].get_deferred_fields()


def test_instances_refuse_what_is_not_one_models_own_columns():
    def joined(*, sample_id):
        return Draft.objects.filter(sample_id=sample_id).select_related("author")

    with pytest.raises(ValueError, match="own columns"):
        prepared.instances(key="test-joined", build=joined, values={"sample_id": 1})


def test_attached_rows_are_read_without_a_query_and_a_filter_stays_in_the_relation():
    from tests.factories import ProposalFactory

    sample, other = SampleFactory.create(), SampleFactory.create()
    mine = [ProposalFactory.create(sample=sample, model_name=m) for m in ("a", "b")]
    ProposalFactory.create(sample=other, model_name="a")
    fresh = Sample.objects.get(pk=sample.pk)
    prepared.attach_prefetched(fresh, "proposals", mine)
    with CaptureQueriesContext(connection) as ctx:
        assert list(fresh.proposals.all()) == mine
        assert fresh.proposals.count() == 2
    assert len(ctx.captured_queries) == 0
    assert list(fresh.proposals.filter(model_name="a")) == [mine[0]]  # not the other sample's

"""Prepared statements: compiled once, run with each call's values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.models import Sample
from review.selectors import prepared
from tests.factories import DatasetFactory, SampleFactory

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

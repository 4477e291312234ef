"""Bytes that used to crash the API (500) are a 400 naming the field: dates past the calendar,
JSON nested 100,000 deep, integers past the column, NUL characters (PostgreSQL refuses them)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import override_settings

from review.models import Adjudication, Annotation
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from tests.factories import DatasetFactory, SampleFactory
from tests.review.api.test_views import _client
from tests.review.team import lease, member

pytestmark = pytest.mark.django_db

HUGE = 2**70
LABEL = {"emotion": "awe", "confidence": 7}


@pytest.fixture
def sample():
    return SampleFactory.create(dataset=DatasetFactory.create(name="ds", overlap_k=1))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "0001-01-01", "until": "9999-12-31"}, "since"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "0001-01-01"}, "since"),
    ],
)
def test_audit_dates_past_the_calendar_are_400_naming_the_date(sample, query, field):
    api = _client(member(AUDITOR))
    for url in ("/api/audit/", "/api/audit/samples/?figure=disputed"):
        response = api.get(url, {"dataset": "ds", **query})
        assert response.status_code == 400, (url, response.content[:300])
        assert field in response.json()
        assert "Use a date from 1900-01-01 to 9998-12-31" in str(response.json()[field])


def test_audit_dates_at_the_edges_are_answered(sample):
    response = _client(member(AUDITOR)).get(
        "/api/audit/", {"dataset": "ds", "since": "1900-01-01", "until": "9998-12-31"}
    )
    assert response.status_code == 200


def _nested(depth: int) -> str:
    return '{"emotion": "awe", "confidence": 7, "notes": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [100_000, 33])
def test_a_deeply_nested_body_is_a_parse_error(sample, depth):
    api = _client(member(ADJUDICATOR))
    response = api.post(
        f"/api/samples/{sample.pk}/adjudication/",
        _nested(depth),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]
    assert not Adjudication.objects.exists()


def test_a_body_nested_within_the_limit_reaches_the_serializer(sample):
    api = _client(member(ADJUDICATOR))
    response = api.post(
        f"/api/samples/{sample.pk}/adjudication/", _nested(31), content_type="application/json"
    )
    assert response.status_code == 400 and "notes" in response.json()


def test_brackets_inside_strings_do_not_count_as_depth(sample):
    api = _client(member(ADJUDICATOR))
    label = {**LABEL, "base_version": 0, "notes": "[" * 100 + "{" * 100}
    response = api.post(f"/api/samples/{sample.pk}/adjudication/", label, format="json")
    assert response.status_code == 201


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_json_body_over_the_size_limit_is_400(sample):
    api = _client(member(ADJUDICATOR))
    label = {**LABEL, "base_version": 0, "notes": "x" * 1200}
    response = api.post(f"/api/samples/{sample.pk}/adjudication/", label, format="json")
    assert response.status_code == 400
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("adjudication/", {**LABEL, "base_version": HUGE}, "base_version"),
        ("adjudication/", {**LABEL, "base_version": 0, "time_spent_ms": HUGE}, "time_spent_ms"),
        ("adjudication/undo/", {"version": HUGE}, "version"),
    ],
)
def test_integers_past_the_column_are_400_naming_the_field(sample, path, body, field):
    api = _client(member(ADJUDICATOR))
    response = api.post(f"/api/samples/{sample.pk}/{path}", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


def test_an_answer_with_a_huge_base_version_is_400(sample):
    person = member(ANNOTATOR)
    lease(sample, person)
    response = _client(person).post(
        f"/api/samples/{sample.pk}/answer/", {**LABEL, "base_version": HUGE}, format="json"
    )
    assert response.status_code == 400 and "base_version" in response.json()
    assert not Annotation.objects.exists()


def test_next_with_a_huge_dataset_id_is_400(sample):
    response = _client(member(ANNOTATOR)).post("/api/next/", {"dataset": HUGE}, format="json")
    assert response.status_code == 400 and "dataset" in response.json()


@pytest.mark.parametrize("field", ["emotion", "subject", "notes"])
def test_nul_in_a_text_field_is_400_naming_it(sample, field):
    api = _client(member(ADJUDICATOR))
    label = {**LABEL, "base_version": 0, field: "awe\x00"}
    response = api.post(f"/api/samples/{sample.pk}/adjudication/", label, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_nul_in_a_form_encoded_api_body_is_400_naming_it(sample, encoding):
    api = _client(member(ADJUDICATOR))
    label = {**LABEL, "base_version": 0, "notes": "a\x00b"}
    url = f"/api/samples/{sample.pk}/adjudication/"
    if encoding == "urlencoded":
        form = "application/x-www-form-urlencoded"
        response = api.post(url, urlencode(label), content_type=form)
    else:
        response = api.post(url, label)
    assert response.status_code == 400
    assert list(response.json()) == ["notes"]
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/api/queue/", {"source": "a\x00"}),
        ("/api/queue/", {"suggested": "\x00"}),
        ("/api/audit/", {"dataset": "ds\x00"}),
    ],
)
def test_nul_in_a_query_parameter_is_400_naming_it(sample, url, query):
    response = _client(member(ADJUDICATOR, AUDITOR)).get(url, query)
    assert response.status_code == 400
    assert list(response.json()) == list(query)


@pytest.mark.postgres
@pytest.mark.parametrize("field", ["notes", "subject"])
def test_nul_never_reaches_postgresql(sample, field):
    # On PostgreSQL a NUL that got through was a DataError (500); on SQLite it was stored.
    api = _client(member(ADJUDICATOR))
    label = {**LABEL, "base_version": 0, field: "x\x00y"}
    for encoding in ("json", "multipart"):
        response = api.post(f"/api/samples/{sample.pk}/adjudication/", label, format=encoding)
        assert response.status_code == 400 and field in response.json()

"""A request reads a sample's dataset and taxonomy once; the next request reads them anew."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.models import Dataset
from review.request_memo import RequestMemoMiddleware, remembered
from review.roles import ANNOTATOR
from review.selectors.samples import locked_sample, sample_for_answer
from review.services.assignment import lease_next_sample
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def _dataset_reads(captured: CaptureQueriesContext) -> int:
    return sum('FROM "annotator_dataset" WHERE' in q["sql"] for q in captured.captured_queries)


def test_outside_a_request_every_read_goes_to_the_database():
    sample = SampleFactory.create()
    with CaptureQueriesContext(connection) as captured:
        sample_for_answer(pk=sample.pk)
        sample_for_answer(pk=sample.pk)
    assert _dataset_reads(captured) == 2
    assert remembered("key", lambda: 1) == 1 and remembered("key", lambda: 2) == 2


def test_inside_a_request_the_dataset_is_read_once_and_dropped_with_the_response():
    sample = SampleFactory.create()
    seen: list[Dataset] = []

    def view(request: HttpRequest) -> HttpResponse:
        with CaptureQueriesContext(connection) as captured:
            first = sample_for_answer(pk=sample.pk)
            locked = locked_sample(pk=sample.pk)
        assert locked is not None and locked.dataset is first.dataset
        assert _dataset_reads(captured) == 1
        seen.append(first.dataset)
        return HttpResponse()

    middleware = RequestMemoMiddleware(view)
    request = RequestFactory().get("/")
    middleware(request)
    Dataset.objects.filter(pk=sample.dataset_id).update(overlap_k=5)
    middleware(request)
    assert [d.overlap_k for d in seen] == [2, 5]
    assert remembered("key", lambda: 1) == 1 and remembered("key", lambda: 2) == 2


def test_save_and_next_reads_the_dataset_once(client):
    ds = DatasetFactory.create(overlap_k=2)
    SampleFactory.create_batch(3, dataset=ds)
    person = member(ANNOTATOR)
    client.force_login(person)
    held = lease_next_sample(user=person)
    assert held is not None
    answer = {"emotion": "awe", "confidence": "7", "time_spent_ms": "900"}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(reverse("review:answer", args=[held.sample_id]), answer)
    assert response.status_code == 302 and "/samples/" in response["Location"]
    assert _dataset_reads(captured) == 1

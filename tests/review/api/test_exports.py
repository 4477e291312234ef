"""/api/exports/: start a job (202), poll it, download its files (read back with pandas and
pyarrow), cancel it; admins only, as the Export page."""

from __future__ import annotations

import io
from typing import Any, cast

import pandas as pd
import pyarrow.parquet as pq
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotator.models import Sample
from review.models import ExportJob
from review.roles import ADJUDICATOR, AUDITOR
from review.services.export_jobs import run_export_job
from tests.factories import AdminFactory, DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_root(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def dataset():
    ds = DatasetFactory.create(name="pets")
    for i in range(5):
        status = Sample.Status.AGREED if i < 3 else Sample.Status.DISPUTED
        SampleFactory.create(dataset=ds, external_id=f"s{i}", status=status)
    return ds


def _client(person) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=person)[0].key}")
    return api


def _bytes(response) -> bytes:
    return b"".join(cast(Any, response).streaming_content)


def _start(api: APIClient, capture, **body) -> dict:
    with capture(execute=False) as sent:  # the worker's part is run below, by hand
        response = api.post("/api/exports/", body, format="json")
    assert response.status_code == 202, response.content
    assert len(sent) == 1  # sent to a worker once the job is saved
    job = response.json()
    assert response["Location"] == job["url"]
    return job


def test_start_poll_and_download_a_csv(dataset, django_capture_on_commit_callbacks):
    api = _client(AdminFactory.create())
    job = _start(api, django_capture_on_commit_callbacks, dataset="pets", format="csv")
    assert (job["status"], job["scope"], job["kind"], job["progress"]) == (
        "pending", "decided", "labels", 0.0,
    )  # fmt: skip
    assert job["downloads"] == {
        "data": None, "labels": None, "datasheet": None, "labelconfig": None,
    }  # fmt: skip
    early = api.get(f"/api/exports/{job['id']}/download/")
    assert early.status_code == 409 and "pending" in early.json()["detail"]
    assert run_export_job(job_id=job["id"]) == "done"
    polled = api.get(job["url"]).json()
    assert (polled["status"], polled["rows_done"], polled["rows_total"]) == ("done", 3, 3)
    assert polled["progress"] == 1.0 and polled["file_name"] == "pets-decided.csv"
    download = api.get(polled["downloads"]["data"])
    assert download.status_code == 200
    assert 'filename="pets-decided.csv"' in download["Content-Disposition"]
    frame = pd.read_csv(io.BytesIO(_bytes(download)))
    assert sorted(frame["external_id"]) == ["s0", "s1", "s2"]
    for part in ("labels", "datasheet"):  # beside the data when their writers exist
        url = polled["downloads"][part]
        got = api.get(f"/api/exports/{job['id']}/download/", {"part": part})
        assert got.status_code == (200 if url else 404)
    listed = api.get("/api/exports/").json()
    assert [row["id"] for row in listed] == [job["id"]]


def test_a_parquet_export_of_every_sample_reads_in_pyarrow(
    dataset, django_capture_on_commit_callbacks
):
    api = _client(AdminFactory.create())
    job = _start(
        api, django_capture_on_commit_callbacks, dataset=str(dataset.pk), format="parquet",
        scope="all", options={"embed_images": False},
    )  # fmt: skip
    run_export_job(job_id=job["id"])
    data = _bytes(api.get(api.get(job["url"]).json()["downloads"]["data"]))
    table = pq.read_table(io.BytesIO(data))
    assert sorted(table.column("external_id").to_pylist()) == [f"s{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "pets", "format": "xlsx"}, "format"),
        ({"dataset": "pets", "format": "coco", "kind": "answers"}, "format"),
        ({"dataset": "pets", "format": "csv", "scope": "some"}, "scope"),
        ({"dataset": "pets", "format": "csv", "options": {"embed_images": "maybe"}}, "options"),
        ({"format": "csv"}, "dataset"),
    ],
)
def test_bad_requests_are_400_naming_the_field(dataset, body, field):
    response = _client(AdminFactory.create()).post("/api/exports/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not ExportJob.objects.exists()


def test_an_unknown_dataset_is_404_and_only_admins_export(dataset):
    admin = _client(AdminFactory.create())
    missing = admin.post("/api/exports/", {"dataset": "nope", "format": "csv"}, format="json")
    assert missing.status_code == 404
    for person in (member(ADJUDICATOR), member(AUDITOR)):
        refused = _client(person).post(
            "/api/exports/", {"dataset": "pets", "format": "csv"}, format="json"
        )
        assert refused.status_code == 403
    job = ExportJob.objects.create(dataset=dataset, fmt="csv")
    assert _client(member(AUDITOR)).get(f"/api/exports/{job.pk}/").status_code == 403
    assert admin.get("/api/exports/999999/").status_code == 404


def test_cancel_a_pending_job_once(dataset):
    api = _client(AdminFactory.create())
    job = ExportJob.objects.create(dataset=dataset, fmt="csv")
    cancelled = api.post(f"/api/exports/{job.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.delete(f"/api/exports/{job.pk}/")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    other = ExportJob.objects.create(dataset=dataset, fmt="csv")
    assert api.delete(f"/api/exports/{other.pk}/").json()["status"] == "cancelled"


def test_answers_export_as_a_job(dataset, django_capture_on_commit_callbacks):
    api = _client(AdminFactory.create())
    body = {"dataset": "pets", "format": "csv", "kind": "answers"}
    job = _start(api, django_capture_on_commit_callbacks, **body)
    assert (job["kind"], job["scope"]) == ("answers", "all")
    assert run_export_job(job_id=job["id"]) in ("done", "failed")
    polled = api.get(job["url"]).json()
    assert polled["status"] == "done", polled["error"]

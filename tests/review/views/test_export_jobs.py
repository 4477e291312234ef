"""The export page's jobs: the start form, the progress partial, cancel, the downloads; admins
only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone

from annotator.models import Sample
from review.models import ExportJob
from review.services.export_jobs import run_export_job
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("review:export")
START = PAGE  # the start form posts to the page itself (PRG: a started job redirects back)
OLD_START = reverse("review:export_start")  # its former address, kept for scripts
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def export_root(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def dataset():
    dataset = DatasetFactory(name="views")
    for i in range(4):
        SampleFactory(dataset=dataset, external_id=f"v{i}", status=Sample.Status.AGREED)
    return dataset


def _start(client, django_capture_on_commit_callbacks, *, url: str = START, **fields) -> ExportJob:
    data = {"dataset": "views", "kind": "labels", "format": "csv", "scope": "all"} | fields
    with django_capture_on_commit_callbacks(execute=False) as sends:
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ExportJob.objects.get()
    # The page opens at the "Exports" heading (the newest job first under it), not past it.
    assert response["Location"] == f"{PAGE}#export-jobs"
    assert len(sends) == 1
    return job


def _progress(client, job) -> str:
    response = client.get(reverse("review:export_job_progress", args=[job.pk]), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_has_a_start_form_and_lists_the_jobs(client, admin_user, dataset):
    client.force_login(admin_user)
    job = ExportJob.objects.create(dataset=dataset, fmt="coco", scope="all", created_by=admin_user)
    html = client.get(PAGE).content.decode()
    assert f'action="{START}"' in html and 'name="csrfmiddlewaretoken"' in html
    assert 'name="kind" value="answers"' in html and 'name="embed_images"' in html
    assert f'id="export-job-{job.pk}"' in html and 'data-status="pending"' in html
    assert "COCO instance segmentation" in html
    # The direct streamed download stays.
    assert f'action="{reverse("review:export_download")}"' in html


def test_a_started_job_polls_then_offers_its_file(
    client, admin_user, dataset, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    job = _start(client, django_capture_on_commit_callbacks, no_formula_guard="on")
    assert job.options == {"formula_guard": False, "embed_images": False}
    html = _progress(client, job)
    poll = reverse("review:export_job_progress", args=[job.pk])
    assert f'hx-get="{poll}"' in html and 'hx-trigger="every 1s"' in html
    assert "<progress" in html and "data-cancel-job" in html
    assert run_export_job(job_id=job.pk) == "done"
    html = _progress(client, job)
    assert "hx-get" not in html and "data-cancel-job" not in html  # done: no more polls
    assert 'data-rows-done="4"' in html and 'value="4"' in html
    url = reverse("review:export_job_download", args=[job.pk])
    assert f'href="{url}"' in html
    assert 'data-part="data" download>Download views-all.csv</a>' in html  # not just "File"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="views-all.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    assert sorted(r["external_id"] for r in csv.DictReader(io.StringIO(body))) == [
        f"v{i}" for i in range(4)
    ]
    for part, content_type in (("labels", "application/json"), ("datasheet", "text/markdown")):
        assert f'href="{url}?part={part}"' in html
        response = client.get(url, {"part": part})
        assert response["Content-Type"].startswith(content_type)
        assert response["Content-Disposition"].endswith(
            f'views-all.csv.{part}.{"json" if part == "labels" else "md"}"'
        )


def test_a_parquet_download_is_read_by_pyarrow(
    client, admin_user, dataset, django_capture_on_commit_callbacks, tmp_path
):
    client.force_login(admin_user)
    job = _start(client, django_capture_on_commit_callbacks, format="parquet")
    run_export_job(job_id=job.pk)
    response = client.get(reverse("review:export_job_download", args=[job.pk]))
    path = tmp_path / "got.parquet"
    path.write_bytes(b"".join(response.streaming_content))
    assert pq.read_table(path).num_rows == 4


def test_answers_take_only_csv_or_parquet(client, admin_user, dataset):
    client.force_login(admin_user)
    data = {"dataset": "views", "kind": "answers", "format": "coco", "scope": "all"}
    response = client.post(START, data)
    assert response.status_code == 400
    assert not ExportJob.objects.exists()
    html = response.content.decode()
    # The page again at its own address, the error inside the Format fieldset (beside the
    # radios), the formats Answers cannot take disabled and the note shown.
    fieldset = html[html.index("<legend>Format</legend>") : html.index("<legend>Scope</legend>")]
    assert "Answers export as CSV or Parquet." in fieldset
    assert 'id="export-start"' in html and f'action="{PAGE}"' in html
    for fmt in ("coco", "jsonl", "labelstudio"):
        assert re.search(rf'<input [^>]*value="{fmt}"[^>]*data-labels-only[^>]*disabled', html)
    for fmt in ("csv", "parquet"):
        tag = re.search(rf'<input [^>]*value="{fmt}"[^>]*>', html)
        assert tag and "disabled" not in tag.group(0) and "data-labels-only" not in tag.group(0)
    assert re.search(r'<p class="hint" id="answers-formats-note" data-answers-note>', html)


def test_with_labels_chosen_every_format_is_open_and_the_note_hidden(client, admin_user, dataset):
    client.force_login(admin_user)
    html = client.get(PAGE).content.decode()
    assert not re.search(r'<input [^>]*name="format"[^>]*disabled', html)
    assert len(re.findall(r'<input [^>]*name="format"[^>]*data-labels-only', html)) == 3
    assert "data-answers-note hidden" in html
    assert 'src="/static/js/export.js"' in html


def test_a_started_job_redirects_so_a_reload_does_not_post_again(
    client, admin_user, dataset, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    job = _start(client, django_capture_on_commit_callbacks)  # asserts the 302 to the page
    page = client.get(PAGE)  # where the redirect leads: a GET, so a reload posts nothing
    assert page.status_code == 200 and f"Export {job.pk} started." in page.content.decode()
    assert ExportJob.objects.count() == 1


def test_the_former_start_address_still_starts_a_job(
    client, admin_user, dataset, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    job = _start(client, django_capture_on_commit_callbacks, url=OLD_START, kind="answers")
    assert job.kind == "answers"


def test_cancel_with_htmx_swaps_the_job_and_a_plain_post_redirects(client, admin_user, dataset):
    client.force_login(admin_user)
    job = ExportJob.objects.create(dataset=dataset, fmt="csv", scope="all")
    url = reverse("review:export_job_cancel", args=[job.pk])
    html = client.post(url, **HTMX).content.decode()
    assert 'data-status="cancelled"' in html and "hx-get" not in html
    response = client.post(url)  # again, as a plain form: it had already ended
    assert response.status_code == 302 and response["Location"].endswith(f"#export-job-{job.pk}")


def test_a_file_before_the_job_is_done_or_an_unknown_part_is_404(client, admin_user, dataset):
    client.force_login(admin_user)
    job = ExportJob.objects.create(dataset=dataset, fmt="csv", scope="all")
    url = reverse("review:export_job_download", args=[job.pk])
    for part in ("data", "datasheet", "bogus"):
        assert client.get(url, {"part": part}).status_code == 404
    assert client.get(reverse("review:export_job_progress", args=[job.pk + 1])).status_code == 404


def test_the_poll_sends_a_job_whose_worker_died_again(client, admin_user, dataset, monkeypatch):
    client.force_login(admin_user)
    old = timezone.now() - timedelta(hours=1)
    job = ExportJob.objects.create(
        dataset=dataset, fmt="csv", scope="all", status="running", started_at=old,
        claimed_by="gone:1", lease_until=old, sent_at=old,
    )  # fmt: skip
    sent: list[int] = []

    # The hand-over itself (a thread, or the broker on the Redis leg) is not what is tested.
    def send(*, job_id: int) -> bool:
        sent.append(job_id)
        return True

    monkeypatch.setattr("review.services.export_jobs.send_export_job", send)
    _progress(client, job)
    assert sent == [job.pk]
    sent_at = ExportJob.objects.get().sent_at
    assert sent_at is not None and sent_at > old


@pytest.mark.parametrize("method", ["get", "post"])
def test_non_admins_get_403_and_anonymous_people_the_login(client, user, dataset, method):
    job = ExportJob.objects.create(dataset=dataset, fmt="csv", scope="all")
    urls = {
        "get": [
            reverse("review:export_job_progress", args=[job.pk]),
            reverse("review:export_job_download", args=[job.pk]),
        ],
        "post": [START, OLD_START, reverse("review:export_job_cancel", args=[job.pk])],
    }[method]
    for url in urls:
        assert getattr(client, method)(url)["Location"].startswith(reverse("login"))
    client.force_login(user)
    for url in urls:
        assert getattr(client, method)(url).status_code == 403
    assert ExportJob.objects.get().status == "pending"


def test_a_running_job_shows_its_rows_and_bytes_written(client, admin_user, dataset):
    client.force_login(admin_user)
    now = timezone.now()
    job = ExportJob.objects.create(
        dataset=dataset, fmt="coco", scope="all", status="running", started_at=now,
        claimed_by="elsewhere:1", lease_until=now + timedelta(minutes=1), sent_at=now,
        rows_total=100, rows_done=40, file_size=2048,
    )  # fmt: skip
    html = _progress(client, job)
    assert 'max="100" value="40"' in html and "40 of 100 rows (40%)" in html
    assert 'data-bytes-written="2048"' in html and "2.0\xa0KB written" in html
    assert 'data-status="running"' in html and "hx-get" in html

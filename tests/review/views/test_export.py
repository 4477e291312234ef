"""The export page and download: admins only, CSV streamed, Parquet from a temporary file."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.urls import reverse

from review.labels import Label
from review.roles import ANNOTATOR
from review.services.consensus import submit_answer
from review.services.export_formats import FORMATS, ExportOptions
from tests.factories import DatasetFactory, SampleFactory
from tests.review.services.test_export import World, make_world
from tests.review.services.test_export_formulas import HYPERLINK, make_hostile_dataset
from tests.review.team import lease, member

PAGE = reverse("review:export")
DOWNLOAD = reverse("review:export_download")


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.mark.parametrize("url", [PAGE, DOWNLOAD])
def test_anonymous_users_are_sent_to_login(client, world, url: str):
    response = client.get(url, {"dataset": "emo-export", "format": "csv", "scope": "all"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", [PAGE, DOWNLOAD])
def test_annotators_get_403(client, user, world, url: str):
    client.force_login(user)
    response = client.get(url, {"dataset": "emo-export", "format": "csv", "scope": "all"})
    assert response.status_code == 403


def test_page_shows_counts_per_status_and_a_plain_get_form(client, admin_user, world):
    client.force_login(admin_user)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="num" data-status="agreed">2</td>' in html
    assert '<td class="num" data-status="disputed">1</td>' in html
    assert '<td class="num" data-scope="decided">3</td>' in html
    assert '<td class="num" data-scope="all">6</td>' in html
    assert f'<form method="get" action="{DOWNLOAD}"' in html
    # Headers in a table head row, counts in body rows (they once sat side by side: .counts
    # styled the table as a flex row).
    assert '<table class="data-table" id="export-overview">' in html
    assert '<option value="emo-export"' in html
    preselected = client.get(PAGE, {"dataset": "emo-export", "format": "parquet"}).content
    assert b'<option value="emo-export" selected>' in preselected
    assert b'value="parquet" required id="id_format_1" checked' in preselected


def test_admin_downloads_streamed_csv(client, admin_user, world):
    client.force_login(admin_user)
    response = client.get(DOWNLOAD, {"dataset": "emo-export", "format": "csv", "scope": "decided"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="emo-export-decided.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert sorted(int(r["sample_id"]) for r in rows) == sorted(
        [world.adjudicated.pk, world.agreed.pk, world.tie.pk]
    )


def test_admin_downloads_parquet_and_the_temporary_file_is_gone(
    client, admin_user, world, tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client.force_login(admin_user)
    response = client.get(DOWNLOAD, {"dataset": "emo-export", "format": "parquet", "scope": "all"})
    assert response.status_code == 200
    assert 'filename="emo-export-all.parquet"' in response["Content-Disposition"]
    assert list(tmp_path.iterdir()) == []
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    response.close()
    assert table.num_rows == 6
    assert "DES" in table.column_names


def test_bad_choices_show_the_form_again_with_400(client, admin_user, world):
    client.force_login(admin_user)
    response = client.get(DOWNLOAD, {"dataset": "nope", "format": "xlsx", "scope": "all"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice. xlsx is not one of the available choices." in html
    assert "Select a valid choice. That choice is not one of the available choices." in html


def test_download_is_get_only(client, admin_user, world):
    client.force_login(admin_user)
    assert client.post(DOWNLOAD, {"dataset": "emo-export", "format": "csv"}).status_code == 405


def test_page_without_datasets_says_so(client, admin_user):
    client.force_login(admin_user)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert b"No datasets yet" in response.content
    assert b'<form method="get"' not in response.content


@pytest.mark.parametrize(
    ("extra", "description"), [({}, "'" + HYPERLINK), ({"no_formula_guard": "on"}, HYPERLINK)]
)
def test_csv_download_guards_formulas_unless_the_box_is_ticked(
    client, admin_user, extra, description
):
    make_hostile_dataset()
    client.force_login(admin_user)
    page = client.get(PAGE).content.decode()
    assert '<input type="checkbox" name="no_formula_guard" id="id_no_formula_guard">' in page
    query = {"dataset": "formulas", "format": "csv", "scope": "all", **extra}
    response = client.get(DOWNLOAD, query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(body, newline=""))
    assert row["description"] == description
    assert row["confidence"] == "-1.5"


def _page_text(client) -> str:
    """The page's words as a person reads them: tags out, white space as single spaces."""
    html = client.get(PAGE).content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_label_studio_words_match_a_k1_export(client, admin_user, world):
    """With k = 1 a person's answer is the label: the task has their answer and the final
    label, both theirs, the final one marked ground truth, as the page says."""
    dataset = DatasetFactory.create(name="solo", overlap_k=1)
    sample = SampleFactory.create(dataset=dataset, external_id="one")
    person = member(ANNOTATOR, email="pat@example.org")
    lease(sample, person)
    submit_answer(sample=sample, annotator=person, label=Label(emotion="awe", confidence=6.0))
    chunks = FORMATS["labelstudio"].chunks(dataset=dataset, scope="all", options=ExportOptions())
    (task,) = json.loads(b"".join(c.data for c in chunks))
    got = [(a["completed_by"]["email"], a["ground_truth"]) for a in task["annotations"]]
    assert got == [("pat@example.org", True), ("pat@example.org", False)]

    client.force_login(admin_user)
    text = _page_text(client)
    assert "an annotation per person's answer, plus the final label as one more annotation" in text
    assert "marked ground truth" in text and "an annotation per person;" not in text


def test_the_page_says_the_bbox_column_holds_masks_too(client, admin_user, world):
    client.force_login(admin_user)
    text = _page_text(client)
    assert "(column bbox , JSON: one entry per boxed region, with its mask as COCO RLE" in text
    assert "boxes and masks (JSON)" not in text

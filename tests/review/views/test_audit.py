"""The audit pages: who may see them, what they render, CSV downloads and drill-downs."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from pathlib import Path
from typing import cast

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy
from review.audit.tables import BUILDERS
from review.models import Annotation
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.selectors.audit import AuditFilters, audit_figures
from review.services.annotation_import import FORMAT_EMONET_BINARY, import_annotations_file
from tests.factories import DatasetFactory, UserFactory
from tests.review.selectors.test_audit import World, make_audit_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_audit_cache")]

DASHBOARD = reverse("review:audit")
SAMPLES = reverse("review:audit_samples")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "emonet_face"
URLS = [
    DASHBOARD,
    reverse("review:audit_json"),
    reverse("review:audit_table", args=["people"]),
    SAMPLES,
]


@pytest.fixture
def world(db) -> World:
    return make_audit_world()


def person_with(role: str) -> User:
    person = cast(User, UserFactory())
    person.groups.add(Group.objects.get(name=role))
    return person


def text_of(response) -> str:
    return (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else (response.content.decode())
    )


@pytest.mark.parametrize("url", URLS)
def test_anonymous_users_are_sent_to_login(client: Client, world, url: str):
    response = client.get(url, {"dataset": "emo-audit", "figure": "human"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [ANNOTATOR, ADJUDICATOR])
@pytest.mark.parametrize("url", URLS)
def test_annotators_and_adjudicators_get_403(client: Client, world, url: str, role: str):
    client.force_login(person_with(role))
    assert client.get(url, {"dataset": "emo-audit", "figure": "human"}).status_code == 403


@pytest.mark.parametrize("url", URLS)
def test_auditors_and_admins_see_everything(client: Client, world, admin_user, url: str):
    for viewer in (person_with(AUDITOR), admin_user):
        client.force_login(viewer)
        assert client.get(url, {"dataset": "emo-audit", "figure": "human"}).status_code == 200


def test_dashboard_renders_models_people_critic_and_charts(client: Client, world):
    client.force_login(person_with(AUDITOR))
    response = client.get(DASHBOARD, {"dataset": "emo-audit"})
    html = response.content.decode()
    for title in (
        "Models: each pair",
        "Disputes per emotion",
        "People: agreement over samples",
        "How often people overturn each critic verdict",
        "Confidence calibration against the final label",
        "Throughput: decisions made in the app",
    ):
        assert title in html
    assert html.count("<svg") == 3 + 3 + 2 + 2  # heat maps, reliability, dispute bars, more bars
    assert '<script src="http' not in html  # no chart CDN
    found = re.search(r'<a href="([^"]*figure=pair[^"]*x=awe[^"]*y=fear[^"]*)"', html)
    assert found is not None  # the heat map cell gemini=awe, gpt-4o=fear links to its samples
    listed = client.get(unescape(found[1]))
    assert listed.status_code == 200
    assert re.findall(r">(s\d)</a></th>", listed.content.decode()) == ["s1"]
    partial = client.get(DASHBOARD, {"dataset": "emo-audit"}, headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and b"Models: each pair" in partial.content


def test_the_dashboard_of_a_dataset_without_samples_renders(client: Client, db):
    DatasetFactory.create(name="fresh")
    client.force_login(person_with(AUDITOR))
    response = client.get(DASHBOARD, {"dataset": "fresh"})
    assert response.status_code == 200
    assert "No model labels in this selection." in response.content.decode()


def test_the_dashboard_takes_a_dataset_id_as_the_queue_and_the_map_write_it(client: Client, db):
    DatasetFactory.create(name="alpha")
    fresh = DatasetFactory.create(name="fresh")
    client.force_login(person_with(AUDITOR))
    by_id = client.get(DASHBOARD, {"dataset": str(fresh.pk)})
    assert by_id.status_code == 200
    assert by_id.context["filters"].dataset == fresh  # not the first dataset by name
    html = by_id.content.decode()
    assert '<option value="fresh" selected>fresh</option>' in html  # the form shows its name
    link = f'id="audit-map-link" href="{reverse("review:des_map")}?dataset={fresh.pk}"'
    assert link in html  # the audit links to the dataset's DES map, as the map to the audit
    assert client.get(DASHBOARD, {"dataset": "fresh"}).context["filters"].dataset == fresh
    assert client.get(DASHBOARD, {"dataset": "99999"}).status_code == 400  # neither id nor name


def test_dashboard_renders_for_emonet_binary_votes(client: Client, db):
    save_taxonomy(name=EMONET_FACE_40, spec=read_taxonomy_file(path=FIXTURES / "guide.json"))
    import_annotations_file(
        path=FIXTURES / "binary_slice.csv",
        fmt=FORMAT_EMONET_BINARY,
        dataset_name="emonet",
        create_samples=True,
    )
    client.force_login(person_with(AUDITOR))
    html = client.get(DASHBOARD, {"dataset": "emonet"}).content.decode()
    assert "People: agreement over (sample, emotion) yes/no units" in html
    assert "People: yes/no votes per emotion" in html
    assert "Helplessness" in html
    assert html.count("No model labels in this selection.") == 2  # models and disputes
    split = client.get(SAMPLES, {"dataset": "emonet", "figure": "human", "split": "1"})
    assert split.status_code == 200
    assert "samples people disagree on" in split.content.decode()


@pytest.mark.parametrize("slug", list(BUILDERS))
def test_every_table_downloads_as_csv_that_parses(client: Client, world, slug: str):
    client.force_login(person_with(AUDITOR))
    url = reverse("review:audit_table", args=[slug])
    response = client.get(url, {"dataset": "emo-audit", "format": "csv"})
    if slug == "binary-emotions":  # votes only
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(text_of(response))))
    assert len(rows) >= 2 and all(len(row) == len(rows[0]) for row in rows)
    fragment = client.get(url, {"dataset": "emo-audit"})
    assert fragment.status_code == 200 and b"<table" in fragment.content


def test_csv_numbers_are_the_figures(client: Client, world):
    client.force_login(person_with(AUDITOR))
    url = reverse("review:audit_table", args=["model-pairs"])
    rows = list(
        csv.DictReader(
            io.StringIO(text_of(client.get(url, {"dataset": "emo-audit", "format": "csv"})))
        )
    )
    figures = audit_figures(filters=AuditFilters(dataset=world.dataset))
    for row, pair in zip(rows, figures["models"]["pairs"], strict=True):
        assert (row["model a"], row["model b"]) == (pair["a"], pair["b"])
        assert int(row["samples both labelled"]) == pair["n"]
        assert float(row["Cohen's kappa"]) == pytest.approx(pair["cohen_kappa"])


def test_drilldown_csv_and_errors(client: Client, world):
    client.force_login(person_with(AUDITOR))
    params = {"dataset": "emo-audit", "figure": "disputes"}
    response = client.get(SAMPLES, {**params, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(text_of(response))))
    assert [row["external_id"] for row in rows] == ["s1", "s2", "s4"]
    assert rows[0]["gpt-4o"] == "fear" and rows[0]["final"] == "awe"
    assert rows[0]["critic"] == "preserve: awe"
    fi = client.get(SAMPLES, {**params, "source": "FI", "format": "csv"})
    assert [row["external_id"] for row in csv.DictReader(io.StringIO(text_of(fi)))] == ["s4"]
    bad = client.get(SAMPLES, {"dataset": "emo-audit", "figure": "pair", "a": "nobody"})
    assert bad.status_code == 400 and b"is not one of" in bad.content
    assert client.get(SAMPLES, {"dataset": "nope", "figure": "human"}).status_code == 404
    missing = reverse("review:audit_table", args=["nothing"])
    assert client.get(missing, {"dataset": "emo-audit"}).status_code == 404


def test_bad_dates_are_reported_with_no_figures(client: Client, world):
    # Figures for the whole range under a date error were read as the filtered ones.
    client.force_login(person_with(AUDITOR))
    bad = {"dataset": "emo-audit", "since": "2030-01-02", "until": "2030-01-01"}
    response = client.get(DASHBOARD, bad)
    assert response.status_code == 400
    page = response.content.decode()
    assert "The end date is before the start date." in page
    assert "No figures: correct the filter above" in page
    assert "audit-summary" not in page
    htmx = client.get(DASHBOARD, bad, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 400
    assert htmx.content.decode() == "until: The end date is before the start date."
    assert client.get(reverse("review:audit_json"), bad).json() == {
        "errors": {"until": ["The end date is before the start date."]}
    }
    table = reverse("review:audit_table", args=["models"])
    assert client.get(table, bad).status_code == 400
    assert (
        client.get(reverse("review:audit_samples"), {**bad, "figure": "human"}).status_code == 400
    )


def test_no_dataset_yet(client: Client, db):
    client.force_login(person_with(AUDITOR))
    assert b"No datasets yet" in client.get(DASHBOARD).content


API = reverse("api:audit")


def test_api_figures_equal_the_dashboard_figures(client: Client, world):
    assert client.get(API, {"dataset": "emo-audit"}).status_code == 401
    client.force_login(person_with(ANNOTATOR))
    assert client.get(API, {"dataset": "emo-audit"}).status_code == 403
    client.force_login(person_with(AUDITOR))
    response = client.get(API, {"dataset": "emo-audit", "source": "FI"})
    assert response.status_code == 200
    expected = audit_figures(filters=AuditFilters(dataset=world.dataset, source="FI"))
    assert response.json() == expected
    assert client.get(API, {"dataset": "nope"}).status_code == 404
    assert client.get(API, {"dataset": "emo-audit", "since": "soon"}).status_code == 400


def test_api_tables_and_drilldown(client: Client, world):
    client.force_login(person_with(AUDITOR))
    table = client.get(
        reverse("api:audit_table", args=["critic-overturns"]), {"dataset": "emo-audit"}
    )
    assert table.json()["rows"] == [
        ["preserve", 0, 1, 0.0],
        ["revise", 1, 1, 1.0],
        ["drop", 1, 1, 1.0],
    ]
    samples = client.get(
        reverse("api:audit_samples"),
        {"dataset": "emo-audit", "figure": "critic", "verdict": "drop"},
    ).json()
    assert samples["count"] == 1 and samples["title"].startswith("the critic said drop")
    assert samples["results"][0]["external_id"] == "s4"
    assert samples["results"][0]["models"]["gpt-4o"] == "disgust"
    bad = client.get(reverse("api:audit_samples"), {"dataset": "emo-audit", "figure": "x"})
    assert bad.status_code == 400


def test_nav_shows_audit_to_auditors_only(client: Client, world):
    link = f'<a href="{DASHBOARD}">Audit</a>'.encode()
    client.force_login(person_with(AUDITOR))
    assert link in client.get(DASHBOARD).content
    client.force_login(person_with(ANNOTATOR))
    assert link not in client.get(reverse("review:queue")).content


@pytest.mark.parametrize(
    "model", ["annotation", "binaryvote", "adjudication", "assignment", "auditevent"]
)
def test_review_admin_lists_are_read_only(client: Client, world, admin_user, model: str):
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:review_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:review_{model}_add")).status_code == 403


def test_dashboard_says_when_figures_were_computed_and_recomputes_on_request(
    client: Client, world, settings
):
    settings.AUDIT_STALE_SECONDS = 60
    client.force_login(person_with(AUDITOR))
    html = client.get(DASHBOARD, {"dataset": "emo-audit"}).content.decode()
    assert "Figures as of" in html and "fresh=1" in html
    sample = world.samples[3]  # no answers yet
    Annotation.objects.create(sample=sample, annotator=person_with(ANNOTATOR), emotion="awe")
    stale = client.get(reverse("review:audit_json"), {"dataset": "emo-audit"}).json()
    assert stale["human"]["items"] == 4
    client.get(DASHBOARD, {"dataset": "emo-audit", "fresh": "1"})
    assert (
        client.get(reverse("review:audit_json"), {"dataset": "emo-audit"}).json()["human"]["items"]
        == 5
    )


def test_numeric_columns_have_their_headers_over_the_numbers_and_counts_agree(
    client: Client, world
):
    client.force_login(person_with(AUDITOR))
    html = client.get(DASHBOARD, {"dataset": "emo-audit"}).content.decode()
    # Headers were left-aligned over right-aligned numbers: each value sat under the next title.
    assert '<th scope="col" class="num">' in html
    counts = re.findall(r'<span class="count-n">(\d+)</span> <span class="count-label">(\w+)', html)
    assert len(counts) >= 4
    for number, label in counts:  # "1 annotators" before
        assert label.endswith("s") == (number != "1"), (number, label)

"""The Runs pages: admins start, watch (htmx polling) and cancel runs, restore dropped samples."""

from __future__ import annotations

import html
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.urls import reverse

pytest.importorskip("openai")

from annotator.models import CriticVerdict, PipelineRun, Sample
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import run_pipeline_in_process, start_pipeline_run
from tests.support.openai_server import OpenAIServer, malformed
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

RUNS = reverse("review:runs")
pytestmark = pytest.mark.ml


@pytest.fixture(autouse=True)
def no_broker(settings):
    """The embedded default (a background thread runs a started run), even with a broker set."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(autouse=True)
def config_dirs(settings, tmp_path):
    """The Runs page offers (and reads) config files from tmp_path only."""
    settings.PIPELINE_CONFIG_DIRS = [tmp_path.resolve()]
    settings.PIPELINE_CONFIG_MAX_BYTES = 4096


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


@pytest.fixture
def setup(tmp_path, server, db):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2)
    config = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
    return dataset, config


def started_run(setup, **options):
    dataset, config = setup
    return start_pipeline_run(dataset=dataset, config=load_pipeline_config(path=config), **options)


def urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", RUNS),
        ("get", reverse("review:run_detail", args=[pk])),
        ("get", reverse("review:run_progress", args=[pk])),
        ("post", reverse("review:run_cancel", args=[pk])),
        ("post", reverse("review:restore_sample", args=[pk])),
    ]


def test_only_admins_get_in(client, user, setup):
    run = started_run(setup).run
    for method, url in urls(run.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(user)
    for method, url in urls(run.pk):
        assert getattr(client, method)(url).status_code == 403, url


def test_the_nav_links_to_runs_for_admins_only(client, user, admin_user, db):
    client.force_login(user)
    assert f'href="{RUNS}"' not in client.get(reverse("review:queue")).text
    client.force_login(admin_user)
    assert f'href="{RUNS}"' in client.get(reverse("review:queue")).text


def test_the_page_lists_runs_and_offers_a_start_form(client, admin_user, setup, monkeypatch):
    _, config = setup
    run = started_run(setup, stages="annotate").run
    monkeypatch.setenv("EMOREVIEW_PIPELINE_CONFIG", str(config))
    client.force_login(admin_user)
    page = client.get(RUNS).text
    assert f'href="{reverse("review:run_detail", args=[run.pk])}"' in page
    assert f'<option value="{config.resolve()}" selected>pipeline.toml</option>' in page
    assert 'name="config_upload"' in page and 'enctype="multipart/form-data"' in page
    assert 'name="stages" value="critic"' in page and "No broker is configured" in page


def test_starting_a_run_creates_it_and_opens_its_page(client, admin_user, setup):
    dataset, config = setup
    client.force_login(admin_user)
    response = client.post(
        RUNS, {"dataset": dataset.name, "config": str(config), "stages": ["annotate"], "limit": 1}
    )
    run = PipelineRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("review:run_detail", args=[run.pk])
    assert (run.stages, run.limit, run.created_by, run.status) == (
        ["annotate"], 1, admin_user, "running",
    )  # fmt: skip
    assert run.results.count() == 2  # one sample, two annotators: pending until the runner runs


def test_a_bad_config_is_shown_with_file_line_and_key(client, admin_user, setup, tmp_path):
    dataset, _ = setup
    bad = tmp_path / "bad.toml"
    bad.write_text("[annotators.a]\nmodel = 3\n")
    client.force_login(admin_user)
    response = client.post(RUNS, {"dataset": dataset.name, "config": str(bad)})
    assert response.status_code == 400
    assert f"{bad}:2: annotators.a.model: must be a non-empty string" in response.text
    assert not PipelineRun.objects.exists()


def test_a_second_run_on_the_same_dataset_is_refused(client, admin_user, setup):
    dataset, config = setup
    first = started_run(setup).run
    client.force_login(admin_user)
    response = client.post(RUNS, {"dataset": dataset.name, "config": str(config)})
    assert response.status_code == 400
    assert f"run {first.pk} is still running" in response.text


def test_progress_polls_while_the_run_is_active_and_stops_after(client, admin_user, setup):
    started = started_run(setup, stages="annotate,verify")
    run = started.run
    client.force_login(admin_user)
    progress_url = reverse("review:run_progress", args=[run.pk])
    page = client.get(reverse("review:run_detail", args=[run.pk])).text
    assert f'hx-get="{progress_url}"' in page and 'hx-trigger="every 2s"' in page
    partial = client.get(progress_url, headers={"HX-Request": "true"}).text
    assert partial.lstrip().startswith('<section id="run-progress"')
    assert '<tr data-stage="annotate">' in partial and 'data-count="pending">4<' in partial
    assert '<div id="run-actions" hx-swap-oob="true">' in partial and 'id="cancel-run"' in partial
    assert page.count('id="run-outcome"') == 1 and "hx-swap-oob" not in page

    run_pipeline_in_process(started=started)
    partial = client.get(progress_url, headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in partial and 'data-run-status="done"' in partial
    assert 'data-count="done">4<' in partial


def test_cancel_stops_the_run(client, admin_user, setup):
    run = started_run(setup).run
    client.force_login(admin_user)
    response = client.post(reverse("review:run_cancel", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert (run.status, run.cancel_requested) == ("cancelled", True)
    assert f"Run {run.pk} cancelled" in response.text
    assert 'id="cancel-run"' not in response.text  # nothing left to cancel


def test_dropped_samples_can_be_restored_from_the_run_page(client, admin_user, setup):
    started = started_run(setup)
    run = run_pipeline_in_process(started=started)
    dropped = Sample.objects.get(external_id="img-0001")
    assert dropped.status == "dropped"
    client.force_login(admin_user)
    detail = reverse("review:run_detail", args=[run.pk])
    page = client.get(detail).text
    restore = reverse("review:restore_sample", args=[dropped.pk])
    assert f'action="{restore}"' in page

    response = client.post(restore, {"next": detail}, follow=True)
    assert response.redirect_chain[-1][0] == detail
    assert "Restored img-0001: now disputed." in response.text
    assert CriticVerdict.objects.filter(sample=dropped, verdict="preserve").exists()
    response = client.post(restore, {"next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("review:sample", args=[dropped.pk])
    assert "img-0001 is disputed, not dropped." in response.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_page_runs_it_in_a_background_thread(client, admin_user, setup):
    """A real thread with its own database connection: needs committed rows (PostgreSQL)."""
    dataset, config = setup
    client.force_login(admin_user)
    client.post(RUNS, {"dataset": dataset.name, "config": str(config), "stages": ["annotate"]})
    run = PipelineRun.objects.get()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and run.status == "running":
        time.sleep(0.1)
        run.refresh_from_db()
    assert run.status == "done"
    assert run.results.filter(status="done").count() == 4
    connections.close_all()


def test_a_run_whose_only_unit_failed_says_so_not_done(client, admin_user, tmp_path, server):
    """One sample, one annotator: the only unit fails (invalid twice), the run still ends."""
    dataset = make_pipeline_dataset(tmp_path / "images", count=1)
    config = write_config(
        tmp_path / "pipeline.toml", base_url=server.base_url, annotators=("gpt4o",)
    )
    server.enqueue(malformed(), malformed())
    started = start_pipeline_run(
        dataset=dataset, config=load_pipeline_config(path=config), stages="annotate"
    )
    run = run_pipeline_in_process(started=started)
    assert run.status == PipelineRun.Status.DONE  # the run ended; its unit did not succeed
    client.force_login(admin_user)
    detail = client.get(reverse("review:run_detail", args=[run.pk])).text
    partial = client.get(reverse("review:run_progress", args=[run.pk])).text
    listed = client.get(RUNS).text
    for page in (detail, partial, listed):
        assert ">finished with 1 failure</span>" in page
        assert ">done</span>" not in page
    assert 'data-count="failed">1<' in detail and "reply still invalid" in detail
    # A page watched while the run ended learns it from the poll: failures, no cancel button.
    assert '<div id="run-outcome" hx-swap-oob="true">' in partial
    assert "reply still invalid" in partial and 'id="cancel-run"' not in partial


# --- the config: only from PIPELINE_CONFIG_DIRS or uploaded, and bounded ------------------------


def post_run(client, dataset, **fields):
    return client.post(RUNS, {"dataset": dataset.name, "stages": ["annotate"], **fields})


def test_a_path_outside_the_config_dirs_is_refused_unread(client, admin_user, setup, monkeypatch):
    """/dev/zero once grew a web worker to 21.8 GB: now no such path is even opened."""
    dataset, _ = setup
    opened: list[str] = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    client.force_login(admin_user)
    for path in ("/dev/zero", "/etc/passwd", "../pipeline.toml"):
        response = post_run(client, dataset, config=path)
        assert response.status_code == 400
        assert f"Select a valid choice. {path} is not one of the available choices." in (
            html.unescape(response.text)
        )
    assert not any(str(path).startswith(("/dev", "/etc")) for path in opened)
    assert not PipelineRun.objects.exists()


def test_a_symlink_in_the_config_dirs_to_a_device_or_elsewhere_is_not_offered(
    client, admin_user, setup, tmp_path
):
    dataset, _ = setup
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.toml"
    outside.write_text("[annotators.a]\n")
    (tmp_path / "elsewhere.toml").symlink_to(outside)
    client.force_login(admin_user)
    page = client.get(RUNS).text
    assert ">pipeline.toml</option>" in page
    assert "zero.toml" not in page and "elsewhere.toml" not in page
    response = post_run(client, dataset, config=str(tmp_path / "zero.toml"))
    assert response.status_code == 400 and not PipelineRun.objects.exists()


def test_an_uploaded_config_starts_a_run(client, admin_user, setup):
    dataset, config = setup
    upload = SimpleUploadedFile("mine.toml", config.read_bytes())
    client.force_login(admin_user)
    response = post_run(client, dataset, config_upload=upload)
    run = PipelineRun.objects.get()
    assert response.status_code == 302 and run.config_path == "upload: mine.toml"
    assert sorted(run.config["annotators"]) == ["gemini", "gpt4o"]


def test_an_upload_over_the_size_limit_is_refused_with_the_limit(client, admin_user, setup):
    dataset, config = setup
    big = config.read_bytes() + b"#" * 5000  # PIPELINE_CONFIG_MAX_BYTES is 4096 here
    client.force_login(admin_user)
    response = post_run(client, dataset, config_upload=SimpleUploadedFile("big.toml", big))
    assert response.status_code == 400
    assert "big.toml: larger than 4,096 bytes (PIPELINE_CONFIG_MAX_BYTES)" in response.text
    assert not PipelineRun.objects.exists()


def test_a_config_is_chosen_or_uploaded_not_neither_nor_both(client, admin_user, setup):
    dataset, config = setup
    client.force_login(admin_user)
    for fields in (
        {},
        {"config": str(config.resolve()), "config_upload": SimpleUploadedFile("a.toml", b"[x]")},
    ):
        response = post_run(client, dataset, **fields)
        assert response.status_code == 400
        assert "Choose a config file or upload one (one of the two)." in response.text
    assert not PipelineRun.objects.exists()

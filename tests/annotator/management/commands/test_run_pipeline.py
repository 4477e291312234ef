"""`manage.py run_pipeline` without a broker: the stages run in-process, bars are drawn."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytest.importorskip("openai")

from annotator.models import PipelineRun, StageResult
from tests.support.openai_server import OpenAIServer, malformed, slow
from tests.support.pipeline_runs import (
    ScriptedModels,
    make_image,
    make_pipeline_dataset,
    write_config,
)

REPO = Path(__file__).resolve().parents[4]

pytestmark = [pytest.mark.ml, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def no_broker(settings):
    """The in-process mode, even when the test run has a broker configured."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def server():
    with OpenAIServer(default=ScriptedModels()) as running:
        yield running


@pytest.fixture
def setup(tmp_path, server):
    dataset = make_pipeline_dataset(tmp_path / "images", count=3)
    config = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
    return dataset, config


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("run_pipeline", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_run_draws_a_bar_per_stage_and_ends_done(setup):
    dataset, config = setup
    out, err = run_command("--dataset", dataset.name, "--config", str(config))
    run = PipelineRun.objects.get()
    assert f"Run {run.pk} on {dataset.name}: 3 samples" in out
    assert "running in this process" in out
    for stage in ("annotate", "calibrate", "ground", "verify", "critic"):
        assert f"{stage:<9} [" in out
    assert "annotate  [##############################] 100%  8/8" in out  # one revise round
    assert f"Run {run.pk} done in" in out and err == ""
    assert run.status == "done" and run.config_path == str(config)


def test_running_again_has_nothing_to_do(setup):
    dataset, config = setup
    run_command("--dataset", dataset.name, "--config", str(config))
    out, _ = run_command("--dataset", dataset.name, "--config", str(config))
    assert "Nothing to do: every unit was finished by earlier runs." in out
    assert PipelineRun.objects.filter(status="done").count() == 2


def test_stages_and_limit(setup):
    dataset, config = setup
    out, _ = run_command(
        "--dataset", dataset.name, "--config", str(config), "--stages", "annotate", "--limit", "2"
    )
    assert "2 samples" in out and "stages annotate" in out
    assert set(StageResult.objects.values_list("stage", flat=True)) == {"annotate"}
    assert StageResult.objects.count() == 4


def test_failures_are_listed_and_the_run_still_ends(setup, server):
    dataset, config = setup
    server.enqueue(malformed(), malformed())
    out, err = run_command(
        "--dataset", dataset.name, "--config", str(config), "--stages", "annotate"
    )
    assert "finished with 1 failure in" in out and " done in" not in out
    assert "1 units failed (the run went on)" in err
    assert "img-0000 annotate gpt4o (round 0): reply still invalid after one repair" in err


def test_the_config_comes_from_the_environment_when_not_given(setup, monkeypatch):
    dataset, config = setup
    monkeypatch.setenv("EMOREVIEW_PIPELINE_CONFIG", str(config))
    out, _ = run_command("--dataset", dataset.name, "--stages", "annotate")
    assert "done in" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "x.toml"], "--dataset is required"),
        (
            ["--dataset", "nope", "--config", "x.toml"],
            "no dataset named 'nope' (known: pipeline-test)",
        ),
        (["--dataset", "pipeline-test", "--config", "/no/such.toml"], "/no/such.toml: cannot read"),
        (["--dataset", "pipeline-test", "--stages", "annotate,judge"], "unknown stage 'judge'"),
        (["--dataset", "pipeline-test", "--limit", "0"], "--limit must be a positive number"),
        (["--cancel", "999"], "no pipeline run 999"),
    ],
)
def test_bad_arguments_are_named(setup, args, message):
    _, config = setup
    if "--config" not in args:
        args = [*args, "--config", str(config)]
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_command(*args)


def test_a_config_error_names_file_line_and_key(setup, tmp_path):
    dataset, _ = setup
    bad = tmp_path / "bad.toml"
    bad.write_text('[annotators.a]\nbase_url = "http://x/v1"\nmodel = "m"\nweight = -1\n')
    with pytest.raises(CommandError, match=rf"{bad}:4: annotators.a.weight: must be a number > 0"):
        run_command("--dataset", dataset.name, "--config", str(bad))


def test_watch_and_cancel_an_ended_run(setup):
    dataset, config = setup
    run_command("--dataset", dataset.name, "--config", str(config), "--stages", "annotate")
    run = PipelineRun.objects.get()
    out, _ = run_command("--watch", str(run.pk))
    assert "annotate" in out and f"Run {run.pk} done" in out
    out, _ = run_command("--cancel", str(run.pk))
    assert out.strip() == f"Run {run.pk}: done"


def test_after_a_run_export_shows_status_and_critic_verdict(setup, tmp_path):
    dataset, config = setup
    run_command("--dataset", dataset.name, "--config", str(config))
    target = tmp_path / "labels.csv"
    call_command(
        "export_labels", "--dataset", dataset.name, "--format", "csv", "--scope", "all",
        "--out", str(target), stdout=io.StringIO(),
    )  # fmt: skip
    rows = {row["external_id"]: row for row in csv.DictReader(target.open())}
    assert {k: (r["status"], r["critic_verdict"]) for k, r in rows.items()} == {
        "img-0000": ("agreed", ""),
        "img-0001": ("dropped", "drop"),
        "img-0002": ("agreed", "revise"),
    }


@pytest.mark.slow
def test_ctrl_c_cancels_an_in_process_run_and_running_it_again_resumes(tmp_path):
    """The real command in a process of its own, interrupted by SIGINT as Ctrl+C does."""
    root = tmp_path / "images"
    lines = []
    for index in range(6):
        make_image(root / f"img-{index}.png", index)
        lines.append(json.dumps({"id": f"img-{index:04d}", "image_path": f"img-{index}.png"}))
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    env = {
        **os.environ, "EMOREVIEW_DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'db.sqlite3'}",
        "IMPORT_ROOTS": str(root), "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    env.pop("CELERY_BROKER_URL", None)

    def manage(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True,
            text=True, timeout=120, **kwargs,
        )  # fmt: skip

    assert manage("migrate", "-v0").returncode == 0
    imported = manage("import_samples", str(tmp_path / "samples.jsonl"), "--dataset", "ctrl-c",
                      "--images-root", str(root))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    scripted = ScriptedModels()
    with OpenAIServer(default=lambda body: slow(0.2, scripted(body))) as server:
        config = write_config(tmp_path / "pipeline.toml", base_url=server.base_url)
        command = [sys.executable, "manage.py", "run_pipeline", "--dataset", "ctrl-c",
                   "--config", str(config), "--stages", "annotate,verify"]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:  # wait until it is working: the first bars
            if line.startswith("annotate  ["):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "Interrupted: run 1 cancelled. Run the same command again to resume." in err
        with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
            assert db.execute("SELECT status FROM annotator_pipelinerun").fetchall() == [
                ("cancelled",)
            ]
            left = db.execute(
                "SELECT COUNT(*) FROM annotator_stageresult WHERE status = 'pending'"
            ).fetchone()[0]
            running = db.execute(
                "SELECT COUNT(*) FROM annotator_stageresult WHERE status = 'running'"
            ).fetchone()[0]
        assert left > 0 and running == 0  # nothing is left claimed by the dead process

        again = manage(*command[2:])
    assert again.returncode == 0, again.stderr
    assert "Run 2 on ctrl-c: 6 samples" in again.stdout and "Run 2 done" in again.stdout
    with sqlite3.connect(tmp_path / "data" / "db.sqlite3") as db:
        statuses = db.execute("SELECT DISTINCT status FROM annotator_stageresult").fetchall()
    assert statuses == [("done",)]

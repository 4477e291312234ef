from __future__ import annotations

import logging
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from annotator.models import Dataset, Sample
from annotator.services.importing import import_samples_file
from tests.annotator.importers.helpers import proposal, record, write_jsonl

pytestmark = pytest.mark.django_db


def test_import_prints_a_one_line_summary(tmp_path, images_root):
    path = write_jsonl(
        tmp_path / "samples.jsonl",
        record("s1", "a.jpg", proposals=[proposal("m1"), proposal("m2", "fear")]),
        record("s2", "b.jpg", emotion="awe"),
        record("s3", "c.png"),
    )
    out = StringIO()
    call_command(
        "import_samples",
        str(path),
        "--dataset",
        "emo",
        "--images-root",
        str(images_root),
        "--model",
        "emoverse-2",
        stdout=out,
    )
    assert out.getvalue() == (
        "Imported samples.jsonl into emo: 3 created, 0 updated; "
        "agreed 1, disputed 1, pending 1, dropped 0\n"
    )
    assert Sample.objects.get(external_id="s2").proposals.get().model_name == "emoverse-2"

    # Again, without --images-root: the dataset's stored root is used.
    out = StringIO()
    call_command("import_samples", str(path), "--dataset", "emo", stdout=out)
    assert "0 created, 3 updated" in out.getvalue()


def test_the_summary_reaches_the_console_once(tmp_path, images_root, caplog):
    """The service logs the same summary at INFO: the command keeps it off the console (its
    warnings still pass), and the web import, outside the command, still logs it."""
    path = write_jsonl(tmp_path / "samples.jsonl", record("s1", "a.jpg", emotion="awe"))
    out = StringIO()
    with caplog.at_level(logging.INFO):
        call_command(
            "import_samples", str(path), "--dataset", "emo", "--images-root", str(images_root),
            stdout=out,
        )  # fmt: skip
        logging.getLogger("annotator.services.importing").warning("still shown")
    said = [r.getMessage() for r in caplog.records if "samples.jsonl into emo" in r.getMessage()]
    assert said == [] and out.getvalue().count("samples.jsonl into emo") == 1
    assert [r.getMessage() for r in caplog.records] == ["still shown"]

    caplog.clear()
    with caplog.at_level(logging.INFO):
        import_samples_file(path=path, dataset_name="emo", images_root=images_root)
    assert any(r.getMessage().startswith("imported samples.jsonl") for r in caplog.records)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.slow  # three manage.py processes, one migrating a new SQLite file (21 s of CPU)
def test_exit_status_and_output_of_a_real_run(tmp_path, images_root):
    """A separate process with its own SQLite file: what an admin's shell sees."""
    env = {
        **os.environ,
        "EMOREVIEW_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "IMPORT_ROOTS": str(images_root),
    }
    assert manage("migrate", "-v0", env=env).returncode == 0
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        record("s1", "a.jpg", emotion="happy"),
        record("s2", "nope.jpg"),
    )
    failed = manage(
        "import_samples", str(bad), "--dataset", "emo", "--images-root", str(images_root), env=env
    )
    assert failed.returncode == 1
    assert "2 problems; nothing was imported:" in failed.stderr
    assert "bad.jsonl:1: emotion: 'happy' is not in taxonomy mikels8" in failed.stderr
    assert (
        "bad.jsonl:2: image_path: 'nope.jpg' does not exist under the images root" in failed.stderr
    )

    good = write_jsonl(tmp_path / "good.jsonl", record("s1", "a.jpg", emotion="awe"))
    done = manage(
        "import_samples", str(good), "--dataset", "emo", "--images-root", str(images_root), env=env
    )
    assert done.returncode == 0, done.stderr
    assert "good.jsonl into emo" not in done.stderr  # once, on stdout (not logged too)
    assert done.stdout == (
        "Imported good.jsonl into emo: 1 created, 0 updated; "
        "agreed 1, disputed 0, pending 0, dropped 0\n"
    )


def test_problems_raise_command_error_and_write_nothing(tmp_path, images_root):
    path = write_jsonl(tmp_path / "bad.jsonl", record("s1", "a.jpg", confidence=12, emotion="awe"))
    with pytest.raises(CommandError) as failed:
        call_command(
            "import_samples", str(path), "--dataset", "emo", "--images-root", str(images_root)
        )
    assert failed.value.returncode == 1
    assert str(failed.value).splitlines() == [
        "1 problem; nothing was imported:",
        "bad.jsonl:1: confidence: 12 is outside 0-10",
    ]
    assert not Dataset.objects.filter(name="emo").exists() and Sample.objects.count() == 0


def test_missing_images_root_for_a_new_dataset_is_a_command_error(tmp_path, images_root):
    path = write_jsonl(tmp_path / "samples.jsonl", record())
    with pytest.raises(CommandError, match=r"samples\.jsonl: images_root: not given"):
        call_command("import_samples", str(path), "--dataset", "brand-new")


def test_images_root_outside_import_roots_is_a_command_error(tmp_path, images_root, settings):
    settings.IMPORT_ROOTS = [tmp_path / "only-here"]
    path = write_jsonl(tmp_path / "samples.jsonl", record())
    with pytest.raises(CommandError, match=r"images_root: .* is not inside an allowed import root"):
        call_command(
            "import_samples", str(path), "--dataset", "emo", "--images-root", str(images_root)
        )

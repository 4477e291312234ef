"""Config files are read with bounds: regular files only, at most PIPELINE_CONFIG_MAX_BYTES; the
Runs page takes them from PIPELINE_CONFIG_DIRS only (manage.py run_pipeline reads the same way)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from annotator.pipeline.config import load_config_in_dirs, load_pipeline_config
from annotator.pipeline.config_files import config_choices, read_config_file
from annotator.pipeline.errors import PipelineConfigError

GOOD = '[annotators.gpt4o]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "gpt-4o"\n'


def problems(call) -> list[str]:
    with pytest.raises(PipelineConfigError) as caught:
        call()
    return caught.value.problems


def test_a_device_is_refused_without_reading_it():
    """/dev/zero has no end: reading it grew a web worker to 21.8 GB."""
    assert problems(lambda: load_pipeline_config(path=Path("/dev/zero"))) == [
        "/dev/zero: not a regular file"
    ]


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    outcome: list[list[str]] = []
    reader = threading.Thread(
        target=lambda: outcome.append(problems(lambda: read_config_file(path=fifo)))
    )
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # blocked on open: unblock it before failing
        with open(fifo, "w"):
            pass
        pytest.fail("opening a fifo blocked")
    assert outcome == [[f"{fifo}: not a regular file"]]


def test_a_file_over_the_limit_is_refused_naming_the_limit(tmp_path, settings):
    settings.PIPELINE_CONFIG_MAX_BYTES = 1000
    big = tmp_path / "big.toml"
    big.write_text(GOOD + "#" * 1000)
    assert problems(lambda: load_pipeline_config(path=big)) == [
        f"{big}: larger than 1,000 bytes (PIPELINE_CONFIG_MAX_BYTES)"
    ]
    assert load_pipeline_config(path=big, max_bytes=4096).annotators["gpt4o"].model == "gpt-4o"


def test_bytes_that_are_not_utf8_are_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[annotators]")
    assert problems(lambda: read_config_file(path=bad)) == [
        f"{bad}: not UTF-8 text (invalid start byte)"
    ]


def test_only_files_inside_the_dirs_are_chosen_symlinks_resolved(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "good.toml").write_text(GOOD)
    (configs / "zero.toml").symlink_to("/dev/zero")
    (tmp_path / "outside.toml").write_text(GOOD)
    (configs / "escape.toml").symlink_to(tmp_path / "outside.toml")
    (configs / "notes.txt").write_text("not a config")
    assert config_choices(dirs=[configs]) == [configs / "good.toml"]

    config, path = load_config_in_dirs(chosen=str(configs / "good.toml"), dirs=[configs])
    assert path == configs / "good.toml" and list(config.annotators) == ["gpt4o"]
    for chosen in ("/dev/zero", str(configs / "zero.toml"), str(configs / "escape.toml"),
                   str(configs / ".." / "outside.toml")):  # fmt: skip
        assert problems(lambda c=chosen: load_config_in_dirs(chosen=c, dirs=[configs])) == [
            f"{chosen}: not a config file in PIPELINE_CONFIG_DIRS ({configs})"
        ]

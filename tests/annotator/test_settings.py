"""Settings come from the environment; each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Prints the settings these tests look at, as JSON.
PROBE = """
import json
from django.conf import settings
from annotator.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ENGINE": db["ENGINE"], "NAME": str(db["NAME"]), "HOST": db.get("HOST"),
    "PORT": db.get("PORT"), "USER": db.get("USER"), "PASSWORD": db.get("PASSWORD"),
    "CONN_MAX_AGE": db.get("CONN_MAX_AGE"), "OPTIONS": db.get("OPTIONS", {}),
    "EAGER": settings.CELERY_TASK_ALWAYS_EAGER,
    "APP_EAGER": app.conf.task_always_eager, "BROKER": app.conf.broker_url,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_PROXY_SSL_HEADER": settings.SECURE_PROXY_SSL_HEADER,
}))
"""

MANAGED = [
    "SECRET_KEY",
    "DEBUG",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "EMOREVIEW_ENV",
    "SECURE_COOKIES",
    "BEHIND_TLS_PROXY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
]


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Not what this process's test set-up added either: the browser tests' conftest sets
    # DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy reports (async.E001) in the whole run.
    clean = {k: v for k, v in os.environ.items() if k not in MANAGED}
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    clean.update(DJANGO_SETTINGS_MODULE="annotator.settings", EMOREVIEW_DATA_DIR=str(tmp_path))
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings(tmp_path: Path, **env: str) -> dict:
    out = _run(PROBE, tmp_path, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_refuses_to_start_without_secret_key(tmp_path):
    out = _run("import django; django.setup()", tmp_path, EMOREVIEW_ENV="production")

    assert out.returncode != 0
    assert "SECRET_KEY must be set when EMOREVIEW_ENV=production" in out.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_starts_with_a_secret_key_and_secure_cookies(tmp_path):
    got = _settings(tmp_path, EMOREVIEW_ENV="production", SECRET_KEY="x" * 50)

    assert got["DEBUG"] is False
    assert got["SESSION_COOKIE_SECURE"] is True


def test_development_defaults_debug_off_sqlite_in_data_dir_and_eager_tasks(tmp_path):
    got = _settings(tmp_path)

    assert got["DEBUG"] is False
    assert got["ENGINE"] == "django.db.backends.sqlite3"
    assert got["NAME"] == str(tmp_path / "emoreview.sqlite3")
    assert "journal_mode=WAL" in got["OPTIONS"]["init_command"]
    assert got["EAGER"] is True
    assert got["APP_EAGER"] is True
    # A development key is generated once and kept, so sessions survive restarts.
    assert len((tmp_path / "secret_key").read_text()) >= 50


def test_database_url_selects_postgresql(tmp_path):
    url = "postgres://emo:s%40cret@db.internal:5433/emoreview"
    got = _settings(tmp_path, DATABASE_URL=url)

    assert got["ENGINE"] == "django.db.backends.postgresql"
    assert (got["NAME"], got["HOST"], got["PORT"]) == ("emoreview", "db.internal", 5433)
    assert (got["USER"], got["PASSWORD"]) == ("emo", "s@cret")
    assert got["CONN_MAX_AGE"] == 60


def test_broker_url_turns_off_eager_tasks(tmp_path):
    got = _settings(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/15")

    assert got["EAGER"] is False
    assert got["APP_EAGER"] is False
    assert got["BROKER"] == "redis://127.0.0.1:6379/15"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"EMOREVIEW_ENV": "staging"}, "EMOREVIEW_ENV='staging'"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(tmp_path, env, message):
    out = _run("import django; django.setup()", tmp_path, **env)

    assert out.returncode != 0
    assert message in out.stderr


def test_debug_can_be_turned_on(tmp_path):
    assert _settings(tmp_path, DEBUG="1")["DEBUG"] is True


@pytest.mark.slow  # a manage.py process running every deploy check (9 s of CPU)
def test_production_passes_check_deploy(tmp_path):
    # W004 (no HSTS) and W008 (no SSL redirect) were reported before.
    out = _run(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        tmp_path,
        EMOREVIEW_ENV="production",
        SECRET_KEY="k" * 20 + "-Xy9" * 10,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout


def test_production_is_https_only_with_hsts(tmp_path):
    got = _settings(tmp_path, EMOREVIEW_ENV="production", SECRET_KEY="x" * 50)

    assert got["SECURE_SSL_REDIRECT"] is True
    assert got["SECURE_HSTS_SECONDS"] == 31_536_000
    assert got["SECURE_PROXY_SSL_HEADER"] is None


def test_behind_a_tls_proxy_its_forwarded_proto_is_trusted(tmp_path):
    got = _settings(tmp_path, EMOREVIEW_ENV="production", SECRET_KEY="x" * 50, BEHIND_TLS_PROXY="1")

    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["SECURE_SSL_REDIRECT"] is True


def test_plain_http_production_turns_off_redirect_and_hsts(tmp_path):
    got = _settings(
        tmp_path, EMOREVIEW_ENV="production", SECRET_KEY="x" * 50, SECURE_COOKIES="false"
    )

    assert (got["SECURE_SSL_REDIRECT"], got["SECURE_HSTS_SECONDS"]) == (False, 0)

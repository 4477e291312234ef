"""A real Label Studio beside EmoReview: its own virtual environment, server and API client.

Label Studio is not a dependency of EmoReview: it lives in `.bench/label-studio-venv`
(gitignored), created by `ensure_installed()` (bench/vs_label_studio.py --install), and runs on
its default SQLite in a data directory of its own, under gunicorn (as the issue 12 figures were
taken) or its own `label-studio start` server. The slow test
tests/review/services/test_export_labelstudio_server.py uses the same server to import an export.

Nothing here imports Django or EmoReview: a test can use it beside its own settings.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VERSION = "1.23.2"  # pinned: the version the issue 12 figures were taken with
GUNICORN = "gunicorn==23.*"
VENV = REPO / ".bench" / "label-studio-venv"
# A migrated empty database with the admin and its token: `label-studio init` migrates for
# minutes on a busy machine, so each server after the first starts from a copy of this one.
TEMPLATE = REPO / ".bench" / "label-studio-template"
DATABASE = "label_studio.sqlite3"
ADMIN_EMAIL = "bench@example.org"
# Variables Label Studio reads that this repository's own settings or a shell may hold
# (get_env checks LABEL_STUDIO_<name>, HEARTEX_<name> and the bare <name>).
_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


class LabelStudioError(RuntimeError):
    """Label Studio could not be installed, started or asked: the message says why."""


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def installed_version(venv: Path = VENV) -> str | None:
    """The label-studio version in `venv`, or None when there is none."""
    python = venv_python(venv)
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_installed(venv: Path = VENV) -> Path:
    """Create `venv` with label-studio==VERSION and gunicorn unless it is there; its python."""
    if installed_version(venv) == VERSION and (venv / "bin" / "gunicorn").exists():
        return venv_python(venv)
    print(f"installing label-studio=={VERSION} and gunicorn into {venv} (a few minutes)...")
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "-q",
            f"label-studio=={VERSION}",
            GUNICORN,
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout)[-2000:]
            raise LabelStudioError(f"{' '.join(step[:4])}... failed ({done.returncode}):\n{tail}")
    return venv_python(venv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabelStudio:
    """A Label Studio server on a fresh data directory; a context manager that stops it (and
    every process it started) on the way out, errors included.

    `server` is "gunicorn" (`workers` processes, `threads` each) or "runserver" (Label
    Studio's own `label-studio start`). `env` adds settings (e.g. ALLOW_IMPORT_TASKS_WITH_
    UNKNOWN_EMAILS, LOCAL_FILES_*).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        venv: Path = VENV,
        server: str = "gunicorn",
        workers: int = 2,
        threads: int = 4,
        env: dict[str, str] | None = None,
        timeout: float = 600.0,
    ) -> None:
        if installed_version(venv) is None:
            raise LabelStudioError(
                f"no Label Studio in {venv}: run `.venv/bin/python bench/vs_label_studio.py "
                "--install` (bench/README.md)"
            )
        if server not in ("gunicorn", "runserver"):
            raise LabelStudioError(f"server must be gunicorn or runserver, not {server!r}")
        self.venv, self.data_dir, self.server = venv, data_dir, server
        self.workers, self.threads, self.timeout = workers, threads, timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = self._environment(env or {})

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: os.environ[k] for k in _KEEP if k in os.environ}
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            DJANGO_DB="sqlite",
            LATEST_VERSION_CHECK="false",
            COLLECT_ANALYTICS="false",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
            PYTHONUNBUFFERED="1",
            # The settings `label-studio start` uses.
            DJANGO_SETTINGS_MODULE="label_studio.core.settings.label_studio",
        )
        env.update(extra)
        return env

    def __enter__(self) -> LabelStudio:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def start(self) -> None:
        """A migrated SQLite database with the admin and an API token (from the template, else
        made by `label-studio init` and kept as the template), then the server."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = self._database()
        self.process = subprocess.Popen(
            self._command(),
            env=self.env,
            cwd=self.data_dir,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the workers too
        )
        self._wait_healthy()

    def _database(self) -> str:
        """Put a migrated database into the data directory; the admin's API token."""
        stamp = TEMPLATE / "version"
        if stamp.exists() and stamp.read_text() == VERSION and (TEMPLATE / DATABASE).exists():
            shutil.copyfile(TEMPLATE / DATABASE, self.data_dir / DATABASE)
            return (TEMPLATE / "token").read_text()
        token = secrets.token_hex(20)
        account = ["--username", ADMIN_EMAIL, "--password", secrets.token_hex(12)]
        account += ["--user-token", token, "--enable-legacy-api-token"]
        init = subprocess.run(
            [self._bin("label-studio"), "init", "--data-dir", str(self.data_dir), *account],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        if init.returncode != 0:
            raise LabelStudioError(f"label-studio init failed:\n{init.stderr[-3000:]}")
        TEMPLATE.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.data_dir / DATABASE, TEMPLATE / DATABASE)
        (TEMPLATE / "token").write_text(token)
        stamp.write_text(VERSION)
        return token

    def _command(self) -> list[str]:
        if self.server == "runserver":
            return [self._bin("label-studio"), "start", "--no-browser", "--data-dir",
                    str(self.data_dir), "--internal-host", "127.0.0.1", "--port",
                    str(self.port)]  # fmt: skip
        package = self._package_dir()
        return [self._bin("gunicorn"), "--chdir", str(package), "--pythonpath",
                f"{package},{package.parent}", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--threads", str(self.threads),
                "--timeout", "900", "label_studio.core.wsgi:application"]  # fmt: skip

    def _package_dir(self) -> Path:
        probe = subprocess.run(
            [str(venv_python(self.venv)), "-c", "import label_studio, os; "
             "print(os.path.dirname(label_studio.__file__))"],
            capture_output=True, text=True, env=self.env,
        )  # fmt: skip
        if probe.returncode != 0:
            raise LabelStudioError(f"cannot locate label_studio:\n{probe.stderr[-2000:]}")
        return Path(probe.stdout.strip())

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LabelStudioError(f"Label Studio exited ({self.process.returncode}):\n"
                                       f"{self.log_tail()}")  # fmt: skip
            try:
                with urllib.request.urlopen(f"{self.url}/health/", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(1)
        raise LabelStudioError(f"no answer from {self.url}/health/ in {self.timeout:.0f} s:\n"
                               f"{self.log_tail()}")  # fmt: skip

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL what is left after 20 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 900) -> Any:
        """Call the REST API with the admin's token; the decoded JSON answer (None if empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Token {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise LabelStudioError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def upload(self, path: str, file: Path, *, timeout: float = 3600) -> Any:
        """POST a file as the JSON body (the import endpoint takes a task list as its body)."""
        request = urllib.request.Request(f"{self.url}{path}", data=file.read_bytes(), method="POST")
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise LabelStudioError(f"POST {path}: HTTP {exc.code}: {detail}") from None

    def browser(self) -> urllib.request.OpenerDirector:
        """A signed-in browser session (cookies), for views outside the token-authenticated
        API such as /data/local-files/: gives the admin a new password and logs in."""
        password = secrets.token_hex(12)
        code = (
            f"from users.models import User; u = User.objects.get(email={ADMIN_EMAIL!r}); "
            f"u.set_password({password!r}); u.save()"
        )
        manage = [str(venv_python(self.venv)), str(self._package_dir() / "manage.py")]
        done = subprocess.run([*manage, "shell", "-c", code], env=self.env, cwd=self.data_dir,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise LabelStudioError(f"setting the admin's password failed:\n{done.stderr[-2000:]}")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(f"{self.url}/user/login/").read()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        form = {"email": ADMIN_EMAIL, "password": password, "csrfmiddlewaretoken": csrf}
        login = urllib.request.Request(
            f"{self.url}/user/login/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{self.url}/user/login/"},
        )
        opener.open(login).read()
        if not any(c.name == "sessionid" for c in jar):
            raise LabelStudioError("logging in to Label Studio gave no session")
        return opener

    def server_pids(self) -> list[int]:
        """The server's processes (its group), for CPU accounting."""
        if self.process is None:
            return []
        pgid = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == pgid:
                        pids.append(int(entry.name))
                except (ProcessLookupError, PermissionError):
                    continue
        return pids

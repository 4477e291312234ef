"""Screenshots of the main pages, on the README demo's own configuration.

Starts `manage.py demo --addr 127.0.0.1:PORT` with a throwaway EMOREVIEW_DATA_DIR (SQLite, the
bundled demo dataset, GrabCut, tasks in-process; no broker, no SAM weights, whatever the shell
has set), reads the printed passwords, then signs in with headless chromium as `annotator` and
as `admin` and saves what each page shows in the browser window (not the whole scrolled page)
at 1440x900 and 1366x768:

    .venv/bin/python bench/screenshots.py --out /tmp/shots
    .venv/bin/python bench/screenshots.py --out /tmp/shots --viewport 1366x768 --full-page

Files: OUT/<width>x<height>/<page>.png, e.g. 1366x768/annotator-sample.png. The demo server is
stopped and its data directory removed at the end (`--keep-data` keeps it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VIEWPORTS = ["1440x900", "1366x768"]
# Variables that would move the demo off its own configuration (another database, a broker,
# SAM weights): the script shows what the README's demo shows.
CLEARED_ENV = ("DATABASE_URL", "CELERY_BROKER_URL", "SAM_CHECKPOINT", "SEGMENTER", "DEBUG")
PASSWORD_LINE = re.compile(r"^\s+(annotator|admin)\s+(\S+)\s+\(", re.MULTILINE)
# Click marks (add, remove), B-A-S roles and the accent, kept exact in --docs-image's palette.
KEPT_COLOURS = ("#1f9d55", "#d64545", "#2f6fe4", "#e08a00", "#d6336c", "#3b4fd8")
# A mask canvas with at least one painted pixel: what a person sees of a mask.
PAINTED = """() => Array.from(document.querySelectorAll("canvas.mask-canvas")).some((c) => {
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
  return false;
})"""


@dataclass
class Demo:
    url: str
    passwords: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_demo(data_dir: Path, *, port: int, timeout_s: float = 120.0) -> Iterator[Demo]:
    """`manage.py demo` in a child process until the block ends; its passwords parsed."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env["EMOREVIEW_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    log = (data_dir / "demo.log").open("w+")
    command = [sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        passwords = _wait_until_serving(process, log, url=url, timeout_s=timeout_s)
        yield Demo(url=url, passwords=passwords)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_serving(
    process: subprocess.Popen[bytes], log: Any, *, url: str, timeout_s: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log.seek(0)
        output = log.read()
        if process.poll() is not None:
            raise SystemExit(f"manage.py demo exited ({process.returncode}):\n{output}")
        passwords = dict(PASSWORD_LINE.findall(output))
        if len(passwords) == 2 and _answers(f"{url}/accounts/login/"):
            return passwords
        time.sleep(0.5)
    raise SystemExit(f"manage.py demo did not serve {url} within {timeout_s:.0f} s")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def log_in(browser: Any, demo: Demo, username: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{demo.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", demo.passwords[username])
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{demo.url}/review/")
    return page


def settle(page: Any) -> None:
    """Until the page, its images and its htmx requests have finished."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "Array.from(document.images).every((img) => img.complete)", timeout=15_000
    )


def shoot(page: Any, path: Path, *, full_page: bool) -> Path:
    settle(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def annotator_pages(page: Any, demo: Demo, out: Path, *, full_page: bool) -> list[Path]:
    saved = [shoot(page, out / "annotator-queue.png", full_page=full_page)]
    page.click("#start-annotating")
    page.wait_for_selector(".stage img")
    saved.append(shoot(page, out / "annotator-sample.png", full_page=full_page))
    if click_for_a_mask(page):
        saved.append(shoot(page, out / "annotator-mask.png", full_page=full_page))
    return saved


def click_for_a_mask(page: Any) -> bool:
    """Click the middle of the subject's box (else of the image); True once a mask is drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not page.locator("#mask-panel").count():
        return False
    box = page.locator(".overlay g.box.role-subject rect.edge")
    target = box.first if box.count() else page.locator(".stage img")
    rect = target.bounding_box()
    page.mouse.click(rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2)
    page.mouse.move(1, 1)  # no hover effects in the picture
    try:
        page.wait_for_selector(".mask-marks circle", timeout=10_000)
        page.wait_for_function(PAINTED, timeout=30_000)
    except PlaywrightTimeout:
        print("note: no mask was drawn within 30 s; annotator-mask.png left out")
        return False
    return True


def admin_pages(page: Any, demo: Demo, out: Path, *, full_page: bool) -> list[Path]:
    saved = [shoot(page, out / "queue.png", full_page=full_page)]
    page.click("table.queue tbody th[scope=row] a >> nth=0")
    page.wait_for_selector(".stage img")
    saved.append(shoot(page, out / "adjudicator-sample.png", full_page=full_page))
    for name in ("audit", "export", "runs"):
        page.goto(f"{demo.url}/review/{name}/")
        saved.append(shoot(page, out / f"{name}.png", full_page=full_page))
    return saved


def take_all(demo: Demo, out: Path, *, viewports: list[str], chromium: str, full_page: bool):
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for size in viewports:
                width, height = (int(v) for v in size.split("x"))
                viewport = {"width": width, "height": height}
                folder = out / size
                page = log_in(browser, demo, "annotator", viewport)
                saved += annotator_pages(page, demo, folder, full_page=full_page)
                page.context.close()
                page = log_in(browser, demo, "admin", viewport)
                saved += admin_pages(page, demo, folder, full_page=full_page)
                page.context.close()
        finally:
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument(
        "--viewport",
        action="append",
        dest="viewports",
        metavar="WxH",
        help=f"window size; repeatable (default: {' and '.join(VIEWPORTS)})",
    )
    parser.add_argument("--full-page", action="store_true", help="the whole scrolled page")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="chromium executable")
    parser.add_argument("--port", type=int, default=0, help="demo server port (default: free)")
    parser.add_argument("--keep-data", action="store_true", help="keep the demo's data dir")
    parser.add_argument(
        "--docs-image",
        type=Path,
        help="also write a small (256-colour) copy of the 1366x768 annotator page here, "
        "e.g. docs/img/annotator.png",
    )
    args = parser.parse_args()
    viewports = args.viewports or VIEWPORTS
    if args.docs_image and "1366x768" not in viewports:
        parser.error("--docs-image copies the 1366x768 annotator page: include that viewport")
    data_dir = Path(tempfile.mkdtemp(prefix="emoreview-shots-"))
    try:
        with running_demo(data_dir, port=args.port or free_port()) as demo:
            saved = take_all(
                demo,
                args.out,
                viewports=viewports,
                chromium=args.chromium,
                full_page=args.full_page,
            )
    finally:
        if args.keep_data:
            print(f"demo data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.docs_image:
        saved.append(small_copy(args.out / "1366x768", args.docs_image))
    for path in saved:
        print(f"{path}  ({path.stat().st_size // 1024} KiB)")


def small_copy(folder: Path, target: Path) -> Path:
    """The annotator's page (with its mask when one was drawn) in 256 colours: a README picture."""
    from PIL import Image

    source = folder / "annotator-mask.png"
    if not source.exists():
        source = folder / "annotator-sample.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    # Median cut gives few-pixel colours no entry (a click mark turned grey): a band of the
    # marks' and roles' colours (static/css/app.css) makes the palette keep them.
    probe = Image.new("RGB", (image.width, image.height + 64), "white")
    probe.paste(image, (0, 0))
    for i, colour in enumerate(KEPT_COLOURS):
        probe.paste(Image.new("RGB", (64, 64), colour), (i * 64, image.height))
    image.quantize(palette=probe.quantize(colors=256)).save(target, optimize=True)
    return target


if __name__ == "__main__":
    main()

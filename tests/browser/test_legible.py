"""Bounded and legible, as a person sees it on the demo: typing stops at the notes limit and the
counter says so; 2,000 characters without a space (and a long URL) wrap inside the answers list
instead of stretching the page; the Export and Runs tables put each header above its column, and
a run whose only unit failed does not say "done"."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotator.models import PipelineRun, Sample
from annotator.models import StageResult as Unit
from review.labels import Label
from review.models import Adjudication
from review.services.consensus import submit_answer
from tests.browser.demo_site import DESKTOP, LAPTOP
from tests.review.team import lease

pytestmark = [pytest.mark.browser]

SHOTS = "/tmp/issue9/rough_{}.png"
DANGER = "rgb(180, 35, 24)"  # --danger in static/css/app.css
LONG_URL = "https://example.org/" + "/".join(["a-path-segment-without-any-spaces"] * 80)


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return box


def test_typing_stops_at_the_notes_limit_and_the_counter_shows_it(demo_site, chromium_browser):
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    notes, counter = page.locator("#id_notes"), page.locator("#notes-counter")
    assert counter.inner_text() == "0 / 2000 characters"
    before = counter.evaluate("e => getComputedStyle(e).color")
    notes.fill("n" * 1990)
    notes.press("End")
    page.keyboard.type("0123456789abcdef")  # 16 more keys: only 10 fit
    assert notes.input_value() == "n" * 1990 + "0123456789"
    assert counter.inner_text() == "2000 / 2000 characters · limit reached"
    assert counter.evaluate("e => getComputedStyle(e).color") == DANGER != before
    page.keyboard.press("Backspace")
    assert counter.inner_text() == "1999 / 2000 characters"
    page.keyboard.type("!")
    counter.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS.format("notes_counter"))

    sample_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.locator("#adjudication-form [data-emotion-key='2']").click()
    page.locator("#adjudication-form button[type=submit]").click()
    page.wait_for_url(lambda url: not url.rstrip("/").endswith(f"/{sample_id}"))
    saved = Adjudication.objects.get(sample_id=sample_id)
    assert saved.notes == "n" * 1990 + "012345678!"


def test_long_notes_wrap_inside_the_answers_list(demo_site, chromium_browser):
    annotator = User.objects.get(username="annotator")
    samples = demo_site.disputed()[:2]
    for sample, notes in zip(samples, ["W" * 2000, LONG_URL[:2000]], strict=True):
        lease(sample, annotator)
        submit_answer(
            sample=sample,
            annotator=annotator,
            label=Label(emotion="awe", confidence=7, notes=notes),
        )
    page = demo_site.log_in(chromium_browser, "admin", viewport=DESKTOP)
    for n, sample in enumerate(samples):
        page.goto(f"{demo_site.url}/review/samples/{sample.pk}/")
        row = page.locator(".answers-table .answer-notes td")
        table = _box(page.locator(".answers-table"))
        cell = _box(row)
        # The notes take the table's whole width, wrapped onto lines, and nothing sticks out.
        assert cell["width"] >= 0.95 * table["width"]
        assert 10 < cell["height"] < 1500
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        assert page.evaluate("document.documentElement.scrollHeight") < 4000
        # The same notes beside the decision form (another person's label) wrap as well.
        beside = _box(page.locator(".current-notes"))
        assert beside["width"] <= _box(page.locator("#adjudication-form"))["width"]
        row.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS.format(f"long_notes_{n}"), full_page=True)


def _assert_headers_above_their_cells(page: Any, table: str) -> int:
    """Every header cell of the table sits above the first row's cell of its column."""
    headers = page.locator(f"{table} thead th")
    cells = page.locator(f"{table} tbody tr:first-child > *")
    assert headers.count() == cells.count() > 1
    for i in range(headers.count()):
        head, cell = _box(headers.nth(i)), _box(cells.nth(i))
        assert head["y"] + head["height"] <= cell["y"] + 1, (table, i)
        assert abs(head["x"] - cell["x"]) < 1 and abs(head["width"] - cell["width"]) < 1
    return headers.count()


def _run_whose_only_unit_failed(dataset: Any) -> PipelineRun:
    now = timezone.now()
    run = PipelineRun.objects.create(
        dataset=dataset, stages=["annotate"], limit=1, status=PipelineRun.Status.DONE,
        started_at=now, finished_at=now,
    )  # fmt: skip
    sample = Sample.objects.filter(dataset=dataset).earliest("pk")
    Unit.objects.create(
        run=run, sample=sample, stage=Unit.Stage.ANNOTATE, model_name="gpt4o",
        status=Unit.Status.FAILED, attempts=3, finished_at=now,
        error="reply still invalid after one repair: " + LONG_URL[:400],
    )  # fmt: skip
    return run


def test_export_and_runs_tables_put_headers_above_their_columns(demo_site, chromium_browser):
    run = _run_whose_only_unit_failed(demo_site.dataset)
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/export/")
    assert _assert_headers_above_their_cells(page, "#export-overview") == 5 + 3
    assert page.locator("#export-overview td[data-scope=all]").inner_text() == "12"
    page.screenshot(path=SHOTS.format("export"), full_page=True)

    page.goto(f"{demo_site.url}/review/runs/")
    _assert_headers_above_their_cells(page, "#run-list")
    status = page.locator("#run-list [data-run-status]")
    assert status.inner_text().lower() == "finished with 1 failure"
    page.screenshot(path=SHOTS.format("runs"), full_page=True)

    page.goto(f"{demo_site.url}/review/runs/{run.pk}/")
    _assert_headers_above_their_cells(page, "#run-progress table")
    _assert_headers_above_their_cells(page, "#run-failures")
    assert page.locator("#run-progress [data-run-status]").inner_text().lower() == (
        "finished with 1 failure"
    )
    assert "done" not in page.locator("#run-progress h2").inner_text().lower()
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    page.screenshot(path=SHOTS.format("run_detail"), full_page=True)

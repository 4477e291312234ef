"""The Export page's start form as an admin uses it: choosing Answers disables the formats it
cannot be written as (greyed, with a note), a started job lands back on the page's own address
(a reload posts nothing), and a refused form is shown there with the error beside Format."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.models import ExportJob
from tests.browser.demo_site import LAPTOP

pytestmark = [pytest.mark.browser]

SHOTS = Path("/tmp/h7_shots")
LABELS_ONLY = ("coco", "jsonl", "labelstudio")


@pytest.fixture
def export_root(tmp_path, settings, monkeypatch):
    """Before demo_site: the worker it starts on the PostgreSQL + Redis leg writes here too."""
    root = tmp_path / "exports"
    monkeypatch.setenv("EXPORT_ROOT", str(root))
    settings.EXPORT_ROOT = root
    return root


def _rgb(page, selector: str) -> tuple[int, ...]:
    colour = page.eval_on_selector(selector, "e => getComputedStyle(e).color")
    return tuple(int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3])


def _format_label(fmt: str) -> str:
    return f"#export-start label:has(> input[name=format][value={fmt}])"


def test_answers_disable_the_label_formats_and_a_start_redirects(
    export_root, demo_site, chromium_browser
):
    SHOTS.mkdir(exist_ok=True)
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/export/")
    form = page.locator("#export-start")
    note = form.locator("[data-answers-note]")
    assert not note.is_visible()
    form.locator("input[name=format][value=coco]").check()

    form.locator("input[name=kind][value=answers]").check()
    for fmt in LABELS_ONLY:
        assert form.locator(f"input[name=format][value={fmt}]").is_disabled()
    assert form.locator("input[name=format][value=csv]").is_checked()  # COCO gave way
    assert form.locator("input[name=format][value=parquet]").is_enabled()
    assert note.is_visible() and "Answers are written as CSV or Parquet" in note.inner_text()
    greyed, normal = _rgb(page, _format_label("coco")), _rgb(page, _format_label("csv"))
    assert greyed == (0x5B, 0x65, 0x75) and greyed != normal  # --muted, the hint's grey
    form.screenshot(path=str(SHOTS / "answers_chosen.png"))

    form.locator("input[name=kind][value=labels]").check()
    assert all(form.locator(f"input[name=format][value={f}]").is_enabled() for f in LABELS_ONLY)
    assert not note.is_visible()

    form.locator("input[name=kind][value=answers]").check()
    form.locator("input[name=format][value=parquet]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{demo_site.url}/review/export/#export-jobs")
    job = ExportJob.objects.get()
    assert (job.kind, job.fmt) == ("answers", "parquet")
    page.reload()  # a GET now: no second job, no "resubmit the form?" question
    page.locator(f"#export-job-{job.pk}").wait_for()
    assert ExportJob.objects.count() == 1


def test_a_refused_form_is_shown_at_the_pages_address_with_the_error_by_format(
    export_root, demo_site, chromium_browser
):
    """What a page without the script (or a hand-made request) meets: the server refuses."""
    SHOTS.mkdir(exist_ok=True)
    page = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    page.goto(f"{demo_site.url}/review/export/")
    form = page.locator("#export-start")
    form.locator("input[name=kind][value=answers]").check()
    # As if no script had run: COCO enabled again and chosen.
    page.eval_on_selector("#export-start input[value=coco]", "e => { e.disabled = false; }")
    form.locator("input[name=format][value=coco]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url == f"{demo_site.url}/review/export/"
    fieldset = form.get_by_role("group", name="Format", exact=True)
    assert "Answers export as CSV or Parquet." in fieldset.inner_text()
    assert fieldset.locator("input[value=coco]").is_disabled()
    assert ExportJob.objects.count() == 0
    error_red = _rgb(page, "#export-start fieldset[aria-describedby] .errorlist")
    assert error_red[0] > error_red[1] and error_red[0] > error_red[2]  # shown as an error
    page.locator("#export-start").screenshot(path=str(SHOTS / "refused.png"))

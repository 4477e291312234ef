"""The consensus where people see it, in a real browser on the README's demo: the sample page's
posterior appears only after the annotator answered (blind review), with which raters pulled
which way; on the audit an admin adopts the learned model weights and the page shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotator.models import Proposal
from review.models_consensus import ConsensusFit
from tests.browser.demo_site import LAPTOP
from tests.review.consensus_rows import finished_fit, posterior, rater

pytestmark = [pytest.mark.browser]

SHOTS = Path("/tmp/issue14")
LINE = "awe 0.71 · contentment 0.22 · fear 0.05 · sadness 0.02 · {n} others < 0.01"


def _fit(dataset) -> ConsensusFit:
    """A finished fit over the demo: every model rated, each sample's posterior the same."""
    models = sorted(
        set(Proposal.objects.filter(sample__dataset=dataset).values_list("model_name", flat=True))
    )
    accuracies = [0.9, 0.6, 0.75, 0.8]
    raters = {
        f"model:{name}": rater("model", name, accuracies[i % 4], n=12)
        for i, name in enumerate(models)
    }
    fit = finished_fit(dataset, raters, n_samples=12, n_ratings=30)
    for sample in dataset.samples.all():
        posterior(sample, fit, {"awe": 0.71, "contentment": 0.22, "fear": 0.05, "sadness": 0.02})
    return fit


def _configured(page) -> dict[str, str]:
    """Model -> the configured weight the audit's weights table shows."""
    rows = page.locator("#consensus-weights table.weights-table tbody tr")
    return {
        row.locator("th").inner_text(): row.locator("td.configured-weight").inner_text()
        for row in rows.all()
    }


def _text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_posterior_after_answering_and_adopting_learned_weights(demo_site, chromium_browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _fit(demo_site.dataset)
    page = demo_site.log_in(chromium_browser, "annotator", viewport=LAPTOP)
    page.click("#start-annotating")
    page.wait_for_url("**/review/samples/*/")
    answered = page.url
    assert page.locator("#posterior").count() == 0  # blind: the consensus counts others
    assert "0.71" not in page.inner_text("main")

    page.keyboard.press("1")
    page.fill("#id_confidence", "7")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.goto(answered)
    panel = page.locator("#posterior")
    assert panel.is_visible()
    others = len(demo_site.dataset.taxonomy.labels) - 4
    assert LINE.format(n=others) in _text(page, "#posterior .posterior-top")
    assert page.locator("#posterior-pulls table.pulls").count() == 0  # fetched when opened
    page.click("#posterior summary")
    page.wait_for_function("() => document.querySelector('#posterior-pulls table.pulls') !== null")
    pulls = _text(page, "#posterior-pulls")
    assert "pulls toward" in pulls and "awe" in pulls
    panel.screenshot(path=str(SHOTS / "posterior.png"))
    page.screenshot(path=str(SHOTS / "sample_page.png"), full_page=True)

    admin = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    admin.goto(f"{demo_site.url}/review/audit/?dataset={demo_site.dataset.name}")
    section = admin.locator("#audit-consensus")
    section.scroll_into_view_if_needed()
    assert "rater reliability" in section.inner_text().lower()
    change = _text(admin, "#consensus-weights .adopt-weights p")
    learned = dict(re.findall(r"(\S+) [0-9.]+ → ([0-9]+(?:\.[0-9]+)?)", change))
    assert learned and _configured(admin) != {**_configured(admin), **learned}
    admin.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    admin.click("#adopt-weights")
    admin.wait_for_function("() => document.querySelector('#consensus-weights .success') !== null")
    shown = _configured(admin)
    assert {name: shown[name] for name in learned} == learned
    note = f"Model weights of {demo_site.dataset.name} set to the learned ones:"
    assert note in _text(admin, "#consensus-weights #weights-adopted")
    section.screenshot(path=str(SHOTS / "audit_consensus.png"))
    section.locator(".consensus-confusion summary").click()
    assert section.locator(".consensus-confusion svg").first.is_visible()
    section.locator(".consensus-confusion").screenshot(path=str(SHOTS / "audit_confusion.png"))

    # Refit: a real fit (in-process, or a worker where a broker is set); the state is polled.
    with admin.expect_response("**/audit/consensus/refit/"):
        admin.click("#consensus-refit")
    admin.wait_for_function(
        "() => document.querySelector('#consensus-job .job-done') !== null"
        " && !document.querySelector('#consensus-job[hx-trigger]')",
        timeout=60_000,
    )
    newest = ConsensusFit.objects.order_by("-pk").first()
    assert newest is not None and newest.status == ConsensusFit.Status.DONE
    assert ConsensusFit.objects.count() == 2


def test_a_first_refit_fills_the_section_without_a_reload(demo_site, chromium_browser):
    admin = demo_site.log_in(chromium_browser, "admin", viewport=LAPTOP)
    admin.goto(f"{demo_site.url}/review/audit/?dataset={demo_site.dataset.pk}")  # by id
    section = admin.locator("#audit-consensus")
    assert "No consensus fit yet" in section.inner_text()
    admin.evaluate("() => { window.notReloaded = true; }")
    with admin.expect_response("**/audit/consensus/refit/"):
        admin.click("#consensus-refit")
    admin.wait_for_function(
        "() => document.querySelector('#audit-consensus #table-consensus-weights') !== null",
        timeout=60_000,
    )
    text = admin.inner_text("#audit-consensus")
    assert "rater reliability" in text.lower() and "No consensus fit yet" not in text
    assert "show its figures" not in text
    assert admin.evaluate("() => window.notReloaded === true")  # swapped in place
    section.screenshot(path=str(SHOTS / "audit_refit_in_place.png"))

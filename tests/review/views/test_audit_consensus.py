"""The audit's consensus section: rater reliability, confusion heat maps, configured against
learned weights with "Adopt learned weights", "Refit consensus" and the fit job's state."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotator.models import Dataset
from review.models import AuditEvent
from review.models_consensus import ConsensusFit
from review.services.model_weights import ADOPT_WEIGHTS
from tests.factories import AdminFactory, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.consensus_rows import finished_fit, rater
from tests.support.masks import inline_tasks  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_audit_cache")]

SECTION = 'id="audit-consensus"'


@pytest.fixture
def dataset():
    return DatasetFactory.create(name="fitted", model_weights={"gpt-4o": 1.0, "qwen-vl": 1.0})


@pytest.fixture
def fit(dataset):
    raters = {
        "model:gpt-4o": rater("model", "gpt-4o", 0.9, n=120),
        "model:qwen-vl": rater("model", "qwen-vl", 0.6, n=118),
        "critic:gpt-4o": rater("critic", "critic", 0.7, n=40),
        "person:7": rater("person", "ana", 0.95, n=12),
    }
    return finished_fit(dataset, raters)


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory.create())
    return client


def _html(response) -> str:
    return " ".join(response.content.decode().split())


def _plain(response) -> str:
    """The page's text without its tags."""
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def _audit(client, **params):
    return client.get(reverse("review:audit"), {"dataset": "fitted", **params})


def test_the_reliability_table_lists_every_rater_with_its_interval(auditor_client, fit):
    html = _html(_audit(auditor_client))
    assert SECTION in html and "Rater reliability" in html
    assert '<a href="#audit-consensus">Consensus</a>' in html  # in the sections list
    table = html[html.index('id="table-consensus-raters"') :]
    order = [table.index(name) for name in ("gpt-4o", "qwen-vl", "critic", "ana")]
    assert order == sorted(order)  # models, critic, people
    assert "90.0%" in table and "80% to 100%" in table and "120" in table
    assert html.count('class="audit-chart"') == 4  # one heat map per rater
    assert "truth awe, says awe: 90%" in html


def test_auditors_see_the_weights_but_no_buttons(auditor_client, fit):
    html = _html(_audit(auditor_client))
    assert "configured" in html and "1.2759" in html
    assert "Adopt learned weights" not in html and "Refit consensus" not in html
    post = auditor_client.post(
        reverse("review:adopt_weights"), {"dataset": "fitted", "fit": fit.pk}
    )
    assert post.status_code == 403
    refit = auditor_client.post(reverse("review:consensus_refit"), {"dataset": "fitted"})
    assert refit.status_code == 403
    assert not AuditEvent.objects.exists() and ConsensusFit.objects.count() == 1


def test_an_admin_adopts_the_learned_weights_by_plain_post(admin_client, fit, dataset):
    text = _plain(_audit(admin_client))
    assert "Adopting changes: gpt-4o 1 → 1.2759, qwen-vl 1 → 0.7241." in text
    response = admin_client.post(
        reverse("review:adopt_weights"), {"dataset": "fitted", "fit": fit.pk}
    )
    assert response.status_code == 302 and response.url.endswith("#audit-consensus")
    assert Dataset.objects.get(pk=dataset.pk).model_weights == {"gpt-4o": 1.2759, "qwen-vl": 0.7241}
    assert AuditEvent.objects.filter(action=ADOPT_WEIGHTS).count() == 1
    after = _plain(admin_client.get(response.url))
    # The message says what changed, in the words the htmx answer uses.
    assert "Model weights of fitted set to the learned ones: gpt-4o 1.28, qwen-vl 0.72." in after
    assert "The configured weights are the learned ones." in after


def test_htmx_adopt_answers_the_weights_fragment(admin_client, fit):
    response = admin_client.post(
        reverse("review:adopt_weights"),
        {"dataset": "fitted", "fit": fit.pk},
        HTTP_HX_REQUEST="true",
    )
    html = _html(response)
    assert response.status_code == 200 and "<html" not in html
    note = "Model weights of fitted set to the learned ones: gpt-4o 1.28, qwen-vl 0.72."
    assert note in _plain(response) and 'id="weights-adopted"' in html
    assert '<td class="num configured-weight">1.2759</td>' in html
    assert "Adopt learned weights" not in html  # nothing left to adopt


def test_adopting_an_unknown_or_unfinished_fit_changes_nothing(admin_client, dataset):
    running = finished_fit(dataset, {}, status=ConsensusFit.Status.RUNNING)
    response = admin_client.post(
        reverse("review:adopt_weights"),
        {"dataset": "fitted", "fit": running.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400 and "not a finished fit" in response.content.decode()
    bad = admin_client.post(reverse("review:adopt_weights"), {"dataset": "fitted", "fit": "x"})
    assert bad.status_code == 404
    assert Dataset.objects.get(pk=dataset.pk).model_weights == {"gpt-4o": 1.0, "qwen-vl": 1.0}


def test_refit_asks_for_a_fit_and_shows_its_state(admin_client, dataset, fit):
    # The test's transaction never commits, so the fit is never sent: it stays pending.
    response = admin_client.post(
        reverse("review:consensus_refit"), {"dataset": "fitted"}, HTTP_HX_REQUEST="true"
    )
    html = _html(response)
    job = ConsensusFit.objects.latest("pk")
    assert job.status == ConsensusFit.Status.PENDING and job.requested_by is not None
    assert "job-pending" in html and 'hx-trigger="every 2s"' in html
    ConsensusFit.objects.filter(pk=job.pk).update(status=ConsensusFit.Status.DONE, seconds=3.2)
    polled = _html(
        admin_client.get(
            reverse("review:consensus_job"), {"dataset": "fitted"}, HTTP_HX_REQUEST="true"
        )
    )
    assert "job-done" in polled and "in 3.2 s" in polled and "every 2s" not in polled


def test_the_polled_job_once_done_answers_the_whole_section_with_its_figures(admin_client, dataset):
    job = ConsensusFit.objects.create(dataset=dataset, status=ConsensusFit.Status.RUNNING)
    url = reverse("review:consensus_job")
    running = admin_client.get(url, {"dataset": "fitted"}, HTTP_HX_REQUEST="true")
    assert "HX-Retarget" not in running and 'hx-trigger="every 2s"' in _html(running)
    job.delete()
    raters = {"model:gpt-4o": rater("model", "gpt-4o", 0.9, n=50)}
    finished_fit(dataset, raters)
    done = admin_client.get(url, {"dataset": "fitted"}, HTTP_HX_REQUEST="true")
    html = _html(done)
    assert done["HX-Retarget"] == "#audit-consensus" and done["HX-Reswap"] == "outerHTML"
    assert html.startswith('<section class="audit-section" id="audit-consensus"')
    assert "Rater reliability" in _plain(done) and "No consensus fit yet" not in html
    assert "show its figures" not in html and "every 2s" not in html
    csv = re.search(r'href="([^"]*consensus-weights[^"]*)&amp;format=csv"', html)
    assert csv is not None
    table = admin_client.get(csv[1] + "&format=csv")
    assert table.status_code == 200 and b"gpt-4o" in b"".join(table.streaming_content)


@pytest.mark.usefixtures("inline_tasks")
def test_an_htmx_refit_run_in_process_answers_the_filled_section(
    admin_client, dataset, django_capture_on_commit_callbacks
):
    for i in range(6):
        sample = SampleFactory.create(dataset=dataset)
        ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
        ProposalFactory.create(sample=sample, model_name="qwen-vl", emotion="awe" if i else "fear")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("review:consensus_refit"), {"dataset": "fitted"}, HTTP_HX_REQUEST="true"
        )
    assert ConsensusFit.objects.get().status == ConsensusFit.Status.DONE
    # The fit ran inside the request only after the answer was rendered (on commit), so the
    # answer is the waiting line; its poll brings the section.
    assert response.status_code == 200
    polled = admin_client.get(
        reverse("review:consensus_job"), {"dataset": "fitted"}, HTTP_HX_REQUEST="true"
    )
    assert polled["HX-Retarget"] == "#audit-consensus" and "qwen-vl" in _plain(polled)


def test_refit_while_a_fit_waits_asks_for_no_second_one(admin_client, dataset):
    for _click in range(2):
        response = admin_client.post(reverse("review:consensus_refit"), {"dataset": "fitted"})
    job = ConsensusFit.objects.get()  # the test never commits: the first stays pending
    text = _plain(admin_client.get(response.url))
    assert f"Consensus fit {job.pk} of fitted is already pending." in text


@pytest.mark.usefixtures("inline_tasks")  # in-process, also where a broker is set
def test_refit_by_plain_post_fits_in_process_and_the_audit_shows_it(
    admin_client, dataset, django_capture_on_commit_callbacks
):
    for i in range(6):
        sample = SampleFactory.create(dataset=dataset)
        ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="awe")
        ProposalFactory.create(sample=sample, model_name="qwen-vl", emotion="awe" if i else "fear")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("review:consensus_refit"), {"dataset": "fitted"})
    assert response.status_code == 302 and response.url.endswith("#audit-consensus")
    job = ConsensusFit.objects.get()
    assert job.status == ConsensusFit.Status.DONE and job.requested_by is not None
    text = _plain(admin_client.get(response.url))
    assert f"Consensus fit {job.pk} requested for fitted." in text
    assert "Latest fit: done in" in text and "gpt-4o" in text and "qwen-vl" in text


def test_a_failed_fit_shows_its_error(auditor_client, dataset):
    ConsensusFit.objects.create(
        dataset=dataset, status=ConsensusFit.Status.FAILED, error="no ratings", seconds=0.1
    )
    html = _html(_audit(auditor_client))
    assert "job-failed" in html and "no ratings" in html and "No consensus fit yet" in html


@pytest.mark.parametrize("slug", ["consensus-raters", "consensus-weights", "consensus-confusion"])
def test_each_table_downloads_as_csv(auditor_client, fit, slug):
    url = reverse("review:audit_table", args=[slug])
    response = auditor_client.get(url, {"dataset": "fitted", "format": "csv"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response.status_code == 200 and len(lines) > 2


def test_no_fit_no_tables(auditor_client, dataset):
    html = _html(_audit(auditor_client))
    assert SECTION in html and "No consensus fit has been asked for yet." in html
    url = reverse("review:audit_table", args=["consensus-raters"])
    assert auditor_client.get(url, {"dataset": "fitted"}).status_code == 404

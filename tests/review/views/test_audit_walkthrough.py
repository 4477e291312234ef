"""The audit of the demo as a new admin saw it: the plain records' model apart from the compared
ones, no blank heat maps or bar charts without saying why, one line for people's agreement when
no sample has two answers, and EmoViT filed as the classifier it is."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.urls import reverse

from annotator.models import Dataset
from annotator.services.demo import import_demo_dataset
from tests.factories_review import AnnotationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_audit_cache")]


@pytest.fixture
def demo() -> Dataset:
    import_demo_dataset()
    return Dataset.objects.get(name="demo")


def _plain(response) -> str:
    """The page's text without its tags."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _audit(client):
    response = client.get(reverse("review:audit"), {"dataset": "demo"})
    assert response.status_code == 200
    return response


def test_the_plain_records_model_is_listed_apart_and_its_pairs_draw_no_grid(auditor_client, demo):
    response = _audit(auditor_client)
    page, html = _plain(response), response.content.decode()
    assert "3 models compared" in page
    assert "1 with no sample in common (emoverse)" in page
    assert "models compared emovit, gemini-2.5-flash, gpt-4o" in page
    assert "models sharing no sample with another emoverse" in page
    assert "“emoverse” is the name an import gives" in page
    assert "No samples rated by both emoverse and emovit." in page
    assert 'aria-label="emoverse (rows) vs emovit (columns)"' not in html
    assert 'aria-label="emovit (rows) vs gpt-4o (columns)"' in html  # a pair that shares samples


def _kappa_of_the_rows(demo: Dataset, models: list[str]) -> tuple[int, float]:
    """(samples, Fleiss' kappa) of the models' proposals on the samples all of them labelled,
    read from the rows by hand (statsmodels computes the kappa)."""
    from collections import defaultdict

    import numpy as np
    from statsmodels.stats.inter_rater import fleiss_kappa

    from annotator.models import Proposal

    labels = list(demo.taxonomy.labels)
    by_sample: dict[int, dict[str, str]] = defaultdict(dict)
    for p in Proposal.objects.filter(sample__dataset=demo, model_name__in=models):
        by_sample[p.sample_id][p.model_name] = p.emotion
    table = np.zeros((0, len(labels)))
    for said in by_sample.values():
        if len(said) == len(models):
            row = np.zeros((1, len(labels)))
            for emotion in said.values():
                row[0, labels.index(emotion)] += 1
            table = np.vstack([table, row])
    return len(table), float(fleiss_kappa(table))


def test_fleiss_kappa_is_over_the_models_that_share_samples(auditor_client, demo):
    """emoverse labelled no sample the others did: it is left out of the kappa (which was '—',
    'samples every model labelled 0'), and the page says over how many samples the kappa is."""
    compared = ["emovit", "gemini-2.5-flash", "gpt-4o"]
    samples, kappa = _kappa_of_the_rows(demo, compared)
    assert samples >= 2
    page = _plain(_audit(auditor_client))
    assert "Fleiss' kappa: models emovit, gemini-2.5-flash, gpt-4o" in page
    assert f"Fleiss' kappa: samples all of them labelled {samples}" in page
    assert f"Fleiss' kappa {kappa:.3f}" in page
    assert (
        f"Fleiss' kappa is over the {samples} samples that emovit, gemini-2.5-flash and gpt-4o "
        "all labelled. emoverse left out: it labelled no sample the others did." in page
    )
    response = auditor_client.get(
        reverse("review:audit_table", args=["models"]), {"dataset": "demo", "format": "csv"}
    )
    text = b"".join(response.streaming_content).decode()
    rows = {row["figure"]: row["value"] for row in csv.DictReader(io.StringIO(text))}
    assert float(rows["Fleiss' kappa"]) == pytest.approx(kappa, abs=1e-9)
    assert int(rows["Fleiss' kappa: samples all of them labelled"]) == samples


def test_one_answer_per_sample_gives_one_line_not_rows_of_dashes(auditor_client, demo):
    assert "No samples rated by people yet." in _plain(_audit(auditor_client))
    for sample in demo.samples.order_by("pk")[:3]:
        AnnotationFactory.create(sample=sample, emotion="awe")  # three people, one sample each
    page = _plain(auditor_client.get(reverse("review:audit"), {"dataset": "demo", "fresh": "1"}))
    people = page.split("People: agreement over samples", 1)[1].split("People: each annotator")[0]
    assert "3 samples rated, none by two or more people: no agreement yet." in people
    assert "Krippendorff" not in people and "—" not in people
    chart = page.split("Agreement with the consensus, per annotator", 1)[1][:200]
    assert chart.startswith(" No sample has answers from two or more people yet")


def test_reliability_diagrams_without_final_labels_say_so_instead_of_empty_axes(
    auditor_client, demo
):
    response = _audit(auditor_client)
    assert 'aria-label="gpt-4o: no final labels yet"' not in response.content.decode()
    assert "gpt-4o: no final labels yet No sample has both this model's confidence" in _plain(
        response
    )


def test_a_classifier_without_a_distribution_is_rated_as_a_classifier(demo):
    """The demo's EmoViT labels carry no distribution: what files it as a classifier is that it
    never describes an image, as the consensus fit reads it (the audit shows the fit's kind)."""
    from review.services.latent_ratings import sample_ratings

    kinds = {
        r.name: r.kind
        for sample in demo.samples.all()
        for r in sample_ratings(sample=sample)
        if r.key.startswith("model:")
    }
    assert kinds["emovit"] == "classifier"
    assert kinds["gpt-4o"] == "model"

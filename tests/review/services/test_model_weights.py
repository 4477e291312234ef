"""Adopting a fit's learned model weights: the dataset's weights, the audit event, re-verify."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotator.models import Dataset, Sample
from review.models import AuditEvent
from review.models_consensus import ConsensusFit
from review.selectors.latent import learned_model_weights
from review.services.model_weights import ADOPT_WEIGHTS, adopt_learned_weights
from tests.factories import AdminFactory, DatasetFactory, ProposalFactory, SampleFactory
from tests.review.consensus_rows import finished_fit, rater
from tests.support.masks import inline_tasks  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

RATERS = {
    "model:gpt-4o": rater("model", "gpt-4o", 0.9),
    "model:qwen-vl": rater("model", "qwen-vl", 0.6),
    "critic:gpt-4o": rater("critic", "critic", 0.7),
}


@pytest.fixture
def dataset():
    return DatasetFactory.create(model_weights={"qwen-vl": 1.0, "llava": 0.5})


def test_the_learned_weights_replace_the_configured_ones_and_are_recorded(dataset):
    fit = finished_fit(dataset, RATERS)
    admin = AdminFactory.create()
    change = adopt_learned_weights(dataset=dataset, fit_id=fit.pk, actor=admin)
    learned = learned_model_weights(fit=fit)
    assert set(learned) == {"gpt-4o", "qwen-vl"} and learned["gpt-4o"] > learned["qwen-vl"]
    stored = Dataset.objects.get(pk=dataset.pk).model_weights
    assert stored == {"llava": 0.5, **learned}  # a model the fit did not rate keeps its weight
    assert [name for name, _old, _new in change.changed] == ["gpt-4o", "qwen-vl"]
    assert change.changed[0][1] == 1.0  # gpt-4o had no weight: it weighed 1
    event = AuditEvent.objects.get(action=ADOPT_WEIGHTS)
    assert event.actor == admin and event.sample is None
    assert event.before is not None and event.after is not None
    assert event.before["model_weights"] == {"qwen-vl": 1.0, "llava": 0.5}
    assert event.after["model_weights"] == stored and event.after["fit"] == fit.pk


@pytest.mark.parametrize("status", [ConsensusFit.Status.RUNNING, ConsensusFit.Status.FAILED])
def test_only_a_finished_fit_of_the_dataset_counts(dataset, status):
    unfinished = finished_fit(dataset, RATERS, status=status)
    elsewhere = finished_fit(DatasetFactory.create(), RATERS)
    for fit in (unfinished, elsewhere):
        with pytest.raises(ValidationError):
            adopt_learned_weights(dataset=dataset, fit_id=fit.pk, actor=None)
    assert Dataset.objects.get(pk=dataset.pk).model_weights == {"qwen-vl": 1.0, "llava": 0.5}
    assert not AuditEvent.objects.exists()


def test_a_fit_without_models_has_nothing_to_adopt(dataset):
    fit = finished_fit(dataset, {"critic:x": rater("critic", "critic", 0.7)})
    with pytest.raises(ValidationError, match="no model accuracies"):
        adopt_learned_weights(dataset=dataset, fit_id=fit.pk, actor=None)


@pytest.mark.usefixtures("inline_tasks")  # in-process, also where a broker is set
def test_reverify_runs_the_weighted_vote_again_with_the_new_weights(
    dataset, django_capture_on_commit_callbacks
):
    """Two models disagree: at equal weights the tie goes to the taxonomy's first label (awe);
    once gpt-4o weighs more, re-verification (in-process without a broker) suggests its fear."""
    dataset.model_weights = {}
    dataset.save()
    sample = SampleFactory.create(dataset=dataset, status=Sample.Status.DISPUTED)
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="fear")
    ProposalFactory.create(sample=sample, model_name="qwen-vl", emotion="awe")
    fit = finished_fit(dataset, RATERS)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        change = adopt_learned_weights(dataset=dataset, fit_id=fit.pk, actor=None, reverify=True)
    assert change.reverified == 1 and len(sent) == 1
    sample.refresh_from_db()
    assert (sample.status, sample.suggested_emotion) == (Sample.Status.DISPUTED, "fear")
    assert sample.vote_margin and sample.vote_margin > 0.2


def test_without_reverify_the_samples_are_left_as_they_are(
    dataset, django_capture_on_commit_callbacks
):
    sample = SampleFactory.create(dataset=dataset, suggested_emotion="awe")
    ProposalFactory.create(sample=sample, model_name="gpt-4o", emotion="fear")
    ProposalFactory.create(sample=sample, model_name="qwen-vl", emotion="awe")
    fit = finished_fit(dataset, RATERS)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        adopt_learned_weights(dataset=dataset, fit_id=fit.pk, actor=None)
    sample.refresh_from_db()
    assert sent == []
    assert sample.suggested_emotion == "awe"

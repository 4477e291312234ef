"""The consensus fit on the database: ratings collected, the job claimed once, posteriors
replaced, and the reads the pages use (review/selectors/latent.py)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from annotator.celery import app
from annotator.models import CriticVerdict
from review.models import Adjudication, Annotation, BlindAnswer
from review.models_consensus import ConsensusFit, SamplePosterior
from review.selectors.audit_latent import rater_reliability
from review.selectors.latent import (
    latest_fit,
    learned_model_weights,
    posteriors_for,
    rater_pulls,
    sample_posterior,
)
from review.services.latent_jobs import (
    claim_consensus_fit,
    request_consensus_fit,
    run_consensus_fit,
)
from review.services.latent_ratings import collect_ratings, sample_ratings
from review.services.latent_refit import refit_due, refit_stale_consensus
from tests.factories import (
    CriticVerdictFactory,
    DatasetFactory,
    ProposalFactory,
    SampleFactory,
    UserFactory,
)
from tests.factories_review import ConsensusFitFactory

pytestmark = pytest.mark.django_db

TRUTHS = ["awe", "fear", "amusement", "sadness", "awe", "fear", "contentment", "anger"]


@pytest.fixture
def rated():
    """8 samples: two VLMs (one wrong on odd samples), a classifier, the critic, two people."""
    dataset = DatasetFactory.create()
    ann, bob = UserFactory.create(username="ann"), UserFactory.create(username="bob")
    samples = []
    for i, truth in enumerate(TRUTHS):
        sample = SampleFactory.create(dataset=dataset)
        samples.append(sample)
        ProposalFactory.create(sample=sample, model_name="gpt", emotion=truth)
        ProposalFactory.create(sample=sample, model_name="gem", emotion="awe" if i % 2 else truth)
        ProposalFactory.create(
            sample=sample, model_name="emovit", emotion=truth.upper(), distribution={truth: 0.9}
        )
        CriticVerdictFactory.create(sample=sample, emotion="sadness", round=0)
        CriticVerdictFactory.create(sample=sample, emotion=truth, round=1)
        Annotation.objects.create(sample=sample, annotator=ann, emotion=truth)
        if i < 4:
            BlindAnswer.objects.create(sample=sample, annotator=bob, emotion="fear", confidence=5)
            Adjudication.objects.create(
                sample=sample, annotator=bob, emotion=truth, confidence=8, version=1
            )
    return dataset, samples, ann, bob


def test_ratings_one_per_rater_and_sample_latest_answer(rated):
    dataset, samples, ann, bob = rated
    Adjudication.objects.create(
        sample=samples[0], annotator=ann, emotion="bliss", confidence=8, version=2
    )
    Adjudication.objects.create(
        sample=samples[1], annotator=bob, emotion="anger", confidence=8, version=2, reverted=True
    )
    CriticVerdictFactory.create(
        sample=samples[2], model_name="person:carol", emotion="anger", round=2
    )
    ratings = collect_ratings(dataset=dataset)
    kinds = dict(zip(ratings.rater_keys, ratings.rater_kinds, strict=True))
    assert kinds == {
        "model:gpt": "model",
        "model:gem": "model",
        "model:emovit": "classifier",
        "critic:critic": "critic",
        f"person:{ann.pk}": "person",
        f"person:{bob.pk}": "person",
    }
    # 8 x (3 models + critic + ann) + bob on 4; ann's latest on sample 0 is "bliss": skipped.
    assert ratings.n_ratings == 8 * 5 + 4 - 1
    assert ratings.skipped_labels == {"bliss": 1}
    said = {r.key: r.said for r in sample_ratings(sample=samples[1])}
    # Bob's later adjudication "anger" is reverted: his answer is his adjudication v1 "fear".
    assert said[f"person:{bob.pk}"] == "fear"
    assert said["critic:critic"] == "fear"  # the latest round, not round 0's "sadness"
    assert said["model:emovit"] == "fear"  # "FEAR" in the taxonomy's spelling


def test_person_latest_answer_wins(rated):
    _, samples, _, bob = rated
    said = {r.key: r.said for r in sample_ratings(sample=samples[2])}
    assert said[f"person:{bob.pk}"] == "amusement"  # the adjudication after the blind "fear"


@pytest.fixture
def inline(settings):
    """Tasks run inline, as without a broker, even when the test run has one configured."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.task_always_eager = eager


def test_request_runs_in_process_and_writes_posteriors(
    rated, inline, django_capture_on_commit_callbacks
):
    dataset, samples, ann, _ = rated
    with django_capture_on_commit_callbacks(execute=True):
        fit = request_consensus_fit(dataset=dataset, requested_by=ann)
    fit.refresh_from_db()
    assert fit.status == ConsensusFit.Status.DONE, fit.error
    assert (fit.n_samples, fit.n_ratings, len(fit.raters)) == (8, 44, 6)
    assert fit.seconds is not None and fit.requested_by == ann
    assert latest_fit(dataset=dataset) == fit
    views = posteriors_for(sample_ids=[s.pk for s in samples])
    assert [views[s.pk].label for s in samples] == TRUTHS
    view = sample_posterior(sample=samples[1])
    assert view is not None and view.fit_id == fit.pk and view.labels == list(fit.labels)
    assert abs(sum(view.probs) - 1) < 1e-5 and len(view.probs) == 8
    assert view.top(2)[0] == ("fear", view.p_label) and view.n_ratings == 6
    assert 0 <= view.entropy <= 3 and 0 <= view.expected_change <= 1
    gem = fit.raters["model:gem"]
    assert gem["accuracy_low"] < gem["accuracy"] < fit.raters["model:gpt"]["accuracy"]
    rows = np.asarray(gem["confusion"]).sum(axis=1)  # truths nobody named: a row of 0s
    used = [fit.labels.index(label) for label in set(TRUTHS)]
    assert np.allclose(rows[used], 1, atol=1e-3) and rows.sum() == pytest.approx(len(used), 1e-3)


def test_rater_pulls_and_learned_weights(rated):
    dataset, samples, _, _ = rated
    fit = ConsensusFitFactory.create(dataset=dataset)
    assert run_consensus_fit(fit_id=fit.pk) == "done"
    fit.refresh_from_db()
    pulls = {pull.key: pull for pull in rater_pulls(sample=samples[1], fit=fit)}
    gem = pulls["model:gem"]
    assert (gem.kind, gem.name, gem.said) == ("model", "gem", "awe")
    # gem says "awe" for every odd sample: its "awe" pulls towards the truths seen there.
    assert gem.pull[0][0] in {"awe", "fear", "sadness", "anger"} and len(gem.pull) == 8
    assert abs(sum(w for _, w in gem.pull) - 1) < 1e-6
    top, share = pulls["model:gpt"].pull[0]  # gpt is always right: its "fear" means fear
    assert top == "fear" and share > 0.5 and pulls["model:gpt"].pull[1][1] < share / 4
    weights = learned_model_weights(fit=fit)
    assert set(weights) == {"gpt", "gem", "emovit"}
    assert sum(weights.values()) / 3 == pytest.approx(1.0, abs=1e-3)
    assert weights["gem"] < weights["gpt"]
    rows = rater_reliability(fit=fit)
    assert [row.kind for row in rows][-2:] == ["person", "person"] and rows[0].n == 8


def test_claim_is_once_and_a_lapsed_lease_is_taken_over(rated):
    dataset, _, _, _ = rated
    fit = ConsensusFitFactory.create(dataset=dataset)
    assert claim_consensus_fit(fit_id=fit.pk) is not None
    assert claim_consensus_fit(fit_id=fit.pk) is None  # a second delivery while it runs
    assert run_consensus_fit(fit_id=fit.pk) == "skipped"
    ConsensusFit.objects.filter(pk=fit.pk).update(lease_until=timezone.now() - timedelta(1))
    assert run_consensus_fit(fit_id=fit.pk) == "done"  # the dead worker's fit, fitted again
    assert run_consensus_fit(fit_id=fit.pk) == "skipped"  # done: a redelivery does nothing
    assert SamplePosterior.objects.filter(fit=fit).count() == 8


def test_a_new_fit_replaces_the_previous_rows(rated):
    dataset, samples, _, _ = rated
    first = ConsensusFitFactory.create(dataset=dataset)
    run_consensus_fit(fit_id=first.pk)
    Annotation.objects.filter(sample=samples[7]).delete()
    for model in ("gpt", "gem", "emovit"):
        samples[7].proposals.filter(model_name=model).delete()
    samples[7].verdicts.all().delete()
    second = ConsensusFitFactory.create(dataset=dataset)
    assert run_consensus_fit(fit_id=second.pk) == "done"
    rows = SamplePosterior.objects.filter(dataset=dataset)
    assert rows.count() == 7 and set(rows.values_list("fit_id", flat=True)) == {second.pk}
    assert sample_posterior(sample=samples[7]) is None  # no ratings left: no posterior
    assert latest_fit(dataset=dataset) == ConsensusFit.objects.get(pk=second.pk)


def test_unknown_method_fails_the_fit_with_its_reason(rated):
    dataset, _, _, _ = rated
    fit = ConsensusFitFactory.create(dataset=dataset, method="nope", labels=[])
    assert run_consensus_fit(fit_id=fit.pk) == "failed"
    fit.refresh_from_db()
    assert fit.status == ConsensusFit.Status.FAILED and "nope" in fit.error
    with pytest.raises(ValueError, match="method"):
        request_consensus_fit(dataset=dataset, method="nope")


def test_refit_is_due_after_new_answers_and_the_interval(rated, settings):
    dataset, samples, _, _ = rated
    settings.CONSENSUS_REFIT_MINUTES = 10
    now = timezone.now()
    assert not refit_due(dataset=dataset, now=now)  # never fitted, review order by id
    dataset.review_order = "entropy"
    assert refit_due(dataset=dataset, now=now)
    fit = ConsensusFitFactory.create(dataset=dataset)
    assert not refit_due(dataset=dataset, now=now)  # one is waiting
    run_consensus_fit(fit_id=fit.pk)
    later = now + timedelta(minutes=11)
    assert not refit_due(dataset=dataset, now=later)  # nobody answered since
    Annotation.objects.filter(sample=samples[0]).update(created_at=later)
    assert not refit_due(dataset=dataset, now=now + timedelta(minutes=5))  # too soon
    assert refit_due(dataset=dataset, now=later)


def test_fit_consensus_command_prints_the_summary(rated):
    dataset, _, _, _ = rated
    out = StringIO()
    call_command("fit_consensus", "--dataset", dataset.name, stdout=out)
    text = out.getvalue()
    assert f"of {dataset.name} (Dawid-Skene): 8 samples, 44 ratings, 6 raters" in text
    assert "gpt" in text and "classifier" in text and "person" in text
    assert CriticVerdict.objects.count() == 16  # the command reads, it writes only the fit


def test_beat_refits_where_due_and_resends_a_lost_fit(
    rated, inline, django_capture_on_commit_callbacks
):
    dataset, _, _, _ = rated
    dataset.review_order = "entropy"
    dataset.save(update_fields=["review_order"])
    with django_capture_on_commit_callbacks(execute=True):
        assert refit_stale_consensus() == 1  # inline: fitted at once
    fit = ConsensusFit.objects.get(dataset=dataset)
    assert fit.status == ConsensusFit.Status.DONE
    assert refit_stale_consensus() == 0  # just fitted, nobody answered since
    lost = ConsensusFitFactory.create(dataset=dataset)
    ConsensusFit.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert refit_stale_consensus() == 0  # the lost one is sent again instead of a new one
    lost.refresh_from_db()
    assert lost.status == ConsensusFit.Status.DONE

from __future__ import annotations

import pytest

from annotator.importers.verify import verify_samples
from annotator.models import Dataset, Sample, Taxonomy
from annotator.services.verification import verify_sample
from annotator.taxonomy import MIKELS_8
from tests.factories import (
    CriticVerdictFactory,
    ProposalFactory,
    SampleFactory,
)

pytestmark = pytest.mark.django_db

FIELDS = ("status", "suggested_emotion", "vote_margin", "dispute_reasons")


def build_cases(dataset):
    """Samples covering every rule; returns them in a fixed order."""
    plain = SampleFactory(dataset=dataset, status="pending")
    agreed = agreed_sample(dataset)
    weighted = SampleFactory(dataset=dataset, status="agreed")
    ProposalFactory(sample=weighted, model_name="gpt", emotion="fear")
    ProposalFactory(sample=weighted, model_name="b", emotion="awe")
    ProposalFactory(sample=weighted, model_name="c", emotion="awe")
    dropped = SampleFactory(dataset=dataset, status="pending")
    ProposalFactory(sample=dropped, model_name="a", emotion="awe")
    CriticVerdictFactory(sample=dropped, verdict="preserve", emotion="awe")
    CriticVerdictFactory(sample=dropped, verdict="drop")  # the later verdict counts
    preserved = SampleFactory(dataset=dataset, status="pending")
    ProposalFactory(sample=preserved, model_name="a", emotion="awe")
    ProposalFactory(sample=preserved, model_name="b", emotion="sadness")
    CriticVerdictFactory(sample=preserved, verdict="preserve", emotion="sadness")
    adjudicated = SampleFactory(dataset=dataset, status="adjudicated")
    ProposalFactory(sample=adjudicated, model_name="a", emotion="awe")
    CriticVerdictFactory(sample=adjudicated, verdict="drop")
    return [plain, agreed, weighted, dropped, preserved, adjudicated]


def agreed_sample(dataset):
    sample = SampleFactory(dataset=dataset, status="pending")
    ProposalFactory(sample=sample, model_name="a", emotion="awe")
    ProposalFactory(sample=sample, model_name="b", emotion="awe")
    return sample


def snapshot(samples):
    return [tuple(getattr(Sample.objects.get(pk=s.pk), f) for f in FIELDS) for s in samples]


def test_batch_verification_gives_the_same_answers_as_verify_sample(django_assert_num_queries):
    dataset = Dataset.objects.create(
        name="weighted", taxonomy=Taxonomy.objects.get(name=MIKELS_8), model_weights={"gpt": 3.0}
    )
    samples = build_cases(dataset)
    alike = [agreed_sample(dataset) for _ in range(5)]
    # proposals, verdicts, then one UPDATE per distinct outcome (the 5 alike share "agreed")
    with django_assert_num_queries(2 + 6):
        statuses = verify_samples(
            dataset=dataset, statuses={s.pk: s.status for s in [*samples, *alike]}
        )
    batch = snapshot(samples)
    assert [row[0] for row in batch] == [
        "pending",
        "agreed",
        "disputed",
        "dropped",
        "disputed",
        "adjudicated",
    ]
    assert statuses == {
        **{s.pk: row[0] for s, row in zip(samples, batch, strict=True)},
        **{s.pk: "agreed" for s in alike},
    }
    assert snapshot(alike) == [batch[1]] * 5

    Sample.objects.update(status="pending", suggested_emotion="", vote_margin=None)
    Sample.objects.filter(pk=samples[-1].pk).update(status="adjudicated")
    for stored in Sample.objects.filter(pk__in=[s.pk for s in samples]):
        verify_sample(sample=stored)
    assert snapshot(samples) == batch

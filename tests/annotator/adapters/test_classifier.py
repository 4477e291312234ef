from __future__ import annotations

import math
from typing import cast

import pytest

from annotator.adapters.classifier import (
    ImportedPredictionsClassifier,
    get_classifier,
    normalise_distribution,
    register_classifier,
    top_label,
)
from annotator.models import Sample
from annotator.pipeline.errors import PipelineConfigError
from annotator.taxonomy import MIKELS_8_LABELS as LABELS
from tests.factories import ProposalFactory, SampleFactory


def make_sample() -> Sample:
    return cast(Sample, SampleFactory())


def test_normalise_distribution_spells_labels_and_sums_to_one():
    found = normalise_distribution({"AWE": 3, "fear": 1, "joy": 5, "sadness": -1}, labels=LABELS)
    assert found == {"awe": 0.75, "fear": 0.25}
    assert normalise_distribution({"awe": 0.0}, labels=LABELS) is None
    assert normalise_distribution({"awe": math.nan, "fear": True}, labels=LABELS) is None
    assert normalise_distribution(["awe"], labels=LABELS) is None


def test_top_label_breaks_ties_in_taxonomy_order():
    assert top_label({"fear": 0.4, "awe": 0.4, "anger": 0.2}, labels=LABELS) == "awe"
    assert top_label({}, labels=LABELS) is None


@pytest.mark.django_db
def test_imported_predictions_come_from_the_classifier_row():
    sample = make_sample()
    ProposalFactory(sample=sample, model_name="gpt4o", emotion="awe")
    ProposalFactory(
        sample=sample, model_name="emovit", emotion="fear", distribution={"fear": 6, "awe": 2}
    )
    predicted = ImportedPredictionsClassifier().predict(sample_id=sample.pk)
    assert predicted == {"fear": 0.75, "awe": 0.25}


@pytest.mark.django_db
def test_imported_predictions_fall_back_to_a_distribution_in_the_raw_record():
    sample = make_sample()
    ProposalFactory(sample=sample, model_name="emovit", raw={"distribution": {"Sadness": 1}})
    assert get_classifier("import").predict(sample_id=sample.pk) == {"sadness": 1.0}


@pytest.mark.django_db
def test_no_predictions_or_another_model_gives_none():
    sample = make_sample()
    ProposalFactory(sample=sample, model_name="gpt4o")
    assert ImportedPredictionsClassifier().predict(sample_id=sample.pk) is None
    ProposalFactory(sample=sample, model_name="emovit", distribution={"awe": 1})
    only = ImportedPredictionsClassifier(model_name="other-classifier")
    assert only.predict(sample_id=sample.pk) is None
    assert ImportedPredictionsClassifier().predict(sample_id=sample.pk + 999) is None


def test_classifier_registry():
    class Uniform:
        name = "uniform"

        def predict(self, *, sample_id: int) -> dict[str, float] | None:
            return {label: 1 / len(LABELS) for label in LABELS}

    register_classifier("uniform", Uniform)
    assert get_classifier("uniform").name == "uniform"
    with pytest.raises(PipelineConfigError, match="unknown classifier 'emovit'"):
        get_classifier("emovit")

"""A taxonomy keeps the labels people used: review registers their answers with annotator's
labels_in_use (annotator never imports review)."""

from __future__ import annotations

import pytest

from annotator.services.taxonomies import TaxonomySpec, labels_in_use, save_taxonomy
from tests.factories import AdjudicationFactory, DatasetFactory, SampleFactory
from tests.factories_review import AnnotationFactory, BinaryVoteFactory

pytestmark = pytest.mark.django_db


def test_labels_only_people_gave_count_as_in_use():
    taxonomy = save_taxonomy(
        name="tiny", spec=TaxonomySpec(labels=["calm", "tense", "odd", "new", "spare"])
    )
    dataset = DatasetFactory(taxonomy=taxonomy)
    sample = SampleFactory(dataset=dataset, suggested_emotion="")
    AnnotationFactory(sample=sample, emotion="tense")
    BinaryVoteFactory(sample=sample, emotion="odd")
    AdjudicationFactory(sample=sample, emotion="new")

    assert labels_in_use(taxonomy=taxonomy) == {"tense", "odd", "new"}
    with pytest.raises(ValueError, match="in use cannot be removed: new, odd, tense"):
        save_taxonomy(name="tiny", spec=TaxonomySpec(labels=["calm"]))

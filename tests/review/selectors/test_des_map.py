"""The queue's `?selection=` filter: the samples a map selection holds, or None."""

from __future__ import annotations

import pytest

from annotator.models import Sample
from review.models_desmap import MapSelection, MapSelectionSample
from review.selectors.des_map import selection_filter
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db


def _selection(token: str, samples: list[Sample]) -> MapSelection:
    sel = MapSelection.objects.create(
        token=token, dataset=samples[0].dataset, n_samples=len(samples)
    )
    MapSelectionSample.objects.bulk_create(
        MapSelectionSample(selection=sel, sample=s) for s in samples
    )
    return sel


def test_selection_filter_keeps_exactly_the_selected_samples() -> None:
    dataset = DatasetFactory.create()
    samples = SampleFactory.create_batch(5, dataset=dataset)
    _selection("abc", samples[1:4])
    q = selection_filter(selection="abc", dataset_id=dataset.pk)
    assert q is not None
    picked = Sample.objects.filter(q).order_by("id").values_list("id", flat=True)
    assert list(picked) == [s.pk for s in samples[1:4]]


def test_unknown_token_or_other_dataset_gives_none() -> None:
    dataset, other = DatasetFactory.create(), DatasetFactory.create()
    _selection("abc", SampleFactory.create_batch(2, dataset=dataset))
    assert selection_filter(selection="nope", dataset_id=dataset.pk) is None
    assert selection_filter(selection="abc", dataset_id=other.pk) is None
    assert selection_filter(selection="", dataset_id=dataset.pk) is None


def test_an_empty_selection_filters_to_nothing() -> None:
    dataset = DatasetFactory.create()
    SampleFactory.create_batch(3, dataset=dataset)
    MapSelection.objects.create(token="empty", dataset=dataset, n_samples=0)
    q = selection_filter(selection="empty", dataset_id=dataset.pk)
    assert q is not None and not Sample.objects.filter(q).exists()

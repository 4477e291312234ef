"""The one dataset lookup: by name, by id, by either; the 404 views and the API share; the
--dataset option the commands of both apps share."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.http import Http404

from annotator.management.options import dataset_option
from annotator.selectors.datasets import (
    MAX_ID,
    dataset_by_id,
    dataset_by_name,
    dataset_by_ref,
    dataset_names,
    dataset_or_404,
    first_dataset,
)
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


def test_by_name_and_by_id_bring_the_taxonomy(django_assert_num_queries):
    made = DatasetFactory.create(name="emo")
    with django_assert_num_queries(1):
        found = dataset_by_name(name="emo")
        assert found == made and found.taxonomy.labels
    with django_assert_num_queries(1):
        assert dataset_by_id(dataset_id=made.pk) == made
    assert dataset_by_name(name="nope") is None and dataset_by_id(dataset_id=made.pk + 1) is None


def test_an_id_no_row_can_have_is_none_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert dataset_by_id(dataset_id=MAX_ID + 1) is None
        assert dataset_by_id(dataset_id=0) is None


def test_a_reference_is_an_id_else_a_name():
    first = DatasetFactory.create(name="alpha")
    digits = DatasetFactory.create(name=str(first.pk + 1000))
    assert dataset_by_ref(ref=str(first.pk)) == first
    assert dataset_by_ref(ref="alpha") == first
    assert dataset_by_ref(ref=digits.name) == digits  # no dataset has that id: by name
    assert dataset_by_ref(ref="9" * 30) is None and dataset_by_ref(ref="") is None


def test_names_and_the_first_one_in_name_order():
    assert first_dataset() is None and dataset_names() == []
    DatasetFactory.create(name="zeta")
    alpha = DatasetFactory.create(name="alpha")
    assert dataset_names() == ["alpha", "zeta"] and first_dataset() == alpha


def test_the_404_takes_a_name_an_id_or_a_reference():
    made = DatasetFactory.create(name="emo")
    assert dataset_or_404(name="emo") == made
    assert dataset_or_404(dataset_id=made.pk) == made
    assert dataset_or_404(ref=str(made.pk)) == made
    for kwargs in ({"name": "nope"}, {"dataset_id": made.pk + 1}, {"ref": "nope"}, {}):
        with pytest.raises(Http404):
            dataset_or_404(**kwargs)


def test_the_command_option_names_the_known_datasets():
    made = DatasetFactory.create(name="emo")
    assert dataset_option("emo") == made
    with pytest.raises(CommandError, match=r"^--dataset: no dataset named 'nope' \(known: emo\)$"):
        dataset_option("nope")

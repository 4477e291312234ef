"""Answers on different samples of one dataset do not wait for each other (PostgreSQL: a
FOR UPDATE over the sample's join with its dataset and taxonomy locked those rows too)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from review.services.consensus import lock_sample_for_answers
from tests.factories import DatasetFactory, SampleFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_locking_one_sample_leaves_the_other_samples_of_its_dataset_free():
    dataset = DatasetFactory.create()
    first, second = SampleFactory.create_batch(2, dataset=dataset)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                lock_sample_for_answers(pk=first.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(10)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            assert lock_sample_for_answers(pk=second.pk).pk == second.pk  # no lock timeout
    finally:
        release.set()
        thread.join(10)

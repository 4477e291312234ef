"""The queue's `?selection=` filter (the samples a map selection holds, or None), and whether the
drawn map is stale (des_cache_key under the database's DES change mark)."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from annotator.models import Dataset, Sample
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
from review.selectors.des_map import DES_PROBE, des_cache_key, des_map_state, selection_filter
from review.services.des_map import compute_des_map
from review.services.des_map_changes import (
    COMPACT_ABOVE,
    TABLE,
    compact,
    des_generation,
    install,
)
from tests.annotator.importers.helpers import import_lines, record
from tests.factories import DatasetFactory, SampleFactory
from tests.factories_review import DesMapFactory

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


def _drawn_map(vectors: np.ndarray) -> tuple[list[Sample], DesMap]:
    dataset = DatasetFactory.create()
    samples = [SampleFactory.create(dataset=dataset, des=v.tobytes()) for v in vectors]
    des_map = DesMapFactory.create(dataset=dataset)
    assert compute_des_map(map_id=des_map.pk) == "done"
    return samples, des_map


def _stale(des_map: DesMap) -> bool:
    return des_map_state(dataset_id=des_map.dataset_id, method=des_map.method).stale


def test_a_vector_rewritten_in_the_middle_of_the_id_order_marks_the_map_stale() -> None:
    """Far from both ends (DES_PROBE vectors each), same length: only its content differs."""
    vectors = np.random.default_rng(5).normal(size=(3 * DES_PROBE + 8, 16)).astype("<f4")
    samples, des_map = _drawn_map(vectors)
    assert not _stale(des_map)
    middle = samples[len(samples) // 2]
    # As the import writes it: the vector and updated_at (the same length, the same ids).
    middle.des = (vectors[0] + 1).tobytes()
    middle.save(update_fields=["des", "updated_at"])
    assert _stale(des_map)
    middle.des = vectors[len(samples) // 2].tobytes()  # the drawn bytes again
    middle.save(update_fields=["des", "updated_at"])
    assert not _stale(des_map)


def test_a_raw_rewrite_of_one_middle_vector_is_seen_at_once() -> None:
    """Not through save(), updated_at left as it was: the trigger's mark moves all the same."""
    vectors = np.random.default_rng(7).normal(size=(3 * DES_PROBE + 8, 16)).astype("<f4")
    samples, des_map = _drawn_map(vectors)
    assert not _stale(des_map)
    middle = samples[len(samples) // 2]
    Sample.objects.filter(pk=middle.pk).update(des=(vectors[0] + 1).tobytes())
    assert _stale(des_map)


def test_while_nothing_changes_the_key_is_one_small_read(django_assert_num_queries) -> None:
    vectors = np.random.default_rng(9).normal(size=(12, 16)).astype("<f4")
    samples, des_map = _drawn_map(vectors)
    key = des_cache_key(dataset_id=des_map.dataset_id)
    des_map.refresh_from_db()
    assert key == des_map.cache_key
    with django_assert_num_queries(1):  # the mark; the key comes from the cache
        assert des_cache_key(dataset_id=des_map.dataset_id) == key
    samples[0].status = Sample.Status.ADJUDICATED  # a review: the mark stays
    samples[0].save(update_fields=["status", "updated_at"])
    with django_assert_num_queries(1):
        assert des_cache_key(dataset_id=des_map.dataset_id) == key


def test_without_the_triggers_the_key_is_read_from_the_vectors_and_install_restores_them():
    """A SQLite migration that rebuilds annotator_sample drops its triggers."""
    vectors = np.random.default_rng(4).normal(size=(3 * DES_PROBE + 8, 16)).astype("<f4")
    samples, des_map = _drawn_map(vectors)
    assert not _stale(des_map)
    drop = {"sqlite": "DROP TRIGGER deschange_update"}.get(
        connection.vendor, "DROP TRIGGER deschange_write ON annotator_sample"
    )
    with connection.cursor() as cursor:
        cursor.execute(drop)
    assert des_generation(dataset_id=des_map.dataset_id) is None
    middle = samples[len(samples) // 2]
    Sample.objects.filter(pk=middle.pk).update(des=(vectors[0] + 1).tobytes())  # unmarked
    assert _stale(des_map)  # read from the vectors, not the cache
    install()  # moves every mark: the write made meanwhile is not hidden by the cached key
    assert des_generation(dataset_id=des_map.dataset_id) is not None
    assert _stale(des_map)
    Sample.objects.filter(pk=middle.pk).update(des=vectors[len(samples) // 2].tobytes())
    assert not _stale(des_map)


def test_the_mark_moves_for_des_writes_only() -> None:
    dataset, other = DatasetFactory.create(), DatasetFactory.create()
    sample = SampleFactory.create(dataset=dataset, des=b"\0" * 64)

    def mark() -> str | None:
        return des_generation(dataset_id=dataset.pk)

    before = mark()
    sample.status = Sample.Status.AGREED
    sample.save()  # every column written, the same DES bytes among them
    if connection.vendor == "sqlite":  # PostgreSQL marks every statement that sets des
        assert mark() == before
    before = mark()
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.DISPUTED)
    assert mark() == before
    for write in (
        lambda: Sample.objects.filter(pk=sample.pk).update(des=b"\1" * 64),
        lambda: SampleFactory.create(dataset=dataset, des=b"\2" * 64),
        lambda: Sample.objects.filter(pk=sample.pk).update(dataset=other),
        lambda: Sample.objects.filter(des=b"\2" * 64).delete(),
    ):
        before = mark()
        write()
        assert mark() != before


def test_reviews_and_a_same_bytes_reimport_leave_the_map_current() -> None:
    vectors = np.random.default_rng(6).normal(size=(12, 16)).astype("<f4")
    samples, des_map = _drawn_map(vectors)
    for sample in samples[3:9]:
        sample.status = Sample.Status.ADJUDICATED
        sample.des = bytes(sample.des or b"")  # written again, unchanged
        sample.save()
    assert not _stale(des_map)


def test_a_reimport_that_changes_one_middle_vector_marks_the_map_stale(tmp_path, images_root):
    """Through the import, the one writer of DES: its upsert moves updated_at with the vector."""
    rng = np.random.default_rng(8)
    vectors = [
        [round(float(v), 4) for v in rng.normal(size=1024)] for _ in range(2 * DES_PROBE + 4)
    ]
    lines = [record(f"s{i:03}", "a.jpg", DES=vector) for i, vector in enumerate(vectors)]
    import_lines(tmp_path, images_root, *lines)
    des_map = DesMapFactory.create(dataset=Dataset.objects.get(name="emo"))
    assert compute_des_map(map_id=des_map.pk) == "done"
    import_lines(tmp_path, images_root, *lines)  # the same file again
    assert not _stale(des_map)
    middle = len(lines) // 2
    lines[middle] = record(f"s{middle:03}", "a.jpg", DES=vectors[0])
    import_lines(tmp_path, images_root, *lines)
    assert _stale(des_map)


@pytest.mark.postgres
def test_postgres_change_rows_fold_into_one_and_the_key_stays() -> None:
    samples, des_map = _drawn_map(np.random.default_rng(2).normal(size=(8, 16)).astype("<f4"))
    with connection.cursor() as cursor:
        for sample in samples[: COMPACT_ABOVE + 1]:  # one statement each: one row each
            cursor.execute("UPDATE annotator_sample SET des = des WHERE id = %s", [sample.pk])
        cursor.executemany(
            f"INSERT INTO {TABLE} (dataset_id, n) VALUES (0, 1)", [()] * COMPACT_ABOVE
        )
        cursor.execute(f"SELECT COUNT(*), SUM(n) FROM {TABLE}")
        rows, total = cursor.fetchone()
    assert rows > COMPACT_ABOVE
    compact()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), SUM(n) FROM {TABLE}")
        assert cursor.fetchone() == (1, total)
    assert not _stale(des_map)

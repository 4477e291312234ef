"""The DES map job: PCA equal to numpy's on the same vectors, claims, storage, requests."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from annotator.models import Sample
from review import tasks
from review.models_desmap import DesMap
from review.services import des_map_projection
from review.services.des_map import claim_des_map, compute_des_map, request_des_map
from review.services.des_map_store import unpack_points
from tests.factories import DatasetFactory, SampleFactory
from tests.factories_review import DesMapFactory

pytestmark = pytest.mark.django_db


def _samples_with_des(dataset, vectors: np.ndarray) -> list[Sample]:
    return [SampleFactory.create(dataset=dataset, des=v.astype("<f4").tobytes()) for v in vectors]


def _numpy_pca(vectors: np.ndarray) -> np.ndarray:
    x = vectors.astype(np.float64)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def _vectors(n: int, d: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Anisotropic, with a large offset: the shifted sums must not lose the small spread.
    scales = np.linspace(3.0, 0.1, d)
    return (rng.normal(size=(n, d)) * scales + 50.0).astype(np.float32)


def test_pca_coordinates_equal_numpy_up_to_sign(monkeypatch) -> None:
    monkeypatch.setattr(des_map_projection, "CHUNK", 7)  # many chunks, a ragged last one
    dataset = DatasetFactory.create()
    vectors = _vectors(40, 16)
    samples = _samples_with_des(dataset, vectors)
    SampleFactory.create(dataset=dataset, des=None)  # no DES: not on the map
    des_map = DesMapFactory.create(dataset=dataset)
    assert compute_des_map(map_id=des_map.pk) == "done"
    des_map.refresh_from_db()
    points = unpack_points(des_map.points)
    assert des_map.n_points == 40 and points.ids.tolist() == [s.pk for s in samples]
    expected = _numpy_pca(vectors)
    got = np.stack([points.x, points.y], axis=1).astype(np.float64)
    signs = np.sign((got * expected).sum(axis=0))
    np.testing.assert_allclose(got, expected * signs, rtol=1e-4, atol=1e-4)
    assert des_map.explained[0] > des_map.explained[1] > 0
    assert des_map.cache_key.startswith("40:")


def test_unusable_des_are_left_out_and_too_few_fail() -> None:
    dataset = DatasetFactory.create()
    good = _samples_with_des(dataset, _vectors(5, 8))
    SampleFactory.create(dataset=dataset, des=b"\x00" * 12)  # another length
    SampleFactory.create(dataset=dataset, des=np.full(8, np.nan, "<f4").tobytes())
    des_map = DesMapFactory.create(dataset=dataset)
    compute_des_map(map_id=des_map.pk)
    des_map.refresh_from_db()
    assert unpack_points(des_map.points).ids.tolist() == [s.pk for s in good]
    empty = DesMapFactory.create(dataset=DatasetFactory.create())
    assert compute_des_map(map_id=empty.pk) == "failed"
    empty.refresh_from_db()
    assert "fewer than two samples" in empty.error


def test_a_live_claim_makes_a_second_delivery_a_no_op() -> None:
    dataset = DatasetFactory.create()
    _samples_with_des(dataset, _vectors(4, 4))
    des_map = DesMapFactory.create(dataset=dataset)
    assert claim_des_map(map_id=des_map.pk) is not None
    assert compute_des_map(map_id=des_map.pk) == "skipped"  # held by a live lease
    DesMap.objects.filter(pk=des_map.pk).update(lease_until=timezone.now())
    # lapsed: taken over, here through the Celery task's own body (JSON: the id only)
    assert tasks.compute_des_map.apply(args=(des_map.pk,)).get() == "done"
    assert compute_des_map(map_id=des_map.pk) == "skipped"  # done: nothing to do


def test_request_computes_once_and_returns_the_waiting_map(
    django_capture_on_commit_callbacks, settings
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no broker, as the PostgreSQL leg has one
    dataset = DatasetFactory.create()
    _samples_with_des(dataset, _vectors(6, 4))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        first = request_des_map(dataset=dataset, method="pca")
        again = request_des_map(dataset=dataset, method="pca")
    assert first.pk == again.pk and len(sent) == 1
    with django_capture_on_commit_callbacks(execute=True):
        request_des_map(dataset=dataset, method="pca")
    first.refresh_from_db()
    assert first.status == DesMap.Status.PENDING  # not lapsed: not sent again
    sent[0]()  # the broker-less send: computed inline inside the test's transaction
    first.refresh_from_db()
    assert first.status == DesMap.Status.DONE and first.n_points == 6


@pytest.mark.slow  # numba compiles UMAP's kernels on first use (tens of seconds)
def test_umap_map_places_every_sample_and_keeps_clusters_apart() -> None:
    pytest.importorskip("umap")
    dataset = DatasetFactory.create()
    rng = np.random.default_rng(2)
    centres = np.array([[0.0] * 16, [12.0] * 16])
    vectors = np.concatenate([rng.normal(size=(30, 16)) + c for c in centres]).astype(np.float32)
    samples = _samples_with_des(dataset, vectors)
    des_map = DesMapFactory.create(dataset=dataset, method=DesMap.Method.UMAP)
    assert compute_des_map(map_id=des_map.pk) == "done"
    des_map.refresh_from_db()
    points = unpack_points(des_map.points)
    assert points.ids.tolist() == [s.pk for s in samples]
    xy = np.stack([points.x, points.y], axis=1)
    a, b = xy[:30], xy[30:]
    between = np.linalg.norm(a.mean(axis=0) - b.mean(axis=0))
    within = max(
        np.linalg.norm(a - a.mean(axis=0), axis=1).mean(),
        np.linalg.norm(b - b.mean(axis=0), axis=1).mean(),
    )
    assert between > 2 * within

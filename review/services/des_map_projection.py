"""Projecting a dataset's DES vectors to 2-D: PCA with numpy (default), UMAP as an extra.

PCA is computed in two streamed passes over the samples, CHUNK at a time, so memory stays flat
whatever the dataset's size (219K x 1024 float32 would be 900 MB at once): the first pass sums
the vectors and their outer products (a 1024 x 1024 float64 matrix), shifted by the first
chunk's mean so the sums lose no precision; eigh of the covariance gives the axes; the second
pass projects. Each chunk's product is float32 (twice as fast as float64, and the shifted
values are small), added into float64 sums.

UMAP (`pip install -c constraints.txt -e ".[map]"`) needs every vector at once: the same
streamed PCA first takes them to UMAP_INPUT_DIMS dimensions (44 MB at 219K), then umap-learn
lays those out. Its module is imported only when a UMAP map is computed; the page asks
umap_installed, which finds the module without importing it (numba's start-up takes seconds).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annotator.models import Sample
from review.services.des_map_store import MapPoints

logger = logging.getLogger(__name__)

CHUNK = 2048  # samples a query reads (8 MB of DES)
UMAP_INPUT_DIMS = 50
UMAP_MISSING = 'UMAP needs the map extra: pip install -c constraints.txt -e ".[map]"'

Chunk = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]
ChunkSource = Callable[[], Iterator[Chunk]]


class DesMapError(Exception):
    """No map can be drawn (no sample with a usable DES, or UMAP without its extra)."""


def umap_installed() -> bool:
    """Whether umap-learn is there to import (found, not imported: see the module docstring)."""
    return importlib.util.find_spec("umap") is not None


@dataclass(frozen=True)
class Axes:
    mean: npt.NDArray[np.float64]
    components: npt.NDArray[np.float64]  # d x k, unit columns, largest variance first
    explained: list[float]  # share of the total variance per component


def des_chunks(*, dataset_id: int, chunk: int = CHUNK) -> Iterator[Chunk]:
    """The dataset's DES vectors in id order, `chunk` samples a query (keyset pages). A DES
    whose length differs from the first one read, or that holds NaN or inf, is left out."""
    dims, last = 0, 0
    samples = Sample.objects.filter(dataset_id=dataset_id, des__isnull=False).order_by("id")
    while True:
        rows = list(samples.filter(id__gt=last).values_list("id", "des")[:chunk])
        if not rows:
            return
        last = rows[-1][0]
        blobs = [(pk, bytes(des or b"")) for pk, des in rows]
        dims = dims or len(blobs[0][1]) // 4
        kept = [(pk, des) for pk, des in blobs if dims and len(des) == 4 * dims]
        if not kept:
            continue
        ids = np.fromiter((pk for pk, _ in kept), dtype=np.int32, count=len(kept))
        vectors = np.frombuffer(b"".join(d for _, d in kept), dtype="<f4").reshape(-1, dims)
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            ids, vectors = ids[finite], vectors[finite]
        yield ids, vectors.astype(np.float32, copy=False)


def fit_axes(chunks: Iterator[Chunk], *, k: int) -> Axes:
    """The k principal axes of all the chunks' vectors (one pass, see the module docstring)."""
    n, shift, s1, s2 = 0, None, None, None
    for _, x in chunks:
        if shift is None:
            shift = x.mean(axis=0, dtype=np.float64).astype(np.float32)
            s1 = np.zeros(x.shape[1], dtype=np.float64)
            s2 = np.zeros((x.shape[1], x.shape[1]), dtype=np.float64)
        centred = x - shift
        s1 += centred.sum(axis=0, dtype=np.float64)
        s2 += centred.T @ centred
        n += x.shape[0]
    if shift is None or s1 is None or s2 is None or n < 2:
        raise DesMapError("fewer than two samples with a DES: no map to draw")
    cov = (s2 - np.outer(s1, s1) / n) / (n - 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:k]
    components = vectors[:, order]
    # One sign per axis, whatever LAPACK returned: the largest loading is positive.
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])])
    components = components * np.where(signs == 0, 1.0, signs)
    total = float(values.clip(min=0).sum()) or 1.0
    explained = [float(max(v, 0.0)) / total for v in values[order]]
    return Axes(shift + s1 / n, components, explained)


def project(chunks: Iterator[Chunk], axes: Axes) -> tuple[npt.NDArray[np.int32], npt.NDArray]:
    """Every chunk's vectors on the axes: (ids, n x k float32)."""
    ids, coords = [], []
    mean = axes.mean.astype(np.float32)
    comps = axes.components.astype(np.float32)
    for chunk_ids, x in chunks:
        ids.append(chunk_ids)
        coords.append((x - mean) @ comps)
    if not ids:
        raise DesMapError("no sample with a DES: no map to draw")
    return np.concatenate(ids), np.concatenate(coords).astype(np.float32)


def pca_points(source: ChunkSource) -> tuple[MapPoints, list[float]]:
    """The 2-D PCA map of the vectors `source()` yields (called twice: two passes)."""
    axes = fit_axes(source(), k=2)
    ids, coords = project(source(), axes)
    return MapPoints(ids=ids, x=coords[:, 0].copy(), y=coords[:, 1].copy()), axes.explained


def umap_points(source: ChunkSource, *, seed: int = 0) -> tuple[MapPoints, list[float]]:
    """The UMAP map of the vectors, laid out from their first UMAP_INPUT_DIMS PCA axes."""
    try:
        import umap  # the optional [map] extra
    except ImportError as exc:
        raise DesMapError(UMAP_MISSING) from exc
    axes = fit_axes(source(), k=UMAP_INPUT_DIMS)
    ids, reduced = project(source(), axes)
    if ids.shape[0] < 4:
        raise DesMapError("UMAP needs at least four samples with a DES")
    neighbours = min(15, ids.shape[0] - 1)
    layout = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed)
    coords = np.asarray(layout.fit_transform(reduced), dtype=np.float32)
    return MapPoints(ids=ids, x=coords[:, 0].copy(), y=coords[:, 1].copy()), []

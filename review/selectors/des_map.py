"""Reads for the DES map: the queue's selection filter, the map to show, the DES cache key."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Length

from annotator.models import Sample
from review.models import Adjudication
from review.models_consensus import SamplePosterior
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
from review.services.des_map_changes import des_generation


def selection_filter(*, selection: str, dataset_id: int) -> Q | None:
    """The samples a map selection holds, as a filter on Sample; None for an unknown token (or
    one of another dataset). A subquery, not an id list: a selection may hold 219K samples."""
    found = MapSelection.objects.filter(token=selection, dataset_id=dataset_id)
    pk = found.values_list("pk", flat=True).first() if selection else None
    if pk is None:
        return None
    # An empty selection (a box around no point) filters to nothing, not to everything.
    rows = MapSelectionSample.objects.filter(selection_id=pk)
    return Q(id__in=Subquery(rows.values("sample_id")))


DES_PROBE = 16  # whole vectors hashed at each end of the id order
DES_HEAD = 64  # bytes hashed of every vector (its first 16 floats)
HEAD_ROWS = 10000  # heads fetched at a time
KEY_SECONDS = 3600  # a key kept under its DES change mark (the bound, were a write unmarked)


def des_cache_key(*, dataset_id: int) -> str:
    """What the drawn map was computed from, compared by the page: "<n>:<digest>" over the count,
    the sum of ids and of vector lengths of the samples with a DES, the first and last DES_PROBE
    vectors, and the first DES_HEAD bytes of every vector, so adding, removing or re-importing
    a vector anywhere in the id order moves it; people's reviews (labels, not DES) do not. An
    edit that keeps a vector's first 16 floats goes unseen away from the ends (a new embedding
    changes them all). Reading the vectors costs about 0.8 s at 219K (SQLite), so the key is
    kept under the dataset's DES change mark, which the database moves on every DES write
    (review.services.des_map_changes): one small row read while nothing changed."""
    mark = des_generation(dataset_id=dataset_id)
    if mark is None:  # the triggers are missing: nothing would say the vectors changed
        return _key_from_vectors(dataset_id=dataset_id)
    name = f"des-key:{dataset_id}:{mark}"
    key = cache.get(name)
    if key is None:
        key = _key_from_vectors(dataset_id=dataset_id)
        # Kept only if no DES write committed while the vectors were read (each statement of a
        # READ COMMITTED transaction sees the latest commits): the key is the mark's.
        if des_generation(dataset_id=dataset_id) == mark:
            cache.set(name, key, KEY_SECONDS)
    return cast(str, key)


def _key_from_vectors(*, dataset_id: int) -> str:
    with_des = Sample.objects.filter(dataset_id=dataset_id, des__isnull=False)
    agg = with_des.aggregate(n=Count("id"), ids=Sum("id"), size=Sum(Length("des")))
    digest = hashlib.blake2b(f"{agg['ids']}:{agg['size']}".encode(), digest_size=12)
    for probe in (with_des.order_by("id"), with_des.order_by("-id")):
        for pk, des in _rows(probe.values_list("id", "des")[:DES_PROBE]):
            digest.update(f"{pk}:".encode() + bytes(des))
    digest.update(_heads_digest(dataset_id=dataset_id))
    return f"{agg['n']}:{digest.hexdigest()}"


def _heads_digest(*, dataset_id: int) -> bytes:
    """Each vector's id and first DES_HEAD bytes, in id order: a slice of every vector rather
    than all of it (on PostgreSQL, one TOAST chunk of each)."""
    digest = hashlib.blake2b(digest_size=12)
    sql = (
        f"SELECT id, substr(des, 1, %s) FROM {Sample._meta.db_table} "
        "WHERE dataset_id = %s AND des IS NOT NULL ORDER BY id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [DES_HEAD, dataset_id])
        while rows := cursor.fetchmany(HEAD_ROWS):
            digest.update(b"".join(pk.to_bytes(8, "little") + bytes(head) for pk, head in rows))
    return digest.digest()


def count_from_cache_key(key: str) -> int:
    head, _, _ = key.partition(":")
    return int(head) if head.isdigit() else 0


def point_names(*, dataset_id: int, ids: npt.NDArray[np.int32]) -> list[str]:
    """Each point's sample's external id, in the points' order ("" for a sample since gone)."""
    samples = Sample.objects.filter(dataset_id=dataset_id).values_list("id", "external_id")
    found = dict(_rows(samples))
    return [found.get(pk, "") for pk in ids.tolist()]


# Colouring: one uint8 code a point, in the map's id order, and the legend that names them.
COLOUR_BY = {
    "emotion": "Final emotion",
    "status": "Status",
    "entropy": "Posterior entropy",
    "source": "Source",
}
MAX_CATEGORIES = 15  # palette classes des-c1..des-c15 (static/review/des_map.css)
MAX_CODES = 254  # uint8 codes: 0 none, 1..254 a label's position, 255 other
OTHER_CSS = "des-c16"
ENTROPY_BINS = 8  # des-s1..des-s8, a sequential palette
NONE_CODE = 0  # grey: no final label, no posterior, hidden
COLOURING_SECONDS = 30


@dataclass(frozen=True)
class LegendEntry:
    code: int
    label: str
    count: int
    css: str  # the swatch's class; the page reads its colour from the stylesheet


@dataclass(frozen=True)
class Colouring:
    by: str
    codes: npt.NDArray[np.uint8]
    legend: list[LegendEntry]


def map_colouring(
    *, des_map: DesMap, by: str, ids: npt.NDArray[np.int32], hidden: set[int]
) -> Colouring:
    """Codes for the points `ids` (the map's, ascending) coloured `by` one of COLOUR_BY.
    `hidden`: samples the viewer answers blind, whose label and entropy stay grey."""
    values = _point_values(dataset_id=des_map.dataset_id, by=by, ids=ids)
    if by == "entropy":
        return _entropy_colouring(des_map=des_map, values=values, ids=ids, hidden=hidden)
    if by == "emotion" and hidden:
        values = _without(values, ids=ids, hidden=hidden)
    return _category_colouring(by=by, values=values, order=_category_order(des_map, by))


def cached_map_colouring(
    *, des_map: DesMap, by: str, ids: npt.NDArray[np.int32], hidden: set[int]
) -> Colouring:
    """map_colouring, kept COLOURING_SECONDS: the page asks for the legend and then the codes of
    the same colouring (0.4 s of CPU each at 219K), and people's decisions may lag that long."""
    hidden_key = hashlib.blake2b(repr(sorted(hidden)).encode(), digest_size=8).hexdigest()
    key = f"des-map-colouring:{des_map.pk}:{by}:{hidden_key}"
    colouring = cache.get(key)
    if colouring is None:
        colouring = map_colouring(des_map=des_map, by=by, ids=ids, hidden=hidden)
        cache.set(key, colouring, COLOURING_SECONDS)
    return cast(Colouring, colouring)


def _point_values(*, dataset_id: int, by: str, ids: npt.NDArray[np.int32]) -> list[Any]:
    """Each point's value (None where it has none)."""
    field = {"status": "status", "source": "source"}.get(by)
    if field:
        samples = Sample.objects.filter(dataset_id=dataset_id).values_list("id", field)
        found = dict(_rows(samples))
    elif by == "emotion":
        found = _final_emotions(dataset_id=dataset_id)
    elif by == "entropy":
        posteriors = SamplePosterior.objects.filter(dataset_id=dataset_id)
        found = dict(_rows(posteriors.values_list("sample_id", "entropy")))
    else:
        raise ValueError(f"colour by one of {', '.join(COLOUR_BY)}")
    return [found.get(pk) for pk in ids.tolist()]


def _rows(query: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The query's rows as the driver returns them: the ORM's per-row conversion cost half of
    the 0.45 s of CPU a 219K colouring took."""
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _final_emotions(*, dataset_id: int) -> dict[int, str]:
    """The final label as exports give it: an adjudicated sample's current version, an agreed
    sample's shared emotion; nothing for the others."""
    samples = Sample.objects.filter(dataset_id=dataset_id)
    agreed = samples.filter(status=Sample.Status.AGREED).exclude(suggested_emotion="")
    found = dict(_rows(agreed.values_list("id", "suggested_emotion")))
    versions = Adjudication.objects.filter(
        sample__dataset_id=dataset_id, sample__status=Sample.Status.ADJUDICATED, reverted=False
    ).order_by("sample_id", "version")
    # Ascending versions: the last one written per sample is its current label.
    found.update(_rows(versions.values_list("sample_id", "emotion")))
    return found


def _without(values: list[Any], *, ids: npt.NDArray[np.int32], hidden: set[int]) -> list[Any]:
    return [None if pk in hidden else v for pk, v in zip(ids.tolist(), values, strict=True)]


def _category_order(des_map: DesMap, by: str) -> list[str]:
    if by == "emotion":
        return list(des_map.dataset.taxonomy.labels)
    if by == "status":
        return list(Sample.Status.values)
    return []  # sources: by count


def _category_colouring(*, by: str, values: list[Any], order: list[str]) -> Colouring:
    """A value of `order` (the taxonomy's labels, the statuses) has its position's code and
    colour, whatever the data holds, so a label never changes colour when others come or go;
    values outside it are "other". Without an order (sources) the most common take codes."""
    counts = Counter(v for v in values if v)
    if order:
        code_of = {label: i + 1 for i, label in enumerate(order[:MAX_CODES])}
    else:
        code_of = {x: i + 1 for i, (x, _) in enumerate(counts.most_common(MAX_CATEGORIES))}
    other = len(code_of) + 1 if counts.keys() - code_of.keys() else 0
    codes = np.fromiter(
        (code_of.get(v, other) if v else NONE_CODE for v in values), np.uint8, len(values)
    )
    tally = np.bincount(codes, minlength=len(code_of) + 2)
    legend = [
        LegendEntry(code, x, int(tally[code]), _swatch(code))
        for x, code in code_of.items()
        if tally[code]
    ]
    if other:
        legend.append(LegendEntry(other, "other", int(tally[other]), OTHER_CSS))
    none_label = {"emotion": "no final label", "source": "no source"}.get(by, "none")
    legend.append(LegendEntry(NONE_CODE, none_label, int(tally[NONE_CODE]), "des-c0"))
    return Colouring(by=by, codes=codes, legend=legend)


def _swatch(code: int) -> str:
    """The palette class of a code; past MAX_CATEGORIES labels (a 40-label taxonomy) the
    palette starts again, the legend and the hover still naming each label."""
    return f"des-c{(code - 1) % MAX_CATEGORIES + 1}"


def _entropy_colouring(
    *, des_map: DesMap, values: list[Any], ids: npt.NDArray[np.int32], hidden: set[int]
) -> Colouring:
    """ENTROPY_BINS equal bins over 0..log2(taxonomy size) bits, most certain first."""
    if hidden:
        values = _without(values, ids=ids, hidden=hidden)
    top = math.log2(max(len(des_map.dataset.taxonomy.labels), 2))
    bits = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    known = ~np.isnan(bits)
    bins = np.floor(np.clip(bits[known] / top, 0, 1) * ENTROPY_BINS).clip(max=ENTROPY_BINS - 1)
    codes = np.zeros(len(values), dtype=np.uint8)
    codes[known] = bins.astype(np.uint8) + 1
    tally = np.bincount(codes, minlength=ENTROPY_BINS + 1)
    step = top / ENTROPY_BINS
    legend = [
        LegendEntry(
            b + 1,
            f"{b * step:.2f} to {(b + 1) * step:.2f} bits",
            int(tally[b + 1]),
            f"des-s{b + 1}",
        )
        for b in range(ENTROPY_BINS)
    ]
    legend.append(LegendEntry(NONE_CODE, "no posterior", int(tally[NONE_CODE]), "des-c0"))
    return Colouring(by="entropy", codes=codes, legend=legend)


@dataclass(frozen=True)
class MapState:
    done: DesMap | None  # the newest finished map, drawn
    waiting: DesMap | None  # one pending or running
    failed: DesMap | None  # the newest attempt, when it failed after the drawn one
    current_key: str
    with_des: int  # samples with a DES now

    @property
    def stale(self) -> bool:
        """The DES vectors were added, removed or rewritten since the drawn map (des_cache_key:
        people's reviews alone leave it as it was)."""
        return self.done is not None and self.done.cache_key != self.current_key


def des_map_state(*, dataset_id: int, method: str) -> MapState:
    maps = DesMap.objects.filter(dataset_id=dataset_id, method=method).defer("points")
    # Without the points (MiBs at 219K): the page reads them once, for the map it draws.
    done = maps.filter(status=DesMap.Status.DONE).order_by("-created_at", "-id").first()
    waiting = maps.filter(status__in=[DesMap.Status.PENDING, DesMap.Status.RUNNING]).first()
    newest = maps.order_by("-id").first()
    failed = newest if newest and newest.status == DesMap.Status.FAILED else None
    key = des_cache_key(dataset_id=dataset_id)
    return MapState(done, waiting, failed, key, count_from_cache_key(key))

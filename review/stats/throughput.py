"""Annotator throughput: items per hour of active work, the median time per item, and how
many different items (samples) each person worked on."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from review.stats._coding import FloatArray, IntArray, factorize


class AnnotatorThroughput(TypedDict):
    items: int  # decisions made
    timed_items: int  # decisions whose time is known
    active_hours: float  # sum of the known times
    items_per_hour: float | None  # timed_items / active_hours
    median_seconds_per_item: float | None


def group_order(groups: IntArray, key: FloatArray) -> IntArray:
    """Indices that sort by group code, then by key.

    A stable sort by group keeps the key order; on 16-bit codes numpy's stable sort is a radix
    sort, several times faster than np.lexsort.
    """
    by_key = np.argsort(key)
    small = groups[by_key]
    if small.size and small.max() < 1 << 16:
        small = small.astype(np.uint16)
    return by_key[np.argsort(small, kind="stable")]


def item_seconds(
    annotator_codes: IntArray, decided_at_s: FloatArray, time_spent_s: FloatArray, idle_gap_s: float
) -> FloatArray:
    """Seconds spent on each decision, NaN where unknown (input already sorted by annotator, time).

    The browser's recorded time wins; without one (<= 0 or NaN) the time since the same
    annotator's previous decision stands in, unless that gap exceeds `idle_gap_s` (a break).
    """
    gap = np.full(decided_at_s.shape, np.nan)
    same = annotator_codes[1:] == annotator_codes[:-1]
    gap[1:] = np.where(same, np.diff(decided_at_s), np.nan)
    gap[gap > idle_gap_s] = np.nan
    recorded = np.nan_to_num(time_spent_s, nan=0.0) > 0
    return np.where(recorded, time_spent_s, gap)


def group_medians(groups: IntArray, values: FloatArray, n_groups: int) -> FloatArray:
    """Median of `values` (NaN skipped) per group code, NaN for a group without a value."""
    known = ~np.isnan(values)
    g, v = groups[known], values[known]
    order = group_order(g, v)
    v = v[order]
    size = np.bincount(g, minlength=n_groups)
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    medians = np.full(n_groups, np.nan)
    has = size > 0
    low = start[has] + (size[has] - 1) // 2
    high = start[has] + size[has] // 2
    medians[has] = (v[low] + v[high]) / 2
    return medians


def throughput(
    annotators: npt.ArrayLike,
    decided_at_s: npt.ArrayLike,
    time_spent_s: npt.ArrayLike,
    *,
    idle_gap_s: float = 600.0,
) -> dict[Hashable, AnnotatorThroughput]:
    """Per annotator, from one row per decision: who, when (epoch seconds), time spent (s)."""
    keys, codes = factorize(annotators)
    when = np.asarray(decided_at_s, dtype=np.float64).reshape(-1)
    spent = np.asarray(time_spent_s, dtype=np.float64).reshape(-1)
    if not codes.shape == when.shape == spent.shape:
        raise ValueError("annotators, decided_at_s and time_spent_s differ in length")
    order = group_order(codes, when)
    codes = codes[order]
    seconds = item_seconds(codes, when[order], spent[order], idle_gap_s)
    n = len(keys)
    items = np.bincount(codes, minlength=n)
    timed = ~np.isnan(seconds)
    timed_items = np.bincount(codes[timed], minlength=n)
    active_s = np.bincount(codes[timed], weights=seconds[timed], minlength=n)
    medians = group_medians(codes, seconds, n)
    return {
        key: AnnotatorThroughput(
            items=int(items[i]),
            timed_items=int(timed_items[i]),
            active_hours=float(active_s[i] / 3600),
            items_per_hour=float(timed_items[i] * 3600 / active_s[i]) if active_s[i] > 0 else None,
            median_seconds_per_item=None if np.isnan(medians[i]) else float(medians[i]),
        )
        for i, key in enumerate(keys.tolist())
    }


def distinct_items(annotators: npt.ArrayLike, items: npt.ArrayLike) -> dict[Hashable, int]:
    """Per annotator, how many different items (samples) their rows name: what a list of the
    items they worked on shows, where `throughput`'s `items` counts every row (a revision too)."""
    keys, codes = factorize(annotators)
    item_codes = factorize(items)[1]
    if codes.shape != item_codes.shape:
        raise ValueError("annotators and items differ in length")
    width = int(item_codes.max(initial=0)) + 1
    pairs = np.unique(codes * width + item_codes)  # one entry per (annotator, item)
    per_key = np.bincount(pairs // width, minlength=len(keys))
    return {key: int(per_key[i]) for i, key in enumerate(keys.tolist())}

"""The dashboard's JSON figures for people and for models, each in one vectorised pass."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from review.stats._coding import IntArray, as_codes, as_ratings, unit_values
from review.stats.agreement import (
    category_counts,
    fleiss_from_unit_values,
    fleiss_kappa,
    kappa_from_confusion,
    pairwise_from_unit_values,
    unanimous_from_unit_values,
)
from review.stats.alpha import Level, alpha_from_coincidences, coincidences
from review.stats.confusion import confusion_matrix


class AlphaByLevel(TypedDict):
    nominal: float | None
    ordinal: float | None
    interval: float | None
    ratio: float | None


class HumanSummary(TypedDict):
    items: int  # units with at least one rating
    pairs: int  # pairs of ratings within a unit
    pairwise_agreement: float | None
    unanimous_share: float | None  # over units with two or more ratings
    krippendorff_alpha: AlphaByLevel
    fleiss_kappa: float | None  # only when every item has the same number (>= 2) of ratings


class ModelPair(TypedDict):
    a: str
    b: str
    n: int  # units both models labelled
    agreement: float | None
    cohen_kappa: float | None
    confusion: list[list[int]]  # rows: a's label, columns: b's label


class ModelSummary(TypedDict):
    models: list[str]
    items: int  # units with at least one model label
    pairwise_agreement: float | None
    unanimous_share: float | None  # units with 2+ labels on which all labels agree
    pairs: list[ModelPair]
    fleiss_models: list[str]  # the most models that labelled some units in common (2+)
    fleiss_items: int  # units all of fleiss_models labelled
    fleiss_kappa: float | None  # over those units and models
    krippendorff_alpha: AlphaByLevel  # nominal only; the other levels are None


def human_summary(ratings: npt.ArrayLike, *, numeric: bool) -> HumanSummary:
    """People's agreement on a units x annotators matrix (NaN or negative = missing).

    Set `numeric` when values are numbers (e.g. confidence), not category codes: only then are
    the ordinal, interval and ratio alphas computed.
    """
    uv = unit_values(as_ratings(ratings))
    agreement, pairs = pairwise_from_unit_values(uv)
    unanimous, _ = unanimous_from_unit_values(uv)
    o = coincidences(uv)

    def alpha(level: Level) -> float | None:
        if not numeric and level != "nominal":
            return None
        return alpha_from_coincidences(o, uv.values, level=level)

    return HumanSummary(
        items=int((uv.per_unit > 0).sum()),
        pairs=pairs,
        pairwise_agreement=agreement,
        unanimous_share=unanimous,
        krippendorff_alpha=AlphaByLevel(
            nominal=alpha("nominal"),
            ordinal=alpha("ordinal"),
            interval=alpha("interval"),
            ratio=alpha("ratio"),
        ),
        fleiss_kappa=fleiss_from_unit_values(uv),
    )


def _model_pair(
    a: str, b: str, codes_a: npt.NDArray[np.int64], codes_b: npt.NDArray[np.int64], k: int
) -> ModelPair:
    confusion = confusion_matrix(codes_a, codes_b, n_categories=k)
    n = int(confusion.sum())
    return ModelPair(
        a=a,
        b=b,
        n=n,
        agreement=float(np.trace(confusion)) / n if n else None,
        cohen_kappa=kappa_from_confusion(confusion),
        confusion=confusion.tolist(),
    )


def fleiss_columns(labelled: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The raters (columns) Fleiss' kappa is over: the most raters that rated some unit in common
    (two or more), then the set with the most such units, then the earlier raters.

    A model that labelled no unit another did (plain EmoVerse records) would otherwise leave no
    unit every model labelled, and no kappa at all. Such a set is a row pattern of `labelled`.
    """
    chosen = np.zeros(labelled.shape[1], dtype=bool)
    if not labelled.size:
        return chosen
    patterns, units = _row_patterns(labelled)
    sizes, rows = patterns.sum(axis=1).tolist(), map(tuple, patterns.tolist())
    best = max(zip(sizes, units.tolist(), rows, strict=True))
    if best[0] >= 2:
        chosen[:] = best[2]
    return chosen


def _row_patterns(labelled: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """(distinct rows, how many units have each): rows as bit masks while they fit an int64
    (np.unique over rows sorts them as records: 0.7 s at 220K units)."""
    raters = labelled.shape[1]
    if raters > 62:
        rows, counts = np.unique(labelled, axis=0, return_counts=True)
        return rows, counts.astype(np.int64)
    bits = np.left_shift(np.int64(1), np.arange(raters, dtype=np.int64))
    masks, counts = np.unique(labelled.astype(np.int64) @ bits, return_counts=True)
    return (masks[:, None] & bits) != 0, counts.astype(np.int64)


def model_summary(
    labels_by_model: Mapping[str, npt.ArrayLike], *, n_categories: int
) -> ModelSummary:
    """Agreement among models' category codes, one array per model aligned on the same units."""
    names = list(labels_by_model)
    codes = [
        as_codes(labels_by_model[name], n_categories=n_categories, name=name).reshape(-1)
        for name in names
    ]
    if len({c.shape for c in codes}) > 1:
        raise ValueError("every model's labels must cover the same units")
    matrix = np.stack(codes, axis=1) if codes else np.zeros((0, 0), dtype=np.int64)
    uv = unit_values(as_ratings(matrix))
    agreement, _ = pairwise_from_unit_values(uv)
    unanimous, _ = unanimous_from_unit_values(uv)
    columns = fleiss_columns(matrix >= 0)
    complete = (matrix[:, columns] >= 0).all(axis=1) & columns.any()
    rated = matrix[np.ix_(complete, columns)]
    return ModelSummary(
        models=names,
        items=int((uv.per_unit > 0).sum()),
        pairwise_agreement=agreement,
        unanimous_share=unanimous,
        pairs=[
            _model_pair(names[i], names[j], codes[i], codes[j], n_categories)
            for i, j in combinations(range(len(names)), 2)
        ],
        fleiss_models=[name for name, used in zip(names, columns.tolist(), strict=True) if used],
        fleiss_items=int(complete.sum()),
        fleiss_kappa=fleiss_kappa(category_counts(rated, n_categories=n_categories)),
        krippendorff_alpha=AlphaByLevel(
            nominal=alpha_from_coincidences(coincidences(uv), uv.values, level="nominal"),
            ordinal=None,
            interval=None,
            ratio=None,
        ),
    )

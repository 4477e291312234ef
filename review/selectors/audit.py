"""The audit: every dashboard figure for a dataset (and source / date filters), cached.

`audit_figures` is what the dashboard, the API and `manage.py agreement --json` show: a
JSON-ready dict (see `compute_audit_figures`). Loading 219K samples x 3 models from the
database costs more than the statistics (docs/performance.md, "Agreement"), so the figures are
kept in Django's cache and the arrays (AuditData, reused by drill-downs) in process memory, both
under the filters and a fingerprint of the tables they read (row counts and highest ids, one
query): any new or deleted row changes the key. In-place edits that add no row (a re-imported
proposal) show once AUDIT_CACHE_SECONDS (default 600) have passed.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from typing import Any, cast

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from annotator.models import CriticVerdict, Dataset, Proposal, Sample
from review.models import Adjudication, Annotation, AuditEvent, BinaryVote
from review.selectors.audit_data import AuditData, AuditFilters, load_audit_data
from review.selectors.audit_models import (
    calibration_figures,
    critic_overturns,
    dispute_figures,
    final_agreement,
    model_figures,
)
from review.selectors.audit_people import (
    annotator_figures,
    binary_emotion_figures,
    human_figures,
    throughput_figures,
)

__all__ = [
    "AuditData",
    "AuditFilters",
    "audit_data",
    "audit_figures",
    "audit_fingerprint",
    "clear_audit_cache",
    "compute_audit_figures",
    "dataset_sources",
]

CACHE_VERSION = 1
DATA_ENTRIES = 4  # AuditData kept per process (most recently used dataset/filter choices)
_DATA: OrderedDict[str, tuple[float, AuditData]] = OrderedDict()
_DATA_LOCK = threading.Lock()
_FINGERPRINTED = (Sample, Proposal, CriticVerdict, Annotation, BinaryVote, Adjudication, AuditEvent)


def audit_fingerprint() -> str:
    """Row count and highest id of every table the audit reads, in one query.

    New, deleted and re-imported rows change it (imports and undo write rows or audit events).
    """
    parts = []
    for model in _FINGERPRINTED:
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(f"(SELECT COUNT(*) FROM {table})")
        parts.append(f"(SELECT MAX(id) FROM {table})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        row = cursor.fetchone()
    return ".".join(str(value or 0) for value in row or ())


def _cache_key(kind: str, filters: AuditFilters, fingerprint: str) -> str:
    raw = f"{CACHE_VERSION}:{kind}:{filters.cache_part()}:{fingerprint}"
    return "audit:" + hashlib.sha256(raw.encode()).hexdigest()


def _timeout() -> int:
    return int(getattr(settings, "AUDIT_CACHE_SECONDS", 600))


def audit_data(*, filters: AuditFilters, fingerprint: str | None = None) -> AuditData:
    """The arrays behind the figures (read-only), from this process's memory or the database.

    They stay in process memory, not in Django's cache: at 219K samples they weigh ~25 MB, and
    pickling that on every drill-down would cost more than the drill-down.
    """
    key = _cache_key("data", filters, fingerprint or audit_fingerprint())
    now = time.monotonic()
    with _DATA_LOCK:
        entry = _DATA.get(key)
        if entry is not None and now - entry[0] < _timeout():
            _DATA.move_to_end(key)
            return entry[1]
    data = load_audit_data(filters=filters)
    with _DATA_LOCK:
        _DATA[key] = (now, data)
        while len(_DATA) > DATA_ENTRIES:
            _DATA.popitem(last=False)
    return data


def clear_audit_cache() -> None:
    """Forget the arrays held in memory and every cached figure (tests; after a bulk fix)."""
    with _DATA_LOCK:
        _DATA.clear()
    cache.clear()


def audit_figures(*, filters: AuditFilters) -> dict[str, Any]:
    """Every figure of the dashboard, from the cache or computed (and then cached)."""
    fingerprint = audit_fingerprint()
    key = _cache_key("figures", filters, fingerprint)
    figures = cache.get(key)
    if figures is None:
        data = audit_data(filters=filters, fingerprint=fingerprint)
        figures = compute_audit_figures(data=data, filters=filters)
        cache.set(key, figures, _timeout())
    return figures


def dataset_sources(*, dataset: Dataset, fingerprint: str | None = None) -> list[str]:
    """The dataset's sample sources, for the filter (a DISTINCT over every sample, cached)."""
    key = _cache_key("sources", AuditFilters(dataset=dataset), fingerprint or audit_fingerprint())
    sources = cache.get(key)
    if sources is None:
        values = Sample.objects.filter(dataset=dataset).values_list("source", flat=True)
        sources = sorted(s for s in values.order_by().distinct() if s)
        cache.set(key, sources, _timeout())
    return sources


def compute_audit_figures(*, data: AuditData, filters: AuditFilters) -> dict[str, Any]:
    """All figures from the arrays; None (JSON null) wherever a figure does not apply."""
    dataset = filters.dataset
    figures = {
        "dataset": dataset.name,
        "taxonomy": dataset.taxonomy.name,
        "labels": data.labels,
        "binary": data.binary,
        "numeric": data.numeric,
        "filters": {
            "source": filters.source or None,
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
        },
        "samples": data.n_samples,
        "sources": data.sources,
        "models": model_figures(data),
        "disputes": dispute_figures(data),
        **human_figures(data),
        "annotators": annotator_figures(data),
        "binary_by_emotion": binary_emotion_figures(data),
        "models_vs_final": final_agreement(data),
        "critic_overturns": critic_overturns(data),
        "calibration": calibration_figures(data),
        "throughput": throughput_figures(data),
    }
    return cast(dict[str, Any], jsonable(figures))


def jsonable(value: Any) -> Any:
    """Plain JSON types all the way down: numpy numbers become Python ones, NaN becomes None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

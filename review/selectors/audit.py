"""The audit: every dashboard figure for a dataset (and source / date filters), cached.

`audit_figures` is what the dashboard, the API and `manage.py agreement --json` show: a
JSON-ready dict (see `compute_audit_figures`). Loading 219K samples x 3 models from the
database costs more than the statistics (docs/performance.md, "Agreement"), so the figures are
kept in Django's cache and the arrays (AuditData, reused by drill-downs) in process memory, both
under the filters, with the fingerprint of the tables they were made from (highest ids and
row counts, one query): work made from other data is recomputed, after a grace period of
AUDIT_STALE_SECONDS (default 60) while people keep annotating. In-place edits that add no row
(a re-imported proposal, on SQLite) show once AUDIT_CACHE_SECONDS (default 600) have passed.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
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
    model_groups,
)
from review.selectors.audit_people import (
    annotator_figures,
    binary_emotion_figures,
    human_figures,
    throughput_figures,
)
from review.selectors.audit_protocol import binary_protocol_figures

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

CACHE_VERSION = 3  # 2: model_groups; 3: fleiss_models
DATA_ENTRIES = 4  # AuditData kept per process (most recently used dataset/filter choices)
_DATA: OrderedDict[str, AuditData] = OrderedDict()
_DATA_LOCK = threading.Lock()
_FINGERPRINTED = (Sample, Proposal, CriticVerdict, Annotation, BinaryVote, Adjudication, AuditEvent)


def audit_fingerprint() -> str:
    """A string that changes whenever a table the audit reads gains, loses or changes rows.

    Highest ids (new rows; an index lookup each) plus, on SQLite, row counts (deletes; SQLite
    counts a table in milliseconds) or, on PostgreSQL, whose COUNT(*) scans the table, its
    statistics counters of updated and deleted rows (they also catch in-place updates, about a
    second after the commit). Imports and undo also write audit events.
    """
    tables = [connection.ops.quote_name(model._meta.db_table) for model in _FINGERPRINTED]
    parts = [f"(SELECT MAX(id) FROM {table})" for table in tables]
    params: list[str] = []
    if connection.vendor == "postgresql":
        names = [model._meta.db_table for model in _FINGERPRINTED]
        marks = ", ".join(["%s"] * len(names))
        parts.append(
            "(SELECT COALESCE(SUM(n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables "
            f"WHERE relname IN ({marks}))"
        )
        params = names
    else:
        parts += [f"(SELECT COUNT(*) FROM {table})" for table in tables]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return ".".join(str(value or 0) for value in row or ())


def _cache_key(kind: str, filters: AuditFilters, fingerprint: str = "") -> str:
    raw = f"{CACHE_VERSION}:{kind}:{filters.cache_part()}:{fingerprint}"
    return "audit:" + hashlib.sha256(raw.encode()).hexdigest()


def _timeout() -> int:
    return settings.AUDIT_CACHE_SECONDS


def _usable(*, made_from: str, made_at: float, fingerprint: str, fresh: bool) -> bool:
    """Whether cached work may be served: made from the current data, or (unless `fresh` is
    asked for) younger than AUDIT_STALE_SECONDS. While people annotate, every decision changes
    the fingerprint; the grace period bounds recomputing to once per period per filter set."""
    age = time.time() - made_at
    if age >= _timeout():
        return False
    if made_from == fingerprint:
        return True
    return not fresh and age < settings.AUDIT_STALE_SECONDS


def audit_data(
    *, filters: AuditFilters, fingerprint: str | None = None, fresh: bool = False
) -> AuditData:
    """The arrays behind the figures (read-only), from this process's memory or the database.

    They stay in process memory, not in Django's cache: at 219K samples they weigh ~33 MB, and
    pickling that on every drill-down would cost more than the drill-down.
    """
    fingerprint = fingerprint or audit_fingerprint()
    key = _cache_key("data", filters)
    with _DATA_LOCK:
        data = _DATA.get(key)
        if data is not None and _usable(
            made_from=data.fingerprint, made_at=data.loaded_at, fingerprint=fingerprint, fresh=fresh
        ):
            _DATA.move_to_end(key)
            return data
    data = load_audit_data(filters=filters)
    data.fingerprint, data.loaded_at = fingerprint, time.time()
    with _DATA_LOCK:
        _DATA[key] = data
        _DATA.move_to_end(key)
        while len(_DATA) > DATA_ENTRIES:
            _DATA.popitem(last=False)
    return data


def clear_audit_cache() -> None:
    """Forget the arrays held in memory and every cached figure (tests; after a bulk fix)."""
    with _DATA_LOCK:
        _DATA.clear()
    cache.clear()


def audit_figures(
    *, filters: AuditFilters, fingerprint: str | None = None, fresh: bool = False
) -> dict[str, Any]:
    """Every figure of the dashboard, from the cache or computed (and then cached).

    `computed_at` (ISO time) says which data the figures describe; `fresh` refuses figures
    made from older data.
    """
    fingerprint = fingerprint or audit_fingerprint()
    key = _cache_key("figures", filters)
    entry = cache.get(key)
    if entry is not None and _usable(
        made_from=entry["fingerprint"], made_at=entry["at"], fingerprint=fingerprint, fresh=fresh
    ):
        return cast(dict[str, Any], entry["figures"])
    data = audit_data(filters=filters, fingerprint=fingerprint, fresh=fresh)
    figures = compute_audit_figures(data=data, filters=filters)
    entry = {"fingerprint": data.fingerprint, "at": data.loaded_at, "figures": figures}
    cache.set(key, entry, _timeout())
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
        "computed_at": _iso(data.loaded_at),
        "samples": data.n_samples,
        "sources": data.sources,
        "models": model_figures(data),
        "model_groups": model_groups(data),
        "disputes": dispute_figures(data),
        **human_figures(data),
        "annotators": annotator_figures(data),
        "binary_by_emotion": binary_emotion_figures(data),
        "binary_protocol": binary_protocol_figures(data),
        "models_vs_final": final_agreement(data),
        "critic_overturns": critic_overturns(data),
        "calibration": calibration_figures(data),
        "throughput": throughput_figures(data),
    }
    return cast(dict[str, Any], jsonable(figures))


def _iso(epoch: float) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds")


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

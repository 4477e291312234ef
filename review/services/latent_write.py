"""A fit's posteriors into SamplePosterior, one row a sample, upserted (the caller's
transaction also drops the rows of other fits).

Plain tuples, not model instances (bulk_create's instances cost ~20 s CPU at 219K rows). SQLite:
INSERT ... ON CONFLICT (sample) DO UPDATE through executemany. PostgreSQL: COPY into a temporary
table, then one INSERT ... SELECT ... ON CONFLICT (a statement a row cost the server ~140 s at
219K rows on the shared machine; bench/consensus_speed.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from django.db import connection

from review.models_consensus import ConsensusFit, SamplePosterior
from review.services.latent_fit import FitOutput
from review.services.latent_ratings import Ratings

WRITE_BATCH = 5000
# The columns a new fit writes over an existing row, in _rows' order after the sample.
UPDATED = ("fit", "dataset", "probs", "label", "p_label", "entropy", "expected_change", "n_ratings")
STAGING = "consensus_posterior_staging"


def upsert_posteriors(*, fit: ConsensusFit, ratings: Ratings, output: FitOutput) -> None:
    """Write one row a rated sample (call inside a transaction)."""
    batches = (
        _rows(fit, ratings, output, slice(start, start + WRITE_BATCH))
        for start in range(0, ratings.sample_ids.size, WRITE_BATCH)
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_then_upsert(cursor, batches)
        else:
            values = ", ".join(["%s"] * len(_columns()))
            for rows in batches:
                cursor.executemany(f"{_insert()} VALUES ({values}) {_on_conflict()}", rows)


def _copy_then_upsert(cursor: Any, batches: Iterator[list[tuple[Any, ...]]]) -> None:
    table, columns = SamplePosterior._meta.db_table, ", ".join(_columns())
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGING} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    with cursor.cursor.copy(f"COPY {STAGING} ({columns}) FROM STDIN") as copy:
        for rows in batches:
            for row in rows:
                copy.write_row(row)
    cursor.execute(f"{_insert()} SELECT {columns} FROM {STAGING} {_on_conflict()}")
    cursor.execute(f"DROP TABLE {STAGING}")  # a second write in the same transaction


def _columns() -> list[str]:
    fields = {f.name: str(f.column) for f in SamplePosterior._meta.concrete_fields}
    return [fields["sample"], *(fields[name] for name in UPDATED)]


def _insert() -> str:
    return f"INSERT INTO {SamplePosterior._meta.db_table} ({', '.join(_columns())})"


def _on_conflict() -> str:
    """The same clause on SQLite and PostgreSQL: a sample's row takes the new fit's values."""
    sample, *updated = _columns()
    updates = ", ".join(f"{column} = excluded.{column}" for column in updated)
    return f"ON CONFLICT ({sample}) DO UPDATE SET {updates}"


def _rows(
    fit: ConsensusFit, ratings: Ratings, output: FitOutput, part: slice
) -> list[tuple[Any, ...]]:
    """One tuple a sample, in the order of _columns() (sample, then UPDATED)."""
    probs = output.probs[part].astype("<f4")
    probs /= probs.sum(axis=1, keepdims=True, dtype=np.float32)
    best = output.label[part]
    labels = [ratings.labels[int(i)] for i in best]
    p_label = probs[np.arange(best.size), best].astype(np.float64).tolist()
    n_ratings = np.minimum(output.n_ratings[part], 32767).tolist()
    return list(
        zip(
            ratings.sample_ids[part].tolist(),
            [fit.pk] * best.size,
            [fit.dataset_id] * best.size,
            [row.tobytes() for row in probs],
            labels,
            p_label,
            output.entropy[part].tolist(),
            output.expected_change[part].tolist(),
            n_ratings,
            strict=True,
        )
    )

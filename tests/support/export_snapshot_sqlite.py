"""Run in a fresh process on a WAL SQLite file: export while a re-import commits mid-export.

pytest's SQLite test database is in memory with a shared cache, where a reader locks tables
instead of reading a snapshot, so the WAL behaviour is checked here, on a real file:

    DATABASE_URL=sqlite:////tmp/x/db.sqlite3 python -m tests.support.export_snapshot_sqlite DIR

DIR holds old.jsonl, new.jsonl and images/. The database must be migrated. Prints one JSON
object: the generations the export saw, the labels in the database afterwards, the journal
mode, how long the re-import took and what it raised.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def main(work: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from annotator.models import Dataset, Sample
    from annotator.services.importing import import_samples_file
    from review.services import export_rows
    from review.services.export import write_csv

    settings.EXPORT_BATCH_SIZE = 7
    result: dict[str, Any] = {"errors": []}

    def reimport(name: str) -> None:
        import_samples_file(path=work / name, dataset_name="snap", images_root=work / "images")

    def reimport_on_a_thread() -> None:
        started = time.monotonic()
        try:
            reimport("new.jsonl")
        except Exception as exc:  # reported to the test
            result["errors"].append(repr(exc))
        finally:
            connection.close()
        result["reimport_seconds"] = time.monotonic() - started

    real = export_rows.iter_sample_batches

    def hooked(**kwargs: Any) -> Iterator[Any]:
        for number, batch in enumerate(real(**kwargs)):
            yield batch
            if number == 0:
                thread = threading.Thread(target=reimport_on_a_thread)
                thread.start()
                thread.join(timeout=60)

    reimport("old.jsonl")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        result["journal_mode"] = cursor.fetchone()[0]
    export_rows.iter_sample_batches = hooked  # type: ignore[assignment]
    out = io.StringIO(newline="")
    write_csv(dataset=Dataset.objects.get(name="snap"), scope="all", out=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    result["rows"] = len(rows)
    result["exported"] = sorted({row["description"].split()[0] for row in rows})
    result["database"] = sorted(set(Sample.objects.values_list("suggested_emotion", flat=True)))
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))

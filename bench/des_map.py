"""The DES map at EmoVerse scale: computing the 2-D PCA map of 219K x 1024 DES vectors, and what
the page reads (the points, one colouring, a box selection).

Generates one dataset in a throwaway SQLite database (--postgres: a scratch database on
DATABASE_URL's server): N samples with a 1024-d float32 DES drawn around 8 cluster centres
(one per emotion), statuses and sources as the queue bench's. Then, in the same run:

- baseline: one streamed read of every DES (review.services.des_map_projection.des_chunks, no
  arithmetic): the floor for any method that reads every vector; PCA reads them twice;
- the map job (compute_des_map: two streamed passes, eigh, storing the points): wall and CPU
  seconds, the ratio to the baseline, peak RSS growth (flat: the 900 MB of DES are never held);
- the page and its endpoints through django.test.Client (a signed-in auditor): the points,
  the status colour codes and the legend, a box selection of half the map.

    .venv/bin/python bench/des_map.py                        # 219,000 samples (~5 min)
    .venv/bin/python bench/des_map.py --samples 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
      .venv/bin/python bench/des_map.py --postgres
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402

DIMS = 1024
BATCH = 5000
STATUSES = ["agreed", "disputed", "adjudicated", "dropped"]


def make_dataset(count: int) -> Any:
    """Samples written as plain rows (COPY on PostgreSQL), as the queue bench writes them."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotator.models import Dataset, Taxonomy
    from bench._queue_data import SAMPLE_COLUMNS, _write

    taxonomy = Taxonomy.objects.get(name="mikels8")
    dataset = Dataset.objects.create(name=f"bench-map-{count}", taxonomy=taxonomy)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(8, DIMS)).astype(np.float32) * 0.5
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, count, BATCH):
            n = min(BATCH, count - start)
            cluster = rng.integers(0, 8, n)
            noise = rng.standard_normal(size=(n, DIMS), dtype=np.float32)
            des = (centres[cluster] + noise).astype("<f4")
            rows = [
                (start + i + 1, dataset.pk, f"img-{start + i:07d}", f"{start + i}.jpg",
                 _common.SOURCES[i % len(_common.SOURCES)], 640, 480, f"{start + i:064x}",
                 des[i].tobytes(), STATUSES[int(cluster[i]) % 4],
                 _common.EMOTIONS[int(cluster[i])], 0.5, "[]", False, "", now, now)
                for i in range(n)
            ]  # fmt: skip
            _write(cursor, "annotator_sample", SAMPLE_COLUMNS, rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('annotator_sample', 'id'), %s)",
                           [count])  # fmt: skip
    return dataset


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _common.cpu_seconds()
    result = fn()
    return result, time.perf_counter() - wall, _common.cpu_seconds() - cpu


class RssWatch:
    """The largest RSS seen while the block runs (sampled every 20 ms by a thread): ru_maxrss
    would still hold the data generation's peak."""

    def __enter__(self) -> RssWatch:
        self.start = self.peak = _common.rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _common.rss_mib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return self.peak - self.start


def read_everything(dataset_id: int) -> int:
    from review.services.des_map_projection import des_chunks

    return sum(ids.shape[0] for ids, _ in des_chunks(dataset_id=dataset_id))


def compute(dataset: Any) -> Any:
    from review.models_desmap import DesMap
    from review.services.des_map import compute_des_map

    des_map = DesMap.objects.create(dataset=dataset)
    assert compute_des_map(map_id=des_map.pk) == "done"
    des_map.refresh_from_db()
    return des_map


def auditor_client() -> Any:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user("bench-auditor", password="x")
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    client = Client()
    client.force_login(user)
    return client


def endpoint_rows(client: Any, des_map: Any) -> list[list[object]]:
    from django.urls import reverse

    rows: list[list[object]] = []
    codes, legend = (reverse(f"review:{n}", args=[des_map.pk]) for n in ("map_codes", "map_legend"))
    page = f"{reverse('review:des_map')}?dataset={des_map.dataset_id}"
    points = reverse("review:map_points", args=[des_map.pk])
    for label, url in [
        ("points (n, uint16 x, y, int32 id, external ids)", points),
        ("colour codes by status (uint8)", f"{codes}?by=status"),
        ("legend partial by status (cached by the codes)", f"{legend}?by=status"),
        ("colour codes by final emotion", f"{codes}?by=emotion"),
        ("the page (HTML) coloured by source (not cached)", f"{page}&by=source"),
    ]:
        response, wall, cpu = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, (url, response.status_code)
        rows.append(
            [label, f"{len(response.content):,}", f"{wall * 1000:.0f}", f"{cpu * 1000:.0f}"]
        )
    url = reverse("review:map_select", args=[des_map.pk])
    box = "0,0 32767,0 32767,65535 0,65535"
    response, wall, cpu = timed(lambda: client.post(url, {"polygon": box}))
    assert response.status_code == 302
    rows.append(
        ["box selection of the left half (POST)", "-", f"{wall * 1000:.0f}", f"{cpu * 1000:.0f}"]
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=219_000)
    parser.add_argument(
        "--postgres", action="store_true", help="a scratch database on DATABASE_URL"
    )
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="emoreview-bench-desmap-"))
    with ExitStack() as stack:
        if args.postgres:
            stack.enter_context(
                _common.scratch_postgres(os.environ["DATABASE_URL"], prefix="bench_desmap")
            )
            _common.setup_django_migrated(data_dir)
        else:
            _common.setup_django(data_dir)
            _common.migrate()
        run(args.samples)


def run(count: int) -> None:
    from django.db import connection

    print(f"{_common.machine()}; {connection.vendor}; {count:,} samples x {DIMS} float32")
    dataset, wall, _ = timed(lambda: make_dataset(count))
    print(f"generated in {wall:.0f} s")
    read_everything(dataset.pk)  # warm the page cache: both rows measure a warm read
    with RssWatch() as read_rss:
        n, read_wall, read_cpu = timed(lambda: read_everything(dataset.pk))
    assert n == count
    with RssWatch() as map_rss:
        des_map, map_wall, map_cpu = timed(lambda: compute(dataset))
    _common.print_table(
        ["step", "wall s", "CPU s", "x one read (CPU)", "peak RSS growth MiB"],
        [
            ["baseline: read every DES once", f"{read_wall:.2f}", f"{read_cpu:.2f}", "1.00",
             f"{read_rss.growth:.0f}"],
            ["PCA map job (2 reads, eigh, store)", f"{map_wall:.2f}", f"{map_cpu:.2f}",
             f"{map_cpu / max(read_cpu, 0.01):.2f}", f"{map_rss.growth:.0f}"],
        ],
    )  # fmt: skip
    print(f"\nmap: {des_map.n_points:,} points, {len(bytes(des_map.points)):,} bytes stored; "
          f"DES held in the database: {count * DIMS * 4 / 2**20:,.0f} MiB\n")  # fmt: skip
    _common.print_table(
        ["endpoint", "bytes", "wall ms", "CPU ms"], endpoint_rows(auditor_client(), des_map)
    )


if __name__ == "__main__":
    main()

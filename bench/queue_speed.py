"""Pages whose cost does not grow with the dataset: server CPU per request at two sizes.

For each size a fresh database (SQLite, or PostgreSQL with --postgres) gets one dataset of N
EmoVerse-like samples (bench/_queue_data.py: 4 KiB DES each, 30% disputed, a fixed amount of
people's work; statistics refreshed as an import ends, and for the tables people write as
beat's statistics check leaves them: --no-statistics for none), built by a process of its own
that keeps it. Then, per page kind, through django.test.Client in those processes: server CPU per
request (the process's user+system time, plus its PostgreSQL backend's; the median of --runs
calls, the mean beside it), wall p50, SQL statements. The sizes take turns, --rounds times
(10K, 219K, 219K, 10K, ...), so the machine's drift over minutes falls on both sizes alike.
The old whole-dataset aggregates the queue page used to run, and the sign-in page (a template,
no data: its own growth should stay near 1.0), are baselines from the same run. Then gunicorn
(as docker/entrypoint.sh starts it) with --clients concurrent clients: reviewers walking the
queue, annotators doing sample page -> save and next -> their own work; p50/p95 and server CPU
per request.

    .venv/bin/python bench/queue_speed.py                    # 10K samples (about 2 minutes)
    .venv/bin/python bench/queue_speed.py --big              # 10K and 219K
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/queue_speed.py --big --postgres
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common, _queue_load  # noqa: E402

TARGET_CPU_MS, TARGET_P95_MS, TARGET_GROWTH = 15.0, 150.0, 1.5
BASELINE = "baseline: sign-in page"


def _backend_cpu() -> float:
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return _queue_load.proc_cpu(pid)


def measure(fn: Any, runs: int) -> dict[str, list[float]]:
    """Server CPU ms of `fn` for each of `runs` calls, and their wall ms, after two warm-up
    calls."""
    fn(), fn()
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, db0 = time.process_time(), _backend_cpu()
        start = time.perf_counter()
        fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu0 + _backend_cpu() - db0) * 1000)
    return {"cpus": cpus, "walls": walls}


def summary(calls: dict[str, list[float]]) -> dict[str, float]:
    """The median CPU is the verdict's: this virtual machine now and then charges a call 100+
    ms of CPU it did not use (the host preempts it), which moves a 20-call mean by 5 ms."""
    return {
        "cpu": statistics.median(calls["cpus"]),
        "cpu_mean": statistics.mean(calls["cpus"]),
        "p50": statistics.median(calls["walls"]),
    }


def statements(fn: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def queue_params(dataset: Any) -> dict[str, dict[str, str]]:
    from django.conf import settings

    from annotator.models import Sample

    base = {"dataset": str(dataset.pk), "status": "disputed"}
    disputed = Sample.objects.filter(dataset=dataset, status="disputed").order_by("id")
    size = settings.QUEUE_PAGE_SIZE
    deep = max(2, disputed.count() // size // 2)
    after = disputed.values_list("id", flat=True)[(deep - 1) * size - 1]
    return {
        "queue, first page": base,
        f"queue, page {deep:,} (its Next link)": {**base, "page": str(deep), "after": str(after)},
        f"queue, page {deep:,} typed (OFFSET)": {**base, "page": str(deep)},
        "queue, filtered (source + emotion)": {**base, "source": "FI", "suggested": "fear"},
    }


def page_kinds(built: dict[str, Any]) -> dict[str, Any]:
    """Page kind -> a function that requests it once (asserting the status)."""
    from django.test import Client
    from django.urls import reverse

    from review.services.assignment import lease_next_sample

    reviewer, person = Client(), Client()
    reviewer.force_login(built["auditor"])
    annotator = built["annotators"][0]
    person.force_login(annotator)

    def get(client: Any, path: str, params: dict[str, str] | None = None) -> Any:
        def call() -> None:
            response = client.get(path, params or {})
            assert response.status_code == 200, (path, response.status_code)

        return call

    kinds = {
        name: get(reviewer, "/review/", p) for name, p in queue_params(built["dataset"]).items()
    }
    held = lease_next_sample(user=annotator)
    assert held is not None
    state = {"pk": held.sample_id}

    def save_and_next() -> None:
        answer = {"emotion": "awe", "confidence": "7", "time_spent_ms": "900"}
        response = person.post(f"/review/samples/{state['pk']}/answer/", answer)
        assert response.status_code == 302, response.status_code
        state["pk"] = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
        # The page the browser is sent to shows and clears the "Saved" message; without it
        # the messages piled up in the cookie, then spilled into the session (a write each).
        person.cookies.pop("messages", None)

    kinds["sample page (annotator)"] = lambda: get(person, f"/review/samples/{state['pk']}/")()
    kinds["save and next (annotator)"] = save_and_next
    kinds["own work (annotator)"] = get(person, "/review/")
    # The framework's floor: a page with a template and no data, for someone not signed in.
    kinds[BASELINE] = get(Client(), reverse("login"))
    return kinds


def old_aggregates(dataset: Any) -> dict[str, Any]:
    """What the queue page computed on every request before QueueCount (same run, same data)."""
    from django.db.models import Count

    from annotator.models import Sample
    from review.selectors.queue import adjudication_count

    every = Sample.objects.order_by()
    mine = every.filter(dataset=dataset)
    return {
        "old: samples per status (GROUP BY)": lambda: list(
            mine.values("status").annotate(n=Count("id"))
        ),
        "old: filter choices (2 DISTINCT)": lambda: (
            list(every.values_list("source", flat=True).distinct()),
            list(every.values_list("suggested_emotion", flat=True).distinct()),
        ),
        "old: paginator COUNT(*)": lambda: mine.filter(status="disputed").count(),
        "still per page: adjudication_count": lambda: adjudication_count(dataset=dataset),
    }


def concurrent(built: dict[str, Any], *, clients: int, seconds: float, workers: int) -> dict:
    server = _queue_load.Server(workers=workers)
    try:
        queue = [f"/review/?{'&'.join(f'{k}={v}' for k, v in p.items())}"
                 for p in queue_params(built["dataset"]).values()]  # fmt: skip
        queue = [queue[0], queue[1], queue[3]]  # first, deep by its link, filtered
        reviewers = [(_queue_load.session_cookies(built["auditor"]), _reviewer(queue))
                     for _ in range(clients)]  # fmt: skip
        people = [(_queue_load.session_cookies(p), _annotator()) for p in built["annotators"]]
        for _ in range(3 * workers):  # warm every worker (imports, compiled templates)
            for path in queue:
                server.get(path, dict(reviewers[0][0]))
            server.get("/review/", dict(people[-1][0]))
        result = {}
        for phase, group in (("reviewers", reviewers), ("annotators", people[:clients])):
            times, cpu, requests = _queue_load.run_clients(server, clients=group, seconds=seconds)
            result[phase] = {
                "cpu_per_request": cpu * 1000 / max(1, requests),
                "kinds": {k: {"n": len(v), "p50": _queue_load.percentile(v, 0.5),
                              "p95": _queue_load.percentile(v, 0.95)} for k, v in times.items()},
            }  # fmt: skip
        return result
    finally:
        server.stop()


def _reviewer(paths: list[str]) -> Any:
    turn = {"i": 0}
    names = ["queue, first page", "queue, deep page (Next link)", "queue, filtered"]

    def step(server: Any, cookies: dict[str, str]) -> str:
        i = turn["i"] = (turn["i"] + 1) % len(paths)
        status, _, _ = server.get(paths[i], cookies)
        assert status == 200, status
        return names[i]

    return step


def _annotator() -> Any:
    """next (a lease) -> sample page -> save and next -> sample page -> ...; every fourth
    request their own work page."""
    state: dict[str, Any] = {"path": "", "phase": "next", "n": 0}

    def step(server: Any, cookies: dict[str, str]) -> str:
        state["n"] += 1
        if state["n"] % 4 == 0:
            assert server.get("/review/", cookies)[0] == 200
            return "own work"
        if state["phase"] == "next":
            status, headers, _ = server.get("/review/next/?kind=annotate", cookies)
            assert status == 302, status
            state["path"], state["phase"] = headers["Location"], "page"
            return "next (lease)"
        if state["phase"] == "page":
            assert server.get(state["path"], cookies)[0] == 200
            state["phase"] = "save"
            return "sample page"
        body = "emotion=awe&confidence=7&time_spent_ms=900"
        headers = {"X-CSRFToken": cookies.get("csrftoken", "")}
        status, got, _ = server.request("POST", state["path"] + "answer/", cookies, body, **headers)
        assert status == 302, status
        state["path"], state["phase"] = got["Location"], "page"
        if "/samples/" not in state["path"]:  # nothing left for them: ask again
            state["phase"] = "next"
        return "save and next"

    return step


def database_mib() -> float:
    """The database's size on disk (SQLite: the file after a WAL checkpoint)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0] / 2**20
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(connection.settings_dict["NAME"]).stat().st_size / 2**20


def serve(args: argparse.Namespace) -> None:
    """Build one database of args.one samples, then answer the parent's commands on stdin:
    `measure R` (R calls of every page kind: one round, printed as ROUND {...}) until
    `finish` (the old aggregates, gunicorn's phase: printed as RESULT {...})."""
    from bench import _queue_data

    start = time.perf_counter()
    built = _queue_data.build(args.one)
    result: dict[str, Any] = {"samples": args.one, "build_s": time.perf_counter() - start}
    beat_statistics(args)
    result["db_mib"] = database_mib()
    kinds = page_kinds(built)
    for fn in kinds.values():  # the steady state: QueueCount's pending deltas folded, say
        fn()
    result["sql"] = {name: statements(fn) for name, fn in kinds.items()}
    print("READY", flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "measure":
            got = {name: measure(fn, int(rest[0])) for name, fn in kinds.items()}
            print("ROUND " + json.dumps(got), flush=True)
        elif command == "finish":
            break
    result["old"] = {
        name: summary(measure(fn, args.runs))
        for name, fn in old_aggregates(built["dataset"]).items()
    }
    beat_statistics(args)  # the answers made since: beat's next tick
    checkpoint()
    result["concurrent"] = concurrent(
        built, clients=args.clients, seconds=args.seconds, workers=args.workers
    )
    result["load"] = _common.load()
    print("RESULT " + json.dumps(result), flush=True)


def beat_statistics(args: argparse.Namespace) -> None:
    """Beat's statistics check (every STATISTICS_CHECK_SECONDS in a deployment): the tables
    people write get statistics, as autovacuum would give them where it is on (it is off on
    this machine). --no-statistics measures a deployment with neither."""
    from annotator.services.planner_statistics import analyze_stale_tables

    if not args.no_statistics:
        analyze_stale_tables()


def checkpoint() -> None:
    """PostgreSQL writes out what the builds left dirty before the gunicorn phase, not during
    it (here 12.5K buffers, 98 MB, were still dirty when the 10K phase began: the 219K build
    wrote 1.4 GB shortly before; checkpoint_timeout is 5 min)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")


def run_one(args: argparse.Namespace) -> None:
    _common.run_with_django(postgres=args.postgres, prefix="queue", fn=lambda: serve(args))


class Size:
    """One size's process (serve()), its database built and kept while the others measure."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (open while it runs)
        command = [sys.executable, __file__, "--one", str(n), *sys.argv[1:]]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        self.expect("READY")

    def expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        self.log.seek(0)
        sys.exit(f"size {self.n} failed:\n{self.log.read()[-5000:]}")

    def ask(self, command: str, answer: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.expect(answer))


def measure_sizes(sizes: list[int], *, runs: int, rounds: int) -> list[dict[str, Any]]:
    """The sizes' single-client calls in alternating rounds (10K, 219K, 219K, 10K, ...): the
    machine's drift over minutes falls on every size alike instead of on whichever was
    measured later (a VM here ran a page with no data 1.77x slower in one phase than in the
    other). Then each size's gunicorn phase, one after the other."""
    procs = [Size(n) for n in sizes]
    calls: list[dict[str, dict[str, list[float]]]] = [{} for _ in procs]
    per_round = max(1, -(-runs // rounds))
    for r in range(rounds):
        order = list(range(len(procs)))[:: 1 if r % 2 == 0 else -1]
        for i in order:
            for name, got in procs[i].ask(f"measure {per_round}", "ROUND ").items():
                pooled = calls[i].setdefault(name, {"cpus": [], "walls": []})
                pooled["cpus"] += got["cpus"]
                pooled["walls"] += got["walls"]
    results = []
    for proc, kinds in zip(procs, calls, strict=True):
        result = proc.ask("finish", "RESULT ")
        proc.process.wait()
        result["pages"] = {
            name: {**summary(c), "sql": result["sql"][name]} for name, c in kinds.items()
        }
        results.append(result)
    return results


def report(results: list[dict[str, Any]], *, postgres: bool) -> None:
    sizes = [r["samples"] for r in results]
    small, large = results[0], results[-1]
    print(f"Database: {'PostgreSQL' if postgres else 'SQLite'}; sizes {sizes}; "
          f"build s: {[round(r['build_s']) for r in results]}; database MiB: "
          f"{[round(r.get('db_mib', 0)) for r in results]}\n")  # fmt: skip
    headers = ["page (1 client, in-process)"]
    for n in sizes:
        headers += [f"CPU ms @{n:,}", f"(mean) @{n:,}", f"p50 ms @{n:,}", f"SQL @{n:,}"]
    headers += ["CPU growth", f"<= {TARGET_CPU_MS:g} ms and <= {TARGET_GROWTH}x"]
    rows = []
    for name in large["pages"]:
        key = name if name in small["pages"] else None
        row: list[object] = [name]
        for r in results:
            page = r["pages"].get(name) or _same_kind(r["pages"], name)
            row += [page["cpu"], page.get("cpu_mean", page["cpu"]), page["p50"], page["sql"]]
        first = (small["pages"].get(key) if key else None) or _same_kind(small["pages"], name)
        growth = large["pages"][name]["cpu"] / max(first["cpu"], 0.01)
        ok = large["pages"][name]["cpu"] <= TARGET_CPU_MS and growth <= TARGET_GROWTH
        rows.append([*row, growth, "yes" if ok else "NO"])
    _common.print_table(headers, rows)
    headers = ["per request, old way (baseline)"] + [f"CPU ms @{n:,}" for n in sizes]
    _common.print_table(
        headers, [[k] + [r["old"][k]["cpu"] for r in results] for k in large["old"]]
    )
    for r in results:
        for phase, got in r["concurrent"].items():
            print(f"gunicorn, {phase}, {r['samples']:,} samples: server CPU per request "
                  f"{got['cpu_per_request']:.1f} ms")  # fmt: skip
            _common.print_table(
                ["kind", "requests", "p50 ms", "p95 ms", f"p95 <= {TARGET_P95_MS:g}"],
                [[k, v["n"], v["p50"], v["p95"], "yes" if v["p95"] <= TARGET_P95_MS else "NO"]
                 for k, v in got["kinds"].items()],
            )  # fmt: skip
    print("Load after each size: " + "; ".join(r["load"] for r in results))


def _same_kind(pages: dict[str, Any], name: str) -> dict[str, Any]:
    """The deep-page rows are named after their page number, which differs between sizes."""
    prefix = name.split(" (")[0].split(" typed")[0].rsplit(" ", 1)[0]
    suffix = name.rsplit(" ", 1)[-1]
    return next(v for k, v in pages.items() if k.startswith(prefix) and k.endswith(suffix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated sample counts")
    parser.add_argument("--big", action="store_true", help="add EmoVerse's 219,000")
    parser.add_argument("--postgres", action="store_true", help="a scratch DB on DATABASE_URL")
    parser.add_argument("--runs", type=int, default=20, help="single-client calls a page kind")
    parser.add_argument("--rounds", type=int, default=5, help="alternations between the sizes")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3)))
    parser.add_argument(
        "--no-statistics", action="store_true", help="no beat: people's tables unanalysed"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return run_one(args)
    sizes = [int(s) for s in args.sizes.split(",")] + ([219_000] if args.big else [])
    print(f"Machine: {_common.machine()}")
    results = measure_sizes(sizes, runs=args.runs, rounds=args.rounds)
    report(results, postgres=args.postgres)


if __name__ == "__main__":
    main()

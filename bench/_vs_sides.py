"""The two sides of bench/vs_label_studio.py: the same steps (load, list pages, export) against
EmoReview and against Label Studio, each measured the same way (wall time from this process,
server CPU from /proc, or this process's CPU where EmoReview works in it)."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import _common, _labelstudio, _queue_load

PAGE_SIZE_LS = 30  # the Data Manager's page


class Http:
    """GETs to one server with fixed headers; the server's CPU seconds so far."""

    def __init__(self, port: int, headers: dict[str, str], cpu: Callable[[], float]) -> None:
        self.port, self.headers, self.cpu = port, headers, cpu

    def get(self, path: str, *, timeout: float = 600) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=self.headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
        return body

    def stream_to(self, path: str, target: Path) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        size = 0
        try:
            conn.request("GET", path, headers=self.headers)
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.read(300)!r}")
            with target.open("wb") as out:
                while block := response.read(1 << 20):
                    size += out.write(block)
        finally:
            conn.close()
        return size


WARMUP = 16  # requests before measuring: each gunicorn worker imports and compiles once


def warm(http_: Http, path: str) -> None:
    """WARMUP requests from 4 threads at once, so that every worker, not just the first free
    one, has served the page before anything is measured."""
    threads = [
        threading.Thread(target=lambda: [http_.get(path) for _ in range(WARMUP // 4)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def single(http_: Http, path: str, *, runs: int) -> dict[str, float]:
    """p50 wall ms and server CPU ms per request, one client, after warm()."""
    warm(http_, path)
    walls, cpu = [], http_.cpu()
    for _ in range(runs):
        start = time.perf_counter()
        http_.get(path)
        walls.append((time.perf_counter() - start) * 1000)
    return {"p50": statistics.median(walls), "cpu": (http_.cpu() - cpu) * 1000 / runs}


def concurrent(http_: Http, path: str, *, clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads GET `path` in a loop for `seconds`: p50/p95 ms, server CPU ms each."""
    times: list[float] = []
    errors: list[BaseException] = []
    stop = time.monotonic() + seconds

    def loop() -> None:
        try:
            while time.monotonic() < stop:
                start = time.perf_counter()
                http_.get(path)
                times.append((time.perf_counter() - start) * 1000)
        except BaseException as error:  # reported after the run
            errors.append(error)

    cpu = http_.cpu()
    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return {
        "p50": _queue_load.percentile(times, 0.5),
        "p95": _queue_load.percentile(times, 0.95),
        "n": len(times),
        "cpu": (http_.cpu() - cpu) * 1000 / max(1, len(times)),
    }


class EmoReviewSide:
    """EmoReview in this process (Django already set up on a fresh SQLite file) and gunicorn."""

    def __init__(self, data_dir: Path, images: Path, *, workers: int) -> None:
        self.images, self.workers = images, workers
        self.server: Any = None
        self.paths: dict[str, str] = {}

    def __enter__(self) -> EmoReviewSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_server()

    def load(self, records: Path, *, chunk: int) -> dict[str, float]:
        del chunk  # one file, one import: what `manage.py import_samples` does
        from annotator.services.importing import import_samples_file

        cpu, wall = _common.cpu_seconds_with_children(), time.perf_counter()
        import_samples_file(path=records, dataset_name="bench", images_root=self.images)
        return {
            "wall": time.perf_counter() - wall,
            "cpu": _common.cpu_seconds_with_children() - cpu,
        }

    def serve(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from annotator.models import Dataset

        dataset = Dataset.objects.get(name="bench")
        person, _ = get_user_model().objects.get_or_create(username="bench-reviewer")
        person.groups.add(*Group.objects.filter(name__in=["auditor", "adjudicator"]))
        cookies = _queue_load.session_cookies(person)
        base = f"/review/?dataset={dataset.pk}&status=disputed"
        self.paths = {"page": base, "filtered": f"{base}&source=FI"}
        self.server = _queue_load.Server(workers=self.workers)
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.http = Http(self.server.port, {"Cookie": cookie}, self.server.server_cpu)

    def stop_server(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def single(self, kind: str, *, runs: int) -> dict[str, float]:
        return single(self.http, self.paths[kind], runs=runs)

    def concurrent(self, *, clients: int, seconds: float) -> dict[str, float]:
        return concurrent(self.http, self.paths["page"], clients=clients, seconds=seconds)

    def export(self, stem: Path) -> dict[str, float]:
        from annotator.models import Dataset
        from review.services.export_formats import FORMATS

        dataset = Dataset.objects.get(name="bench")
        # Warm like the servers are: URLconf and pyarrow imported (about 1-2 CPU-s once per
        # process, which a web download or a second export never pays again).
        import pyarrow.parquet  # noqa: F401
        from django.urls import reverse

        reverse("review:queue")
        got: dict[str, float] = {}
        for fmt in ("labelstudio", "csv", "parquet"):
            target = stem.with_suffix(f".{fmt}")
            cpu, wall = _common.cpu_seconds(), time.perf_counter()
            with target.open("wb") as out:
                for chunk in FORMATS[fmt].chunks(dataset=dataset, scope="all"):
                    out.write(chunk.data)
            key = "json" if fmt == "labelstudio" else fmt
            got[f"{key}_wall"] = time.perf_counter() - wall
            got[f"{key}_cpu"] = _common.cpu_seconds() - cpu
            got[f"{key}_mb"] = target.stat().st_size / 1024**2
            target.unlink()
        return got


class LabelStudioSide:
    """Label Studio on its own SQLite under gunicorn, driven through its REST API."""

    def __init__(
        self, data_dir: Path, images: Path, *, workers: int, with_des: bool = True
    ) -> None:
        self.with_des = with_des
        env = {
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(images.parent),
            "DATA_UPLOAD_MAX_MEMORY_SIZE": str(4 * 1024**3),
        }
        self.ls = _labelstudio.LabelStudio(data_dir, workers=workers, threads=1, env=env)
        self.project = 0
        self.paths: dict[str, str] = {}

    def __enter__(self) -> LabelStudioSide:
        from review.services.labelstudio_config import build_config

        self.ls.__enter__()
        config = build_config(emotions=_common.EMOTIONS)
        made = self.ls.api("POST", "/api/projects/", {"title": "bench", "label_config": config})
        self.project = int(made["id"])
        pids = self.ls.server_pids
        cpu = lambda: sum(_queue_load.proc_cpu(pid) for pid in pids())  # noqa: E731
        self.http = Http(self.ls.port, {"Authorization": f"Token {self.ls.token}"}, cpu)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ls.stop()

    def load(self, records: Path, *, chunk: int) -> dict[str, float]:
        wall, cpu = 0.0, 0.0
        batch_file = records.with_suffix(".ls-batch.json")
        for tasks in _tasks_from_records(records, chunk=chunk, with_des=self.with_des):
            batch_file.write_text(json.dumps(tasks))  # written before timing: not theirs
            cpu0, start = self.http.cpu(), time.perf_counter()
            done = self.ls.upload(f"/api/projects/{self.project}/import", batch_file)
            wall += time.perf_counter() - start
            cpu += self.http.cpu() - cpu0
            if done.get("task_count") != len(tasks):
                raise RuntimeError(f"Label Studio imported {done} of {len(tasks)} tasks")
        batch_file.unlink(missing_ok=True)
        return {"wall": wall, "cpu": cpu}

    def serve(self) -> None:
        view = self.ls.api("POST", "/api/dm/views/", {"project": self.project, "data": {
            "filters": {"conjunction": "and", "items": [{
                "filter": "filter:tasks:data.source", "operator": "equal", "type": "String",
                "value": "FI"}]}}})  # fmt: skip
        page = f"/api/tasks/?project={self.project}&page=1&page_size={PAGE_SIZE_LS}"
        self.paths = {"page": page, "filtered": f"{page}&view={view['id']}"}
        got = json.loads(self.http.get(self.paths["filtered"]))
        if got["total"] == 0 or got["total"] >= json.loads(self.http.get(page))["total"]:
            raise RuntimeError(f"the filtered view did not filter: {got['total']} tasks")

    def stop_server(self) -> None:
        pass  # it served the import: stopped with the side

    def single(self, kind: str, *, runs: int) -> dict[str, float]:
        return single(self.http, self.paths[kind], runs=runs)

    def concurrent(self, *, clients: int, seconds: float) -> dict[str, float]:
        return concurrent(self.http, self.paths["page"], clients=clients, seconds=seconds)

    def export(self, stem: Path) -> dict[str, float]:
        target = stem.with_suffix(".json")
        cpu, wall = self.http.cpu(), time.perf_counter()
        size = self.http.stream_to(
            f"/api/projects/{self.project}/export?exportType=JSON&download_all_tasks=true", target
        )
        got = {
            "json_wall": time.perf_counter() - wall,
            "json_cpu": self.http.cpu() - cpu,
            "json_mb": size / 1024**2,
        }
        target.unlink()
        return got


def _tasks_from_records(
    records: Path, *, chunk: int, with_des: bool
) -> Iterator[list[dict[str, Any]]]:
    """The records as Label Studio tasks, built with our export's own result builders."""
    from review.services.labelstudio_tasks import label_results, local_files_url, region_results

    batch: list[dict[str, Any]] = []
    with records.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            predictions = []
            for p in record["proposals"]:
                triplet = tuple(p["B-A-S"].split(" - "))
                result = label_results(emotion=p["emotion"], confidence=p["confidence"],
                                       triplet=triplet, description=p["description"])  # type: ignore[arg-type]  # fmt: skip
                entry = {"role": "subject", "box": p["bbox"]}
                result += region_results(entry, size=(640, 480), n=len(result))
                predictions.append({"model_version": p["model"], "score": p["confidence"] / 10,
                                    "result": result})  # fmt: skip
            image = local_files_url(record["image_path"], images_root="images")
            data = {"image": image, "source": record["source"],
                    "critic": json.dumps(record.get("critic", "")), "DES": record["DES"],
                    "meta": {"external_id": record["id"]}}  # fmt: skip
            if not with_des:
                del data["DES"]
            batch.append({"data": data, "predictions": predictions})
            if len(batch) == chunk:
                yield batch
                batch = []
    if batch:
        yield batch

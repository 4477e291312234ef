"""The whole loop through EmoReview's API with `requests` (docs/api.md walks through it):

token -> datasets -> lease a sample from the queue -> its image, boxes and masks -> answer it
-> start an export job -> poll its progress -> download the CSV -> load it with pandas.

    python docs/api_loop.py --url http://127.0.0.1:8000 --dataset demo \\
        --user annotator --password PASS --admin admin --admin-password PASS

Passwords may come from EMOREVIEW_PASSWORD and EMOREVIEW_ADMIN_PASSWORD instead. The
annotator answers one sample (with overlap k = 1, as in the demo, that answer is its label);
the admin exports the dataset's decided labels. tests/integration/test_api_loop.py runs this file
against a live server, so what it shows stays true.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from typing import Any

import pandas as pd
import requests

TIMEOUT = 30  # seconds per request


def token(url: str, username: str, password: str) -> requests.Session:
    """A session that sends `Authorization: Token <key>` for this person."""
    response = requests.post(
        f"{url}/api/token/", data={"username": username, "password": password}, timeout=TIMEOUT
    )
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Token {response.json()['token']}"
    return session


def find_dataset(api: requests.Session, url: str, name: str) -> dict[str, Any]:
    datasets = api.get(f"{url}/api/datasets/", timeout=TIMEOUT).json()
    for dataset in datasets:
        print(f"dataset {dataset['name']} (id {dataset['id']}): {dataset['counts']}")
    found = [d for d in datasets if d["name"] == name]
    if not found:
        sys.exit(f"no dataset named {name!r}")
    return found[0]


def answer_one(api: requests.Session, url: str, dataset: dict[str, Any]) -> dict[str, Any] | None:
    """Lease the next sample of the dataset, look at it, answer it; None when none is left."""
    lease = api.post(f"{url}/api/next/", json={"dataset": dataset["id"]}, timeout=TIMEOUT)
    if lease.status_code == 204:
        print("queue done: nothing left for this annotator")
        return None
    lease.raise_for_status()
    sample = api.get(f"{url}/api/samples/{lease.json()['sample']}/", timeout=TIMEOUT).json()
    image = api.get(sample["image_url"], timeout=TIMEOUT)
    image.raise_for_status()
    print(
        f"sample {sample['external_id']}: {sample['width']}x{sample['height']} px, "
        f"{len(image.content)} bytes of image, {len(sample['regions'])} regions"
    )
    for region in sample["regions"]:
        mask = "mask (COCO RLE)" if region["mask"] else "no mask"
        print(f"  {region['role']} {region['phrase']!r}: box {region['box']}, {mask}")
    emotion = sample["suggested_emotion"] or dataset["labels"][0]
    label = {"emotion": emotion, "confidence": 7, "notes": "answered by docs/api_loop.py"}
    saved = api.post(f"{url}/api/samples/{sample['id']}/answer/", json=label, timeout=TIMEOUT)
    saved.raise_for_status()
    print(f"answered {emotion}: {saved.json()}")
    return {"external_id": sample["external_id"], "emotion": emotion}


def export_csv(
    admin: requests.Session, url: str, dataset: dict[str, Any], wait: float
) -> pd.DataFrame:
    """Start a CSV export job, poll it until done, download it and load it with pandas."""
    body = {"dataset": dataset["name"], "format": "csv", "scope": "decided"}
    started = admin.post(f"{url}/api/exports/", json=body, timeout=TIMEOUT)
    started.raise_for_status()  # 202: the job runs in the background
    job = started.json()
    deadline = time.monotonic() + wait
    while job["status"] in ("pending", "running"):
        if time.monotonic() > deadline:
            sys.exit(f"export {job['id']} still {job['status']} after {wait} s")
        print(f"export {job['id']}: {job['status']}, {job['rows_done']}/{job['rows_total']}")
        time.sleep(0.5)
        job = admin.get(job["url"], timeout=TIMEOUT).json()
    if job["status"] != "done":
        sys.exit(f"export {job['id']} {job['status']}: {job['error']}")
    if job["downloads"]["data"] is None:  # web and workers must share EXPORT_ROOT
        sys.exit(f"export {job['id']} is done but its file is not where the web server looks")
    data = admin.get(job["downloads"]["data"], timeout=TIMEOUT)
    data.raise_for_status()
    print(f"export {job['id']}: done, {job['rows_done']} rows, {len(data.content)} bytes")
    return pd.read_csv(io.BytesIO(data.content))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--user", default="annotator")
    parser.add_argument("--password", default=os.environ.get("EMOREVIEW_PASSWORD", ""))
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--admin-password", default=os.environ.get("EMOREVIEW_ADMIN_PASSWORD"))
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the export")
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")

    annotator = token(url, args.user, args.password)
    dataset = find_dataset(annotator, url, args.dataset)
    answered = answer_one(annotator, url, dataset)

    admin = token(url, args.admin, args.admin_password or "")
    frame = export_csv(admin, url, dataset, args.wait)
    print(f"pandas: {len(frame)} rows, columns {', '.join(frame.columns[:6])}, ...")
    if answered is not None:
        row = frame[frame["external_id"] == answered["external_id"]]
        print(row[["external_id", "emotion", "status"]].to_string(index=False))
        if row.empty or row.iloc[0]["emotion"] != answered["emotion"]:
            sys.exit("the answer is not in the export")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Consensus fit speed at EmoVerse scale: the full latent-class fit of a dataset (collect every
rating, fit Dawid-Skene, write a posterior a sample) against the weighted vote of the models over
the same dataset, in the same run; crowd-kit's own DawidSkene on the same ratings beside it.

Per size a fresh database (SQLite, or PostgreSQL with --postgres) gets one dataset of N samples,
each rated by three VLMs drawn from known biased confusion matrices (bench/_raters.py), the
critic on a tenth, and two of 20 people on a tenth. Measured, wall and CPU seconds:

  weighted vote   read the proposals (values_list) and run annotator's cross_verify per sample
  collect         review.services.latent_ratings.collect_ratings (models, critic, people)
  fit             review.services.latent_fit.fit_ratings (numpy Dawid-Skene + summaries)
  write           review.services.latent_jobs.write_posteriors (upsert N rows, one transaction)
  crowd-kit DS    crowdkit.aggregation.DawidSkene on the same ratings (the reference), with the
                  largest difference of its posteriors from ours

The target: collect + fit + write <= 60 s at 219,000 samples. Accuracy against the known truth
is printed for the vote and the fit.

    .venv/bin/python bench/consensus_speed.py --sizes 20000,219000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/consensus_speed.py --sizes 219000 --postgres
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._raters import answers, model_confusions, person_confusions, skewed_truth  # noqa: E402

N_PEOPLE = 20
SHARE_CRITIC = 0.1
SHARE_PEOPLE = 0.1
SAMPLE_COLUMNS = [
    "id", "dataset_id", "external_id", "image_path", "source", "width", "height",
    "content_hash", "status", "suggested_emotion", "vote_margin", "dispute_reasons",
    "human_check", "gold_emotion", "created_at", "updated_at",
]  # fmt: skip
PROPOSAL_COLUMNS = [
    "sample_id", "model_name", "description", "emotion", "confidence", "background",
    "attribute", "subject", "distribution", "prompt_version", "raw", "created_at", "updated_at",
]  # fmt: skip
VERDICT_COLUMNS = [
    "sample_id", "model_name", "verdict", "emotion", "reasoning", "instructions", "checks",
    "prompt_version", "round", "created_at",
]  # fmt: skip
ANNOTATION_COLUMNS = [
    "sample_id", "annotator_id", "emotion", "confidence", "background", "attribute", "subject",
    "notes", "time_spent_ms", "source", "created_at",
]  # fmt: skip


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _common.cpu_seconds()
    result = fn()
    return result, time.perf_counter() - wall, _common.cpu_seconds() - cpu


def build(n: int, seed: int = 7) -> tuple[Any, np.ndarray]:
    """The dataset and its samples' true label indices (in sample id order)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from annotator.models import Dataset, Taxonomy
    from bench._queue_data import _write

    labels = _common.EMOTIONS
    rng = np.random.default_rng(seed)
    truth = skewed_truth(rng, n, len(labels))
    dataset = Dataset.objects.create(
        name="bench-consensus", taxonomy=Taxonomy.objects.get(name="mikels8")
    )
    user_model = get_user_model()
    people = [user_model.objects.create(username=f"bench-person-{i}") for i in range(N_PEOPLE)]
    said = [answers(rng, truth, c) for c in model_confusions(len(labels))]
    people_confusion = person_confusions(rng, N_PEOPLE, len(labels))
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, n, 20_000):
            part = range(start, min(n, start + 20_000))
            rows = _rows(dataset.pk, part, truth, said, rng, people, people_confusion, now)
            for table, columns, values in zip(
                ("annotator_sample", "annotator_proposal", "annotator_criticverdict",
                 "review_annotation"),
                (SAMPLE_COLUMNS, PROPOSAL_COLUMNS, VERDICT_COLUMNS, ANNOTATION_COLUMNS),
                rows,
                strict=True,
            ):  # fmt: skip
                _write(cursor, table, columns, values)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('annotator_sample', 'id'), %s)", [n]
            )
            cursor.execute("ANALYZE")
    return dataset, truth


def _rows(dataset_id, part, truth, said, rng, people, people_confusion, now):  # type: ignore[no-untyped-def]
    labels = _common.EMOTIONS
    samples, proposals, verdicts, annotations = [], [], [], []
    for i in part:
        samples.append((
            i + 1, dataset_id, f"img-{i:07d}", f"s/{i:07d}.jpg", "EmoSet", 640, 480,
            f"{i:064x}", "disputed", labels[said[0][i]], 0.5, "[]", False, "", now, now,
        ))  # fmt: skip
        for m, model in enumerate(_common.MODELS):
            proposals.append((
                i + 1, model, "", labels[said[m][i]], 7.0, "", "", "", "{}", "", "{}", now, now,
            ))  # fmt: skip
        if rng.random() < SHARE_CRITIC:
            verdicts.append((i + 1, "critic", "revise", labels[said[1][i]], "", "", "{}", "",
                             1, now))  # fmt: skip
        if rng.random() < SHARE_PEOPLE:
            for p in rng.choice(N_PEOPLE, size=2, replace=False):
                emotion = labels[answers(rng, truth[i : i + 1], people_confusion[p])[0]]
                annotations.append((i + 1, people[p].pk, emotion, 7.0, "", "", "", "", 0,
                                    "app", now))  # fmt: skip
    return samples, proposals, verdicts, annotations


def weighted_vote(dataset: Any) -> np.ndarray:
    """The app's vote over every sample's proposals: the suggested label index per sample."""
    from annotator.models import Proposal
    from annotator.services.verification import Vote, cross_verify

    labels = list(dataset.taxonomy.labels)
    index = {label: i for i, label in enumerate(labels)}
    weights = dataset.model_weights or {}
    chosen: list[int] = []
    votes: list[Vote] = []
    current = None
    rows = Proposal.objects.filter(sample__dataset=dataset).order_by("sample_id")
    for sample_id, model_name, emotion in rows.values_list(
        "sample_id", "model_name", "emotion"
    ).iterator(chunk_size=20_000):
        if sample_id != current and votes:
            chosen.append(index[cross_verify(votes=votes, weights=weights, labels=labels)
                                .suggested_emotion])  # fmt: skip
            votes = []
        current = sample_id
        votes.append(Vote(model_name=model_name, emotion=emotion))
    if votes:
        chosen.append(index[cross_verify(votes=votes, weights=weights, labels=labels)
                            .suggested_emotion])  # fmt: skip
    return np.asarray(chosen)


def measure(n: int, *, crowdkit: bool, also: list[str]) -> dict[str, Any]:
    from review.models_consensus import ConsensusFit
    from review.services.latent_fit import crowdkit_probs, fit_ratings
    from review.services.latent_jobs import claim_consensus_fit, write_posteriors
    from review.services.latent_ratings import collect_ratings

    (dataset, truth), build_s, _ = timed(lambda: build(n))
    result: dict[str, Any] = {"n": n, "build_s": build_s}
    vote, *result["vote"] = timed(lambda: weighted_vote(dataset))
    pending = ConsensusFit.objects.create(dataset=dataset, labels=list(dataset.taxonomy.labels))
    fit = claim_consensus_fit(fit_id=pending.pk)
    assert fit is not None
    started = time.perf_counter()
    ratings, *result["collect"] = timed(lambda: collect_ratings(dataset=dataset))
    output, *result["fit"] = timed(lambda: fit_ratings(ratings=ratings))
    _, *result["write"] = timed(
        lambda: write_posteriors(fit=fit, ratings=ratings, output=output, started=started)
    )
    result["n_ratings"] = ratings.n_ratings
    result["vote_accuracy"] = float((vote == truth).mean())
    result["fit_accuracy"] = float((output.label == truth[ratings.sample_ids - 1]).mean())
    if crowdkit:
        used, compact = np.unique(ratings.label, return_inverse=True)
        reference, *result["crowdkit"] = timed(
            lambda: crowdkit_probs(
                method="dawid_skene",
                task=ratings.task,
                rater=ratings.rater,
                label=compact,
                n_labels=used.size,
            )
        )
        result["crowdkit_diff"] = float(np.abs(output.probs[:, used] - reference).max())
    for method in also:  # MACE, GLAD: crowd-kit itself, through the app's fit
        run = partial(fit_ratings, ratings=ratings, method=method)
        _, *result[f"fit {method} (crowd-kit)"] = timed(run)
    return result


def report(results: list[dict[str, Any]], *, postgres: bool) -> None:
    print(f"Machine: {_common.machine()}")
    print(f"Database: {'PostgreSQL' if postgres else 'SQLite'}\n")
    headers = ["samples", "ratings", "step", "wall s", "CPU s", "x vote (wall)", "x vote (CPU)"]
    rows: list[list[object]] = []
    for r in results:
        vote_wall, vote_cpu = r["vote"]
        steps = [("weighted vote", r["vote"]), ("collect", r["collect"]), ("fit", r["fit"])]
        steps.append(("write", r["write"]))
        total = [sum(r[k][i] for k in ("collect", "fit", "write")) for i in (0, 1)]
        steps.append(("consensus total", total))
        if "crowdkit" in r:
            steps.append(("crowd-kit DS (fit only)", r["crowdkit"]))
        steps += [(key, value) for key, value in r.items() if key.startswith("fit ")]
        for name, (wall, cpu) in steps:
            rows.append([r["n"], r["n_ratings"], name, f"{wall:.1f}", f"{cpu:.1f}",
                         f"{wall / vote_wall:.1f}", f"{cpu / vote_cpu:.1f}"])  # fmt: skip
    _common.print_table(headers, rows)
    for r in results:
        line = (
            f"\n{r['n']} samples: label accuracy against the truth: weighted vote "
            f"{r['vote_accuracy']:.4f}, Dawid-Skene {r['fit_accuracy']:.4f}"
        )
        if "crowdkit_diff" in r:
            line += f"; largest |ours - crowd-kit| posterior difference {r['crowdkit_diff']:.1e}"
        print(line)


def one_size(n: int, *, postgres: bool, crowdkit: bool, also: list[str]) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-consensus-"))
    if not postgres:
        _common.setup_django(data_dir)
        _common.migrate()
        return measure(n, crowdkit=crowdkit, also=also)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("--postgres needs DATABASE_URL=postgres://...")
    with _common.scratch_postgres(url, prefix="bench_consensus"):
        _common.setup_django_migrated(data_dir)
        return measure(n, crowdkit=crowdkit, also=also)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="219000")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-crowdkit", action="store_true", help="skip the reference fit")
    parser.add_argument("--also", default="", help="more methods to time: mace,glad")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size, JSON
    args = parser.parse_args()
    flags = ["--postgres"] * args.postgres + ["--no-crowdkit"] * args.no_crowdkit
    flags += [f"--also={args.also}"] * bool(args.also)
    also = [method for method in args.also.split(",") if method]
    if args.one:
        result = one_size(
            args.one, postgres=args.postgres, crowdkit=not args.no_crowdkit, also=also
        )
        print(json.dumps(result))
        return
    results = []
    for n in [int(size) for size in args.sizes.split(",")]:
        # A fresh process per size: Django is set up once a process, on that size's database.
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(n), *flags],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    report(results, postgres=args.postgres)


if __name__ == "__main__":
    main()

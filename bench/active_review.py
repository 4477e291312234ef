"""Where to send people: label accuracy against the number of human answers, by review order.

A synthetic dataset with known truth (8 labels, skewed): every sample rated by three models with
known, biased confusion matrices (bench/_raters.py: right 55-70%, each with a favourite wrong
answer), then people (right 75-90%, errors even) answer in rounds of --batch. Before each round
the app's own fit runs (review.services.latent_fit.fit_ratings: Dawid-Skene over models and the
answers so far) and the order picks the next samples:

  id               the queue by id: each sample once, in turn (then a second pass, a third)
  random           the same over a random permutation
  entropy          the highest posterior entropy first (Dataset.review_order "entropy")
  expected_change  the highest P(one more answer changes the label) first

A sample gets at most --max-per-sample answers (the team's overlap). Accuracy is the fit's most
probable label against the truth over all samples, averaged over --seeds. The summary gives, per
order, the answers needed to reach the accuracy random order reaches with the whole budget.

    .venv/bin/python bench/active_review.py                # 4,000 samples, budget = 1 x N
    .venv/bin/python bench/active_review.py --samples 20000 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo root, not bench/

from bench import _common  # noqa: E402
from bench._raters import (  # noqa: E402
    answers,
    model_confusions,
    person_confusions,
    skewed_truth,
)

ORDERS = ("id", "random", "entropy", "expected_change")
N_LABELS = 8
N_PEOPLE = 12


class Simulation:
    """One synthetic dataset and the answers people have given so far."""

    def __init__(self, *, n: int, seed: int, max_per_sample: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.truth = skewed_truth(self.rng, n, N_LABELS)
        self.people = person_confusions(self.rng, N_PEOPLE, N_LABELS)
        self.max_per_sample = max_per_sample
        task, rater, label = [], [], []
        for r, confusion in enumerate(model_confusions(N_LABELS)):
            task.append(np.arange(n))
            rater.append(np.full(n, r))
            label.append(answers(self.rng, self.truth, confusion))
        self.task = list(np.concatenate(task))
        self.rater = list(np.concatenate(rater))
        self.label = list(np.concatenate(label))
        self.n_models = len(task)
        self.asked = np.zeros(n, dtype=np.int64)
        self.who: list[set[int]] = [set() for _ in range(n)]

    def ratings(self) -> Any:
        from review.services.latent_ratings import MODEL, PERSON, Ratings

        n = self.truth.size
        keys = [f"model:m{r}" for r in range(self.n_models)]
        keys += [f"person:{p}" for p in range(N_PEOPLE)]
        return Ratings(
            labels=[f"l{i}" for i in range(N_LABELS)],
            sample_ids=np.arange(n, dtype=np.int64),
            task=np.asarray(self.task, dtype=np.int32),
            rater=np.asarray(self.rater, dtype=np.int32),
            label=np.asarray(self.label, dtype=np.int32),
            rater_keys=keys,
            rater_kinds=[MODEL] * self.n_models + [PERSON] * N_PEOPLE,
            rater_names=keys,
        )

    def answer(self, samples: np.ndarray) -> None:
        """One person's answer on each sample (a person answers a sample once)."""
        for s in samples:
            free = [p for p in range(N_PEOPLE) if p not in self.who[s]]
            person = int(self.rng.choice(free))
            self.who[s].add(person)
            said = answers(self.rng, self.truth[s : s + 1], self.people[person])[0]
            self.task.append(int(s))
            self.rater.append(self.n_models + person)
            self.label.append(int(said))
            self.asked[s] += 1


def pick(order: str, sim: Simulation, fitted: Any, batch: int, permutation: np.ndarray) -> Any:
    """The next `batch` samples under `order` (each at most once a round)."""
    open_ = sim.asked < sim.max_per_sample
    if order in ("id", "random"):
        sequence = np.arange(sim.truth.size) if order == "id" else permutation
        # Fewest answers first, then the order's sequence: pass after pass.
        rank = np.empty_like(sequence)
        rank[sequence] = np.arange(sequence.size)
        key = sim.asked * sequence.size + rank
    else:
        score = fitted.entropy if order == "entropy" else fitted.expected_change
        key = np.argsort(np.argsort(-score, kind="stable"), kind="stable")
    candidates = np.nonzero(open_)[0]
    return candidates[np.argsort(key[candidates], kind="stable")[:batch]]


def run(order: str, *, n: int, seed: int, budget: int, batch: int, max_per: int) -> list[float]:
    """Accuracy after 0, batch, 2 batch, ... answers."""
    from review.services.latent_fit import fit_ratings

    sim = Simulation(n=n, seed=seed, max_per_sample=max_per)
    permutation = np.random.default_rng(seed + 1000).permutation(n)
    curve = []
    for given in range(0, budget + 1, batch):
        fitted = fit_ratings(ratings=sim.ratings())
        curve.append(float((fitted.label == sim.truth).mean()))
        if given < budget:
            sim.answer(pick(order, sim, fitted, batch, permutation))
    return curve


def answers_to_reach(curve: list[float], target: float, batch: int) -> int | None:
    for step, accuracy in enumerate(curve):
        if accuracy >= target - 1e-12:
            return step * batch
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--budget", type=float, default=1.0, help="answers, times --samples")
    parser.add_argument("--batch", type=float, default=0.05, help="a round, times --samples")
    parser.add_argument("--max-per-sample", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    _common.setup_django(Path(__import__("tempfile").mkdtemp(prefix="bench-active-")))
    n, batch = args.samples, max(1, int(args.batch * args.samples))
    budget = int(args.budget * n) // batch * batch
    started, cpu = time.perf_counter(), _common.cpu_seconds()
    curves = {
        order: np.mean(
            [
                run(order, n=n, seed=s, budget=budget, batch=batch, max_per=args.max_per_sample)
                for s in range(args.seeds)
            ],
            axis=0,
        )
        for order in ORDERS
    }
    report(curves, n=n, batch=batch, budget=budget, args=args)
    print(f"\n{time.perf_counter() - started:.0f} s wall, {_common.cpu_seconds() - cpu:.0f} s CPU")


def report(curves: dict[str, Any], *, n: int, batch: int, budget: int, args: Any) -> None:
    print(f"Machine: {_common.machine()}")
    print(
        f"{n} samples, 8 labels, 3 biased models on every sample, {N_PEOPLE} people; "
        f"rounds of {batch} answers, at most {args.max_per_sample} a sample; "
        f"mean of {args.seeds} seeds\n"
    )
    steps = list(range(0, budget + 1, batch))
    shown = [
        i for i in range(len(steps)) if i % max(1, len(steps) // 10) == 0 or i == len(steps) - 1
    ]
    headers = ["human answers", *ORDERS]
    rows = [[steps[i], *(f"{curves[o][i]:.4f}" for o in ORDERS)] for i in shown]
    _common.print_table(headers, rows)
    target = float(curves["random"][-1])
    print(f"\nAnswers to reach random order's accuracy at {budget} answers ({target:.4f}):")
    summary = []
    for order in ORDERS:
        needed = answers_to_reach(list(curves[order]), target, batch)
        saved = "" if needed is None else f"{1 - needed / budget:.0%}"
        summary.append([order, "not reached" if needed is None else needed, saved])
    _common.print_table(["order", "answers", "fewer than random"], summary)


if __name__ == "__main__":
    main()

"""Items per hour, time per item and distinct items per annotator."""

from __future__ import annotations

import numpy as np
import pytest

from review.stats import distinct_items, throughput


def test_recorded_times_win_and_gaps_fill_in_up_to_the_idle_limit():
    annotators = ["bo", "ann", "ann", "ann", "ann", "bo"]
    decided_at = [100, 1000, 1030, 1090, 9000, 160]  # out of order on purpose
    spent = [0, 20, 0, 0, 0, 45]
    result = throughput(annotators, decided_at, spent, idle_gap_s=600)
    # ann: 20 s recorded, then gaps 30 s and 60 s; 7910 s is a break, the first has no gap.
    assert result["ann"] == {
        "items": 4,
        "timed_items": 3,
        "active_hours": pytest.approx(110 / 3600),
        "items_per_hour": pytest.approx(3 * 3600 / 110),
        "median_seconds_per_item": 30.0,
    }
    # bo: first item unknown, second recorded 45 s.
    assert result["bo"]["timed_items"] == 1
    assert result["bo"]["median_seconds_per_item"] == 45.0
    assert result["bo"]["items_per_hour"] == pytest.approx(80.0)


def test_median_of_an_even_count_and_an_untimed_annotator():
    result = throughput([1, 1, 1, 1, 2], [0, 1, 2, 3, 5], [10, 20, 40, 30, 0])
    assert result[1]["median_seconds_per_item"] == 25.0
    assert result[2] == {
        "items": 1,
        "timed_items": 0,
        "active_hours": 0.0,
        "items_per_hour": None,
        "median_seconds_per_item": None,
    }


def test_empty_and_mismatched_input():
    assert throughput(np.array([], dtype=str), [], []) == {}
    with pytest.raises(ValueError, match="differ in length"):
        throughput(["a"], [1, 2], [1])


def brute_throughput(who, when, spent, idle_gap_s):
    result = {}
    for name in sorted(set(who)):
        rows = sorted((t, s) for w, t, s in zip(who, when, spent, strict=True) if w == name)
        seconds = []
        for i, (t, s) in enumerate(rows):
            if s > 0:
                seconds.append(s)
            elif i and t - rows[i - 1][0] <= idle_gap_s:
                seconds.append(t - rows[i - 1][0])
        result[name] = (len(rows), len(seconds), sum(seconds), seconds)
    return result


@pytest.mark.parametrize("seed", range(4))
def test_matches_plain_loops_on_random_sessions(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    who = rng.choice(["ann", "bo", "cy", "di", "ed"], size=n)
    when = rng.uniform(0, 86400, size=n)  # distinct times, unsorted
    spent = np.where(rng.random(n) < 0.5, rng.gamma(2, 20, size=n), 0.0)
    got = throughput(who, when, spent, idle_gap_s=300)
    expected = brute_throughput(who.tolist(), when.tolist(), spent.tolist(), 300)
    assert set(got) == set(expected)
    for name, (items, timed, active, seconds) in expected.items():
        row = got[name]
        assert (row["items"], row["timed_items"]) == (items, timed)
        assert row["active_hours"] == pytest.approx(active / 3600, rel=1e-12)
        assert row["items_per_hour"] == pytest.approx(timed * 3600 / active, rel=1e-12)
        assert row["median_seconds_per_item"] == pytest.approx(float(np.median(seconds)))


def test_distinct_items_counts_each_sample_once_per_annotator():
    # ann has two rows on sample 7 (a revision); bo decided sample 7 too.
    who = ["ann", "ann", "ann", "bo", "cy", "ann"]
    samples = [7, 7, 3, 7, 1, 9]
    assert distinct_items(who, samples) == {"ann": 3, "bo": 1, "cy": 1}
    assert distinct_items(np.array([], dtype=str), []) == {}
    with pytest.raises(ValueError, match="differ in length"):
        distinct_items(["a"], [1, 2])


def test_distinct_items_matches_sets_on_random_rows():
    rng = np.random.default_rng(5)
    who = rng.integers(0, 40, 5000)
    samples = rng.integers(0, 700, 5000)
    expected: dict[int, set[int]] = {}
    for w, s in zip(who.tolist(), samples.tolist(), strict=True):
        expected.setdefault(w, set()).add(s)
    assert distinct_items(who, samples) == {w: len(s) for w, s in expected.items()}

"""Agreement on a sequential yes/no protocol (review.stats.protocol), on simulated votes and on
EmoNet-Face's real ones (../shared, when present)."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pytest

from review.stats import krippendorff_alpha
from review.stats.protocol import binary_agreement, protocol_figures

EMONET = Path(__file__).resolve().parents[3] / ".." / "shared/datasets/emonet-face/binary.csv"


def _matrix(unit: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Units x vote slots, NaN where a unit has fewer votes."""
    order = np.argsort(unit, kind="stable")
    counts = np.bincount(unit)
    slot = np.empty(len(unit), dtype=np.int64)
    slot[order] = np.arange(len(unit)) - np.repeat(np.cumsum(counts) - counts, counts)
    matrix = np.full((len(counts), int(counts.max())), np.nan)
    matrix[unit, slot] = value
    return matrix


def _sequential(seed: int, *, units: int, prevalence: float, conditional: bool):
    """First votes for every unit; a second and third vote after a first yes (`conditional`)
    or for a random share of units as large."""
    rng = np.random.default_rng(seed)
    truth = rng.random(units) < prevalence
    first = np.where(rng.random(units) < 0.85, truth, ~truth)
    asked = first if conditional else rng.random(units) < first.mean()
    followers = np.flatnonzero(asked)
    extra = np.concatenate([followers, followers])
    extra_votes = np.where(rng.random(len(extra)) < 0.85, truth[extra], ~truth[extra])
    unit = np.concatenate([np.arange(units), extra])
    value = np.concatenate([first, extra_votes]).astype(np.float64)
    return unit, value


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_equals_the_general_alpha_and_the_krippendorff_package(seed):
    unit, value = _sequential(seed, units=400, prevalence=0.4, conditional=True)
    yes = np.bincount(unit, weights=value).astype(np.float64)
    total = np.bincount(unit).astype(np.float64)
    matrix = _matrix(unit, value)
    ours = binary_agreement(yes, total).alpha
    assert ours == pytest.approx(krippendorff_alpha(matrix, level="nominal"), abs=1e-12)
    reference = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement="nominal")
    assert ours == pytest.approx(reference, abs=1e-9)


def test_pairwise_and_chance_agreement_by_hand():
    # Unit 0: yes, yes, no (1 of 3 pairs agree); unit 1: no, no (1 of 1); unit 2: one yes.
    unit = np.array([0, 0, 0, 1, 1, 2])
    value = np.array([1, 1, 0, 0, 0, 1], dtype=float)
    f = protocol_figures(unit, value)
    assert (f.units, f.votes, f.single_units, f.multi_units, f.pairs) == (3, 6, 1, 2, 4)
    assert f.pairwise_agreement == pytest.approx(2 / 4)
    # Pairable values: 2 yes, 3 no -> chance = (2*1 + 3*2) / (5*4).
    assert f.chance_agreement == pytest.approx(8 / 20)
    assert f.yes_share == pytest.approx(3 / 6) and f.single_yes_share == 1.0
    assert f.multi_yes_share == pytest.approx(2 / 5)
    assert [(r.votes, r.units) for r in f.by_votes] == [(1, 1), (2, 1), (3, 1)]
    assert f.by_votes[1].pairwise_agreement == 1.0 and f.by_votes[1].alpha is None
    assert f.warnings == []  # too few units to judge the design


def test_follow_ups_after_a_yes_are_named_with_their_figures():
    unit, value = _sequential(7, units=3000, prevalence=0.3, conditional=True)
    f = protocol_figures(unit, value)
    assert f.multi_yes_share is not None and f.single_yes_share is not None
    assert f.multi_yes_share - f.single_yes_share > 0.5
    assert len(f.warnings) >= 1
    warning = f.warnings[0]
    assert f"{f.multi_yes_share:.1%}" in warning and f"{f.single_yes_share:.1%}" in warning
    assert f"{f.multi_units:,} units with two or more votes" in warning


def test_random_follow_ups_raise_no_warning():
    unit, value = _sequential(7, units=3000, prevalence=0.3, conditional=False)
    f = protocol_figures(unit, value)
    assert f.multi_yes_share is not None and f.single_yes_share is not None
    assert abs(f.multi_yes_share - f.single_yes_share) < 0.05
    assert f.warnings == []
    assert f.alpha is not None and f.alpha > 0.3  # good raters, honest alpha


def test_no_votes_and_single_votes_only():
    empty = protocol_figures(np.array([], dtype=int), np.array([]))
    assert (empty.units, empty.yes_share, empty.alpha, empty.by_votes) == (0, None, None, [])
    single = protocol_figures(np.arange(5), np.ones(5))
    assert single.pairs == 0 and single.pairwise_agreement is None and single.alpha is None
    with pytest.raises(ValueError):
        protocol_figures(np.arange(3), np.ones(2))


@pytest.mark.skipif(not EMONET.exists(), reason="../shared EmoNet-Face votes not present")
def test_emonet_face_figures_as_the_issue_states_them():
    pandas = pytest.importorskip("pandas")
    votes = pandas.read_csv(EMONET, dtype={"path": str})
    unit = votes.groupby(["path", "emotion"]).ngroup().to_numpy()
    f = protocol_figures(unit, votes["value"].astype(float).to_numpy())
    assert (f.units, f.votes) == (39_998, 65_686)
    assert [(r.votes, r.units) for r in f.by_votes] == [(1, 25_328), (2, 3_652), (3, 11_018)]
    assert f.yes_share == pytest.approx(0.575, abs=5e-4)
    assert f.single_yes_share == pytest.approx(0.120, abs=5e-4)
    assert f.alpha == pytest.approx(-0.16, abs=5e-3)
    assert f.pairwise_agreement == pytest.approx(0.79, abs=5e-3)
    assert f.multi_units_without_yes == 0  # nobody was asked again after a first no
    assert len(f.warnings) == 2
    assert "86.1%" in f.warnings[0] and "12.0%" in f.warnings[0] and "57.5%" in f.warnings[0]
    assert "-0.16" in f.warnings[1] and "79.5%" in f.warnings[1]

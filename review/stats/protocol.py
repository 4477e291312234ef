"""Agreement on a sequential yes/no protocol (EmoNet-Face Binary): when a second and third
person are asked mainly after a first yes, the units with several votes are not a sample of all
units, and Krippendorff's alpha (which only ever reads units with two or more votes) describes
that skewed subset. These figures say how the votes are spread over units, compare the yes-share
of single- and multi-vote units, compute agreement on the multiply-rated units only, and name
the reasons alpha misleads, with the figures.

Input: one entry per vote, its unit (0..U-1) and its value (1.0 yes, 0.0 no). Vectorised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

# A gap this wide between the yes-shares of single- and multi-vote units means who got a
# follow-up depended on the answers (EmoNet-Face: 12.0% against 86.1%).
DESIGN_GAP = 0.20
# Fewer units than this in either group: the gap is noise, no warning.
MIN_UNITS = 20
# Alpha this low while this share of pairs agree: the prevalence, not the raters, drives alpha
# (the "kappa paradox").
PARADOX_ALPHA = 0.20
PARADOX_AGREEMENT = 0.70


@dataclass(frozen=True)
class VoteCount:
    """The units that got exactly `votes` votes."""

    votes: int
    units: int
    unit_share: float  # of all units with a vote
    yes_share: float  # of those units' votes
    pairs: int
    pairwise_agreement: float | None
    alpha: float | None


@dataclass(frozen=True)
class ProtocolFigures:
    units: int  # units with at least one vote
    votes: int
    yes_share: float | None  # over every vote
    single_units: int
    single_yes_share: float | None  # over the single-vote units' votes
    multi_units: int
    multi_votes: int
    multi_yes_share: float | None  # over the multiply-rated units' votes
    multi_units_without_yes: int
    multi_units_without_no: int
    pairs: int  # pairs of votes within a unit (only multi-vote units have any)
    pairwise_agreement: float | None  # on the multiply-rated units
    chance_agreement: float | None  # what alpha expects by chance there (pooled prevalence)
    alpha_agreement: float | None  # what alpha observes there (each unit weighs its votes)
    alpha: float | None  # nominal Krippendorff's alpha on the multiply-rated units
    by_votes: list[VoteCount] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _share(part: float, whole: float) -> float | None:
    return float(part) / float(whole) if whole else None


@dataclass(frozen=True)
class BinaryAgreement:
    pairs: int = 0
    pairwise: float | None = None  # share of agreeing pairs
    chance: float | None = None  # alpha's expected agreement: 1 - D_e
    observed: float | None = None  # alpha's observed agreement: 1 - D_o
    alpha: float | None = None


def binary_agreement(
    yes: npt.NDArray[np.float64], total: npt.NDArray[np.float64]
) -> BinaryAgreement:
    """Agreement from per-unit yes and vote counts; units with fewer than two votes are not
    pairable and count for nothing.

    Alpha through the coincidence matrix of two values: with n_1 yes and n_0 no votes in
    pairable units and o_01 = sum(yes * no / (m - 1)) per unit, D_o = 2 o_01 / n,
    D_e = 2 n_0 n_1 / (n (n - 1)) (Krippendorff 2011). Each unit's pairs weigh 1 / (m - 1),
    so alpha weighs a unit by its votes, the pairwise share by its pairs.
    """
    pairable = total >= 2
    y, m = yes[pairable], total[pairable]
    no = m - y
    pairs = float((m * (m - 1)).sum()) / 2
    agreeing = float((y * (y - 1) + no * (no - 1)).sum()) / 2
    n1, n0 = float(y.sum()), float(no.sum())
    n = n0 + n1
    if not pairs:
        return BinaryAgreement()
    observed = 1.0 - 2 * float((y * no / (m - 1)).sum()) / n
    chance = 1.0 - 2 * n0 * n1 / (n * (n - 1))
    alpha = 1.0 - (1.0 - observed) / (1.0 - chance) if n0 and n1 else None
    return BinaryAgreement(int(pairs), agreeing / pairs, chance, observed, alpha)


def _by_votes(yes: npt.NDArray[np.float64], total: npt.NDArray[np.float64]) -> list[VoteCount]:
    rated = total > 0
    rows = []
    for k in np.unique(total[rated]).astype(int).tolist():
        chosen = total == k
        agreement = binary_agreement(yes[chosen], total[chosen])
        rows.append(
            VoteCount(
                votes=k,
                units=int(chosen.sum()),
                unit_share=float(chosen.sum() / rated.sum()),
                yes_share=float(yes[chosen].sum() / total[chosen].sum()),
                pairs=agreement.pairs,
                pairwise_agreement=agreement.pairwise,
                alpha=agreement.alpha,
            )
        )
    return rows


def protocol_figures(
    unit: npt.ArrayLike, value: npt.ArrayLike, *, n_units: int | None = None
) -> ProtocolFigures:
    """The figures of a yes/no protocol from its votes (`unit` codes, `value` 1.0/0.0)."""
    units = np.asarray(unit, dtype=np.int64).reshape(-1)
    values = np.asarray(value, dtype=np.float64).reshape(-1)
    if units.shape != values.shape:
        raise ValueError("unit and value must have one entry per vote")
    size = max(n_units or 0, int(units.max()) + 1 if len(units) else 0)
    total = np.bincount(units, minlength=size).astype(np.float64)
    yes = np.bincount(units, weights=values, minlength=size).astype(np.float64)
    single, multi = total == 1, total >= 2
    agreement = binary_agreement(yes, total)
    figures = ProtocolFigures(
        units=int((total > 0).sum()),
        votes=len(values),
        yes_share=_share(yes.sum(), total.sum()),
        single_units=int(single.sum()),
        single_yes_share=_share(yes[single].sum(), total[single].sum()),
        multi_units=int(multi.sum()),
        multi_votes=int(total[multi].sum()),
        multi_yes_share=_share(yes[multi].sum(), total[multi].sum()),
        multi_units_without_yes=int((multi & (yes == 0)).sum()),
        multi_units_without_no=int((multi & (yes == total)).sum()),
        pairs=agreement.pairs,
        pairwise_agreement=agreement.pairwise,
        chance_agreement=agreement.chance,
        alpha_agreement=agreement.observed,
        alpha=agreement.alpha,
        by_votes=_by_votes(yes, total),
    )
    found = [design_warning(figures), paradox_warning(figures)]
    return replace(figures, warnings=[w for w in found if w])


def design_warning(f: ProtocolFigures) -> str | None:
    """The yes-share differs between single- and multi-vote units: follow-ups were not random."""
    if f.single_units < MIN_UNITS or f.multi_units < MIN_UNITS:
        return None
    assert f.single_yes_share is not None and f.multi_yes_share is not None
    if abs(f.multi_yes_share - f.single_yes_share) < DESIGN_GAP:
        return None
    lacking, what = (
        (f.multi_units_without_yes, "yes")
        if f.multi_yes_share > f.single_yes_share
        else (f.multi_units_without_no, "no")
    )
    return (
        f"Follow-up votes depend on earlier answers: the yes-share is {f.multi_yes_share:.1%} on "
        f"the {f.multi_units:,} units with two or more votes but {f.single_yes_share:.1%} on the "
        f"{f.single_units:,} single-vote units ({f.yes_share:.1%} overall), and "
        f"{lacking:,} multi-vote units have no {what}. Agreement here describes that subset, "
        f"not the dataset."
    )


def paradox_warning(f: ProtocolFigures) -> str | None:
    """Alpha is low although most pairs agree: chance agreement (the prevalence) is high."""
    if f.alpha is None or f.pairwise_agreement is None:
        return None
    if f.alpha >= PARADOX_ALPHA or f.pairwise_agreement < PARADOX_AGREEMENT:
        return None
    return (
        f"Krippendorff's alpha is {f.alpha:.2f} while {f.pairwise_agreement:.1%} of "
        f"{f.pairs:,} pairs agree: on the multiply-rated units {f.multi_yes_share:.1%} of votes "
        f"are yes, so alpha expects {f.chance_agreement:.1%} agreement by chance, and it "
        f"observes {f.alpha_agreement:.1%} (alpha weighs a unit by its votes, not its pairs). "
        f"Read the pairwise agreement and the yes-share by number of votes, not alpha alone."
    )

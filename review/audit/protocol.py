"""The audit's section on a sequential yes/no protocol (review.stats.protocol): how the votes
spread over units, the yes-share of single- and multi-vote units, agreement on the multiply-rated
units, and why alpha misleads here, with the figures."""

from __future__ import annotations

from typing import Any

from review.audit.tables import Figures, Table, coefficient, count, share, text

PROTOCOL = "binary-protocol"
PROTOCOL_VOTES = "binary-protocol-votes"
TABLES = (PROTOCOL, PROTOCOL_VOTES)


def protocol_table(fig: Figures) -> Table | None:
    p = fig.get("binary_protocol")
    if not p:
        return None
    table = Table(
        PROTOCOL, "Binary protocol: agreement where it can be measured", ["figure", "value"]
    )
    table.rows = [
        [text("units (sample, emotion) with a vote"), count(p["units"])],
        [text("votes"), count(p["votes"])],
        [text("yes-share, every vote"), share(p["yes_share"])],
        [text("single-vote units"), count(p["single_units"])],
        [text("yes-share on single-vote units"), share(p["single_yes_share"])],
        [text("units with two or more votes"), count(p["multi_units"])],
        [text("yes-share on those units"), share(p["multi_yes_share"])],
        [text("of those, units without a yes"), count(p["multi_units_without_yes"])],
        [text("of those, units without a no"), count(p["multi_units_without_no"])],
        [text("pairs of votes (multi-vote units)"), count(p["pairs"])],
        [text("pairwise agreement (multi-vote units)"), share(p["pairwise_agreement"])],
        [text("agreement alpha expects by chance"), share(p["chance_agreement"])],
        [text("agreement alpha observes"), share(p["alpha_agreement"])],
        [text("Krippendorff's alpha (multi-vote units)"), coefficient(p["alpha"])],
    ]
    table.note = (
        "Alpha and pairwise agreement can only read units with two or more votes; a unit "
        "with one vote tells nothing about agreement."
    )
    return table


def votes_table(fig: Figures) -> Table | None:
    p = fig.get("binary_protocol")
    if not p:
        return None
    table = Table(
        PROTOCOL_VOTES,
        "Binary protocol: units by number of votes",
        ["votes per unit", "units", "share of units", "yes-share", "pairs", "pairwise agreement",
         "Krippendorff's alpha"],
    )  # fmt: skip
    for row in p["by_votes"]:
        table.rows.append(
            [
                text(row["votes"]),
                count(row["units"]),
                share(row["unit_share"]),
                share(row["yes_share"]),
                count(row["pairs"]),
                share(row["pairwise_agreement"]),
                coefficient(row["alpha"]),
            ]
        )
    return table


def protocol_tables(fig: Figures) -> dict[str, Table]:
    tables = {PROTOCOL: protocol_table(fig), PROTOCOL_VOTES: votes_table(fig)}
    return {slug: table for slug, table in tables.items() if table is not None}


def protocol_section(*, figures: Figures, url: Any) -> dict[str, Any] | None:
    """The section for the dashboard (`url(slug)`: a table's own URL); None unless the people
    voted yes/no."""
    tables = protocol_tables(figures)
    if not tables:
        return None
    return {
        "warnings": figures["binary_protocol"]["warnings"],
        "tables": [{"table": table, "url": url(slug)} for slug, table in tables.items()],
    }

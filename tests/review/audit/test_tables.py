"""The audit's rate tables (name, hits, compared, rate): each cell's value, text and the
drill-down behind it."""

from __future__ import annotations

from typing import Any

from review.audit.tables import audit_table


def _link(figure: str, **params: str) -> str:
    return f"{figure}?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))


def _row(**values: Any) -> dict[str, Any]:
    return {"hits": 3, "n": 4, "rate": 0.75, **values}


FIGURES: dict[str, Any] = {
    "disputes": {"by_label": [_row(label="awe")], "by_source": [_row(source="web")]},
    "models_vs_final": [_row(model="gpt-4o")],
    "critic_overturns": [_row(verdict="drop")],
}


def _cells(slug: str) -> list[tuple[Any, str, str]]:
    table = audit_table(slug, figures=FIGURES, link=_link)
    assert table is not None and len(table.rows) == 1
    return [(cell.value, cell.text, cell.href) for cell in table.rows[0]]


def test_disputes_link_the_disputed_and_all_compared_samples():
    assert _cells("disputes-by-emotion") == [
        ("awe", "awe", ""),
        (3, "3", "disputes?label=awe"),
        (4, "4", "disputes?all=1&label=awe"),
        (0.75, "75.0%", "disputes?label=awe"),
    ]
    assert [href for _, _, href in _cells("disputes-by-source")][1:] == [
        "disputes?source=web",
        "disputes?all=1&source=web",
        "disputes?source=web",
    ]


def test_models_against_people_link_the_compared_and_the_misses():
    assert [href for _, _, href in _cells("models-vs-final")] == [
        "",
        "",
        "judge?model=gpt-4o",
        "judge?miss=1&model=gpt-4o",
    ]


def test_critic_overturns_link_the_overturned_and_the_reviewed():
    table = audit_table("critic-overturns", figures=FIGURES, link=_link)
    assert table is not None and "Overturned" in table.note
    assert table.columns == ["verdict", "overturned", "reviewed by people", "overturn rate"]
    assert [href for _, _, href in _cells("critic-overturns")] == [
        "",
        "critic?overturned=1&verdict=drop",
        "critic?verdict=drop",
        "critic?overturned=1&verdict=drop",
    ]


def test_a_zero_count_links_nothing():
    figures = {**FIGURES, "models_vs_final": [_row(model="m", n=0, hits=0, rate=None)]}
    table = audit_table("models-vs-final", figures=figures, link=_link)
    assert table is not None
    assert [(c.text, c.href) for c in table.rows[0][1:]] == [("0", ""), ("0", ""), ("—", "")]


def _throughput_row(active_hours: float, per_hour: float) -> dict[str, Any]:
    return {
        "annotator": "ana",
        "samples": 3,
        "items": 3,
        "timed_items": 3,
        "active_hours": active_hours,
        "items_per_hour": per_hour,
        "median_seconds_per_item": 3.7,
    }


def test_throughput_says_its_time_as_people_do_and_no_rate_from_seconds():
    """The walkthrough's "active hours 0.00" beside "decisions per hour 973.57" (3 answers in
    11 s): the time reads "11 s" and the rate waits for 10 minutes of timed work."""
    short = audit_table(
        "throughput", figures={"throughput": [_throughput_row(11 / 3600, 981.8)]}, link=_link
    )
    assert short is not None
    assert short.columns[4:6] == ["active time", "decisions per hour"]
    assert [c.text for c in short.rows[0][4:6]] == ["11 s", "—"]
    long = audit_table(
        "throughput", figures={"throughput": [_throughput_row(3.75, 96.0)]}, link=_link
    )
    assert long is not None
    assert [c.text for c in long.rows[0][4:6]] == ["3 h 45 min", "96.00"]
    assert long.rows[0][4].value == 3.75  # sorting and exports keep the hours

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

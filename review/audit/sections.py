"""The dashboard's sections: the cached figures' tables and charts (SECTIONS), the binary
protocol (from the figures) and the latent-class consensus (read from its latest fit on each
request). Every table has its own URL (`table_url`: the HTML fragment, ?format=csv its CSV)
and every number links to its drill-down (`drilldown_link`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from annotator.models import Dataset
from review import policy
from review.audit.charts import dashboard_charts
from review.audit.consensus_tables import SLUGS, confusion_charts, consensus_table, consensus_tables
from review.audit.protocol import protocol_section, protocol_tables
from review.audit.tables import Figures, Link, Table, audit_tables
from review.selectors.audit_latent import consensus_audit
from review.selectors.audit_query import AuditFilters

# (id, title, tables shown, charts, tables folded under "details")
SECTIONS = [
    ("models", "Models", ["models", "model-pairs"], ["confusion"], ["confusion"]),
    (
        "disputes",
        "Disputes",
        ["disputes-by-emotion", "disputes-by-source"],
        ["disputes", "sources"],
        [],
    ),
    ("people", "People", ["people", "annotators", "binary-emotions"], ["annotators"], []),
    (
        "versus",
        "Models against people",
        ["models-vs-final", "critic-overturns", "calibration"],
        ["judges", "reliability"],
        ["calibration-bins"],
    ),
    ("throughput", "Throughput", ["throughput"], [], []),
]


def table_url(slug: str, filters: AuditFilters, **extra: str) -> str:
    return f"{reverse('review:audit_table', args=[slug])}?{urlencode({**filters.query(), **extra})}"


def drilldown_link(filters: AuditFilters) -> Link:
    base = reverse("review:audit_samples")
    query = filters.query()

    def link(figure: str, **params: str) -> str:
        return f"{base}?{urlencode({**query, 'figure': figure, **params})}"

    return link


def dashboard_sections(*, figures: Figures, filters: AuditFilters) -> list[dict[str, Any]]:
    """Context for the SECTIONS: a section with nothing to show carries only its note."""
    link = drilldown_link(filters)
    tables = audit_tables(figures=figures, link=link)
    charts = dashboard_charts(figures, link)

    def placed(slugs: list[str]) -> list[dict[str, Any]]:
        return [{"table": tables[s], "url": table_url(s, filters)} for s in slugs if s in tables]

    sections = []
    for key, title, shown, chart_names, folded in SECTIONS:
        note = _empty_note(key, figures)
        section: dict[str, Any] = {
            "id": key,
            "title": title,
            "note": note,
            "tables": [],
            "charts": [],
            "details": [],
        }
        if not note:
            section["tables"] = placed(shown)
            section["charts"] = [c for name in chart_names for c in charts.get(name, [])]
            section["details"] = [p for p in placed(folded) if p["table"].rows]
        sections.append(section)
    return sections


def _empty_note(section: str, figures: Figures) -> str:
    """Why a section has nothing to show (no model labels, say, on EmoNet-Face votes)."""
    has_models = bool(figures["models"]["models"])
    judged = any(row["n"] for row in figures["critic_overturns"])
    if section in {"models", "disputes"} and not has_models:
        return "No model labels in this selection."
    if section == "versus" and not has_models and not judged:
        return "No model or critic labels to compare with people's final labels."
    return ""


def consensus_section(*, user: Any, dataset: Dataset, url: Callable[[str], str]) -> dict[str, Any]:
    """The consensus section's context (`url(slug)`: a table's own URL, for its CSV)."""
    audit = consensus_audit(dataset=dataset)
    tables = consensus_tables(audit)
    return {
        "audit": audit,
        "tables": [{"table": table, "url": url(slug)} for slug, table in tables.items()],
        "charts": confusion_charts(audit),
        "can_administer": bool(policy.can_administer(user=user)),
    }


def extra_sections(
    *, user: Any, figures: Figures, filters: AuditFilters, url: Callable[[str], str]
) -> dict[str, Any]:
    """Context for templates/review/_audit_results.html: `protocol` (None unless yes/no votes)
    and `consensus` (two queries)."""
    return {
        "protocol": protocol_section(figures=figures, url=url),
        "consensus": consensus_section(user=user, dataset=filters.dataset, url=url),
    }


def extra_table(slug: str, *, figures: Figures, filters: AuditFilters) -> Table | None:
    """One of the protocol or consensus tables by its slug (its CSV), or None."""
    if slug in SLUGS:
        return consensus_table(slug, consensus_audit(dataset=filters.dataset))
    return protocol_tables(figures).get(slug)

"""The audit's sections for issue 14 beside the cached figures' ones: the binary protocol (from
the figures) and the latent-class consensus (read from its latest fit on each request)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from review.selectors.audit_latent import consensus_audit
from review.selectors.audit_query import AuditFilters
from review.views.audit_consensus import consensus_section
from review.views.audit_consensus_tables import SLUGS, consensus_table
from review.views.audit_protocol import protocol_section, protocol_tables
from review.views.audit_tables import Figures, Table


def extra_sections(
    *, request: HttpRequest, figures: Figures, filters: AuditFilters, url: Callable[[str], str]
) -> dict[str, Any]:
    """Context for templates/review/_audit_results.html: `protocol` (None unless yes/no votes)
    and `consensus` (two queries)."""
    return {
        "protocol": protocol_section(figures=figures, url=url),
        "consensus": consensus_section(request=request, dataset=filters.dataset, url=url),
    }


def extra_table(slug: str, *, figures: Figures, filters: AuditFilters) -> Table | None:
    """One of these sections' tables by its slug (its CSV), or None."""
    if slug in SLUGS:
        return consensus_table(slug, consensus_audit(dataset=filters.dataset))
    return protocol_tables(figures).get(slug)

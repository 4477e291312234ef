"""How the critic panel lists its checks: in the prompt's order whatever order the database
kept the JSON keys in (PostgreSQL's jsonb sorts them by length, SQLite keeps them)."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from annotator.pipeline.replies import CHECKS

register = template.Library()


@register.filter(name="ordered_checks")
def ordered_checks(checks: Mapping[str, bool | None]) -> list[tuple[str, bool | None]]:
    known = [(name, checks[name]) for name in CHECKS if name in checks]
    others = sorted((name, answer) for name, answer in checks.items() if name not in CHECKS)
    return known + others

"""How the critic panel lists its checks: in the prompt's order whatever order the database
kept the JSON keys in (PostgreSQL's jsonb sorts them by length, SQLite keeps them), and only
the yes/no answers: the same JSON keeps bookkeeping such as an imported verdict's "origin" or
a restorer's name, which are no checks."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from annotator.pipeline.replies import CHECKS

register = template.Library()


@register.filter(name="ordered_checks")
def ordered_checks(checks: Mapping[str, object]) -> list[tuple[str, bool | None]]:
    answers = {name: a for name, a in checks.items() if a is None or isinstance(a, bool)}
    known = [(name, answers[name]) for name in CHECKS if name in answers]
    others = sorted((name, a) for name, a in answers.items() if name not in CHECKS)
    return known + others

"""Writes about roles: the groups that stand for them."""

from __future__ import annotations

from django.contrib.auth.models import Group

from review.roles import ROLES


def ensure_role_groups() -> None:
    """Create the annotator, adjudicator and auditor groups when missing (idempotent)."""
    for name in ROLES:
        Group.objects.get_or_create(name=name)

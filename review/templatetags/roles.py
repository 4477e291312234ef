"""{% load roles %}: ask review.roles from templates, e.g. {% if user|has_role:"auditor" %}."""

from __future__ import annotations

from typing import Any

from django import template

from review import roles

register = template.Library()


@register.filter(name="has_role")
def has_role(user: Any, role: str) -> bool:
    """Whether `user` holds `role` (admins hold every role), as views and the API decide."""
    return roles.has_role(user, role)

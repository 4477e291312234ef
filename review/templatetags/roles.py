"""{% load roles %}: ask review.roles from templates, e.g. {% if user|has_role:"auditor" %}."""

from __future__ import annotations

from typing import Any

from django import template

from review import policy, roles

register = template.Library()


@register.filter(name="has_role")
def has_role(user: Any, role: str) -> bool:
    """Whether `user` holds `role` (admins hold every role), as views and the API decide."""
    return roles.has_role(user, role)


@register.filter(name="sees_whole_queue")
def sees_whole_queue(user: Any) -> bool:
    """Whether the queue link opens the whole queue (adjudicators, auditors) or the person's
    own work (annotators): the nav names it as the page does."""
    return policy.sees_whole_queue(user=user)

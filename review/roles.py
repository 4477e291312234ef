"""Roles: annotator, adjudicator, auditor (Django groups of those names); admins hold all three.

Views, the API and templates ask these functions, never the groups directly, so the web pages and
the API enforce the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from review.selectors.prepared import fetch

ANNOTATOR = "annotator"
ADJUDICATOR = "adjudicator"
AUDITOR = "auditor"
ROLES = (ANNOTATOR, ADJUDICATOR, AUDITOR)

_CACHE_ATTR = "_emoreview_roles"


def user_roles(user: Any) -> frozenset[str]:
    """The roles `user` holds; cached on the user object for the request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user.is_superuser or user.is_staff:
        roles = frozenset(ROLES)
    else:
        # A prepared statement: every page asks, and building the ORM query cost ~10x
        # running it.
        rows = fetch(key="user_roles", build=_role_names, values={"user_id": user.pk})
        roles = frozenset(name for (name,) in rows)
    setattr(user, _CACHE_ATTR, roles)
    return roles


def remember_roles(user: Any, *, groups: frozenset[str]) -> None:
    """Keep the roles of `user` read with the user's row (their groups among ROLES), so
    user_roles asks the database nothing for this request."""
    setattr(user, _CACHE_ATTR, frozenset(ROLES) if user.is_superuser or user.is_staff else groups)


def _role_names(*, user_id: int) -> QuerySet[Any]:
    return Group.objects.filter(user=user_id, name__in=ROLES).values_list("name")


def has_role(user: Any, role: str) -> bool:
    return role in user_roles(user)


def is_admin(user: Any) -> bool:
    return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser))


class RoleRequired(PermissionDenied):
    """A refusal for want of a role: the 403 page says to ask an admin for it."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        needed = [*roles, "admin"]  # admins hold every role
        names = f"{', '.join(needed[:-1])} or {needed[-1]}"
        super().__init__(f"This page needs the {names} role.")


def role_required(
    *roles: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Anonymous users go to the login page; signed-in users without any of `roles` get 403."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_roles(request.user) & set(roles):
                raise RoleRequired(roles)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

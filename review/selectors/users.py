"""A person by id, with the roles they hold, as one prepared statement: every signed-in request
reads one (the session's), and a sample page its label's author."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, QuerySet

from review.roles import ROLES, remember_roles
from review.selectors.prepared import instances
from review.validators import ID_MAX


def user_by_id(*, pk: int) -> Any:
    """The user with this id, None when there is none (an id no row can have asks nothing).
    Their roles come in the same row: review.roles.user_roles asks nothing more."""
    if not 0 < pk <= ID_MAX:
        return None
    found = instances(key="user_row", build=_user_row, values={"pk": pk})
    if not found:
        return None
    user = found[0]
    remember_roles(user, groups=frozenset(r for r in ROLES if getattr(user, _flag(r))))
    return user


def _flag(role: str) -> str:
    return f"_holds_{role}"


def _user_row(*, pk: int) -> QuerySet[Any]:
    holds = {
        _flag(role): Exists(Group.objects.filter(user=OuterRef("pk"), name=role)) for role in ROLES
    }
    return get_user_model()._default_manager.filter(pk=pk).annotate(**holds)

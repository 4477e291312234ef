"""A person by id as a prepared statement: every signed-in request reads one (the session's),
and a sample page its label's author."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from review.selectors.prepared import instances
from review.validators import ID_MAX


def user_by_id(*, pk: int) -> Any:
    """The user with this id, None when there is none (an id no row can have asks nothing)."""
    if not 0 < pk <= ID_MAX:
        return None
    found = instances(key="user_row", build=_user_row, values={"pk": pk})
    return found[0] if found else None


def _user_row(*, pk: int) -> QuerySet[Any]:
    return get_user_model()._default_manager.filter(pk=pk)

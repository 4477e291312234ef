"""Signing in and the user of each request, with the person's roles read in the same query.

Every page asks for the roles (review.roles.user_roles): read with the user, a request runs
one statement fewer (PostgreSQL: one round trip fewer per page).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef

from review.roles import ROLES, remember_roles


class RolesBackend(ModelBackend):
    """Django's ModelBackend whose get_user brings one flag per role along with the user."""

    def get_user(self, user_id: Any) -> Any:
        flags = {
            f"_has_role_{role}": Exists(
                Group.objects.filter(user=OuterRef("pk"), name=role).order_by()
            )
            for role in ROLES
        }
        model = get_user_model()
        user = model._default_manager.annotate(**flags).filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_roles(user, held={role for role in ROLES if getattr(user, f"_has_role_{role}")})
        return user

"""Helpers for team-review tests: people with roles, and leases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from review.models import Annotation, Assignment
from tests.factories import UserFactory


def member(*roles: str, **kwargs: Any) -> Any:
    """A user holding the given roles (groups). The groups come from a data migration; a
    transactional test's flush may have removed them, so they are made when missing."""
    person = UserFactory.create(**kwargs)
    person.groups.add(*(Group.objects.get_or_create(name=role)[0] for role in roles))
    return person


def lease(
    sample: Any,
    person: Any,
    *,
    kind: str = Assignment.Kind.ANNOTATE,
    status: str = Assignment.Status.ACTIVE,
    seconds: int = 600,
) -> Assignment:
    """A lease handed out directly (the service's fairness is tested on its own)."""
    return Assignment.objects.create(
        sample=sample,
        annotator=person,
        kind=kind,
        status=status,
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )


def answer(sample: Any, person: Any, emotion: str, **fields: Any) -> Annotation:
    """An answer stored directly (as an import would)."""
    fields.setdefault("confidence", 7.0)
    return Annotation.objects.create(sample=sample, annotator=person, emotion=emotion, **fields)

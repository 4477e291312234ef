from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, has_role, user_roles
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_groups_exist_after_migrations():
    assert set(Group.objects.values_list("name", flat=True)) >= {ANNOTATOR, ADJUDICATOR, AUDITOR}


def test_roles_come_from_groups_and_admins_hold_all():
    person = UserFactory.create()
    person.groups.add(Group.objects.get(name=ADJUDICATOR))
    assert user_roles(person) == {ADJUDICATOR}
    assert not has_role(person, AUDITOR)
    assert user_roles(AdminFactory.create()) == {ANNOTATOR, ADJUDICATOR, AUDITOR}
    assert user_roles(AnonymousUser()) == frozenset()


def test_inactive_users_hold_no_role():
    person = UserFactory.create(is_active=False)
    person.groups.add(Group.objects.get(name=ANNOTATOR))
    assert user_roles(person) == frozenset()


@pytest.mark.django_db(transaction=True)
def test_flush_keeps_the_builtin_groups_and_taxonomy():
    from django.core.management import call_command

    from annotator.models import Taxonomy

    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {ANNOTATOR, ADJUDICATOR, AUDITOR}
    assert Taxonomy.objects.filter(name="mikels8").exists()

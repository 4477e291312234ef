"""The user of a request comes with its roles in one query, and a role given or taken away
shows on the next request (nothing is kept between requests)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from review.auth_backend import RolesBackend
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, user_roles
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_get_user_reads_the_roles_with_the_user(django_assert_num_queries):
    person = UserFactory.create()
    person.groups.add(Group.objects.get(name=ANNOTATOR), Group.objects.get(name=AUDITOR))
    with django_assert_num_queries(1):
        user = RolesBackend().get_user(person.pk)
        assert user_roles(user) == {ANNOTATOR, AUDITOR}
    admin = AdminFactory.create()
    with django_assert_num_queries(1):
        assert user_roles(RolesBackend().get_user(admin.pk)) == {ANNOTATOR, ADJUDICATOR, AUDITOR}


def test_inactive_or_missing_users_are_nobody():
    assert RolesBackend().get_user(UserFactory.create(is_active=False).pk) is None
    assert RolesBackend().get_user(987_654) is None


def test_a_role_taken_away_is_refused_on_the_next_request(client):
    person = UserFactory.create()
    auditor = Group.objects.get(name=AUDITOR)
    person.groups.add(auditor)
    client.force_login(person)
    assert client.get(reverse("review:audit")).status_code == 200
    person.groups.remove(auditor)
    assert client.get(reverse("review:audit")).status_code == 403

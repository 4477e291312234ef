"""The session and the request's user are read by prepared statements: the same answers as
Django's database sessions and model backend, expired sessions and inactive users included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from review.auth_backend import UserBackend
from review.sessions import SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_stored_session_loads_and_an_expired_or_unknown_one_is_empty():
    store = SessionStore()
    store["colour"] = "teal"
    store.save()
    assert SessionStore(session_key=store.session_key).load() == {"colour": "teal"}
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(session_key=store.session_key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore(session_key="no-such-session-key-0123456789").load() == {}
    assert SessionStore(session_key=None).load() == {}


def test_the_backend_finds_active_users_from_the_text_the_session_keeps():
    person, gone = UserFactory.create(), UserFactory.create(is_active=False)
    assert UserBackend().get_user(str(person.pk)) == person
    assert UserBackend().get_user(person.pk).username == person.username
    for nobody in (str(gone.pk), "987654", "x", "99999999999999999999999", None):
        assert UserBackend().get_user(nobody) is None


def test_signing_in_and_out_through_the_pages(client):
    person = UserFactory.create(password="a long enough secret")
    person.set_password("a long enough secret")
    person.save()
    login = client.post(
        reverse("login"), {"username": person.username, "password": "a long enough secret"}
    )
    assert login.status_code == 302
    assert client.get(reverse("review:queue")).wsgi_request.user == person
    out = client.post(reverse("logout"), HTTP_REFERER=reverse("review:queue"), follow=True)
    assert out.redirect_chain[-1][0] == reverse("login")  # not "?next=…&ended=1"
    page = out.content.decode()
    assert "Your session ended" not in page and "Review machine-made emotion annotations" in page
    assert client.get(reverse("review:queue")).status_code == 302  # back to the sign-in page


def test_the_session_user_comes_with_their_roles_and_roles_ask_nothing_more(
    django_assert_num_queries,
):
    from django.contrib.auth.models import Group

    from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, user_roles
    from tests.factories import AdminFactory

    person, admin, plain = UserFactory.create(), AdminFactory.create(), UserFactory.create()
    person.groups.add(*Group.objects.filter(name__in=[ANNOTATOR, AUDITOR]))
    plain.groups.add(Group.objects.create(name="not-a-role"))
    expected = {
        person.pk: {ANNOTATOR, AUDITOR},
        admin.pk: {ANNOTATOR, ADJUDICATOR, AUDITOR},  # staff hold every role, groups or not
        plain.pk: set(),
    }
    for pk, roles in expected.items():
        with django_assert_num_queries(1):
            user = UserBackend().get_user(str(pk))
            assert user_roles(user) == roles
    person.groups.remove(Group.objects.get(name=AUDITOR))  # read again on the next request
    assert user_roles(UserBackend().get_user(person.pk)) == {ANNOTATOR}

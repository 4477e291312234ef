"""Sign-in throttling: 30 wrong passwords, then the right one, used to be let in. Now, after
SIGN_IN_MAX_FAILURES failures for one username from one address, the login page and
/api/token/ refuse (429) even the right password until the window passes."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from review.roles import ANNOTATOR
from tests.factories import DEFAULT_PASSWORD
from tests.review.team import member

pytestmark = pytest.mark.django_db

LIMIT = 10  # settings.SIGN_IN_MAX_FAILURES


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _log_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_the_login_page_refuses_the_right_password_after_too_many_wrong_ones(client):
    person = member(ANNOTATOR)
    for _ in range(LIMIT):
        wrong = _log_in(client, person.username, "wrong")
        assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    refused = _log_in(client, person.username, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_refusal_ends_with_the_window(client, settings):
    person = member(ANNOTATOR)
    for _ in range(LIMIT):
        _log_in(client, person.username, "wrong")
    assert _log_in(client, person.username, DEFAULT_PASSWORD).status_code == 429
    cache.clear()  # the window passed: the counts expired
    assert _log_in(client, person.username, DEFAULT_PASSWORD).status_code == 302
    assert "_auth_user_id" in client.session


def test_fewer_failures_than_the_limit_and_a_success_clears_them(client):
    person = member(ANNOTATOR)
    for _ in range(LIMIT - 1):
        _log_in(client, person.username, "wrong")
    assert _log_in(client, person.username, DEFAULT_PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        _log_in(client, person.username, "wrong")
    assert _log_in(client, person.username, DEFAULT_PASSWORD).status_code == 302


def test_the_count_is_per_username_and_address(client):
    person, other = member(ANNOTATOR), member(ANNOTATOR)
    for _ in range(LIMIT):
        _log_in(client, person.username, "wrong", address="10.0.0.1")
    assert _log_in(client, person.username, DEFAULT_PASSWORD, "10.0.0.2").status_code == 302
    client.logout()
    assert _log_in(client, other.username, DEFAULT_PASSWORD, "10.0.0.1").status_code == 302


def test_the_admin_signs_in_through_the_throttled_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/admin/"


def _token(api: APIClient, username: str, password: str):
    return api.post("/api/token/", {"username": username, "password": password})


def test_the_token_endpoint_refuses_the_right_password_after_too_many_wrong_ones():
    person, api = member(ANNOTATOR), APIClient()
    for _ in range(LIMIT):
        assert _token(api, person.username, "wrong").status_code == 400
    refused = _token(api, person.username, DEFAULT_PASSWORD)
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "Too many failed sign-ins" in detail and "Expected available" not in detail
    assert 0 < int(refused["Retry-After"]) <= 900
    cache.clear()
    assert _token(api, person.username, DEFAULT_PASSWORD).status_code == 200


def test_the_token_endpoint_limits_requests_per_address(settings):
    person, api = member(ANNOTATOR), APIClient()
    statuses = [_token(api, person.username, DEFAULT_PASSWORD).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_a_deeply_nested_token_request_is_a_parse_error():
    body = "[" * 100_000 + "]" * 100_000
    response = APIClient().post("/api/token/", body, content_type="application/json")
    assert response.status_code == 400


def _log_in_via(client: Client, username: str, password: str, forwarded: str):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.9",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_a_forged_forwarded_for_does_not_reset_the_count(client):
    person = member(ANNOTATOR)
    for i in range(LIMIT):
        _log_in_via(client, person.username, "wrong", forwarded=f"192.0.2.{i}")
    refused = _log_in_via(client, person.username, DEFAULT_PASSWORD, forwarded="192.0.2.99")
    assert refused.status_code == 429


def test_behind_a_proxy_the_forwarded_address_counts(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    person = member(ANNOTATOR)
    for _ in range(LIMIT):
        _log_in_via(client, person.username, "wrong", forwarded="198.51.100.7, 192.0.2.1")
    assert _log_in_via(client, person.username, DEFAULT_PASSWORD, "192.0.2.1").status_code == 429
    assert _log_in_via(client, person.username, DEFAULT_PASSWORD, "192.0.2.2").status_code == 302

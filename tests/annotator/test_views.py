"""/healthz: database, broker, workers seen lately, queue lengths; 200 or 503 naming the part."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import WorkerHeartbeatFactory
from tests.support.broker import UNREACHABLE_BROKER, broker_at

URL = reverse("healthz")
pytestmark = pytest.mark.django_db


@pytest.fixture
def with_broker(settings):
    """Tasks published to a broker (memory://: reachable, no queue lengths) as in production."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("memory://", settings):
        yield


def beat(name: str, queues: list[str], ago: float = 1) -> None:
    seen = timezone.now() - timedelta(seconds=ago)
    WorkerHeartbeatFactory.create(name=name, queues=queues, started_at=seen, seen_at=seen)


def test_without_a_broker_the_database_is_all_it_needs(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default, even where a broker is set
    response = client.get(URL)  # no sign-in
    body = response.json()
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    assert body["status"] == "ok" and body["database"]["ok"] and body["failing"] == []
    assert body["broker"] == {"ok": True, "mode": "none: tasks run in-process"}


def test_healthy_with_a_broker_and_a_worker_for_every_queue(client, with_broker):
    beat("celery@web1", ["default", "llm"])
    beat("gpu@web1", ["gpu"], ago=30)
    beat("gone@web1", ["gpu"], ago=600)  # not seen in the last minute
    body = client.get(URL).json()
    assert body["status"] == "ok", body
    assert [w["name"] for w in body["workers"]["seen"]] == ["celery@web1", "gpu@web1"]
    assert body["queues"]["gpu"] == {"waiting": None, "workers": 1}  # memory:// has no LLEN


def test_a_queue_no_worker_serves_is_failing(client, with_broker):
    beat("celery@web1", ["default", "llm"])
    beat("gpu@web1", ["gpu"], ago=120)
    response = client.get(URL)
    body = response.json()
    assert response.status_code == 503 and body["failing"] == ["workers"]
    assert body["workers"]["error"] == "no worker seen for queue gpu"


def test_the_broker_down_is_503_naming_the_broker_and_nothing_secret(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    beat("celery@web1", ["default", "gpu", "llm"])
    with broker_at(UNREACHABLE_BROKER.replace("redis://", "redis://:s3cret@"), settings):
        response = client.get(URL)
    body = response.json()
    assert response.status_code == 503 and body["status"] == "failing"
    assert body["failing"] == ["broker", "queues"]
    assert body["broker"] == {"ok": False, "error": "unreachable (OperationalError)"}
    assert "s3cret" not in response.text and "127.0.0.1" not in response.text


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_is_seen_and_queues_are_counted_until_it_stops(client):
    from tests.support.celery_worker import running_worker

    with running_worker(queues=("default", "gpu", "llm")) as worker:
        body = client.get(URL).json()
        assert body["status"] == "ok", body
        assert [w["name"] for w in body["workers"]["seen"]] == [worker.hostname]
        assert body["queues"]["llm"] == {"waiting": 0, "workers": 1}
    response = client.get(URL)  # a warm shutdown takes its row away
    assert response.status_code == 503 and response.json()["failing"] == ["workers"]


def test_a_post_is_405_not_the_csrf_failure_page():
    response = Client(enforce_csrf_checks=True).post(URL)  # was a redirect to sign in again
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert Client().head(URL).status_code == Client().get(URL).status_code  # 200, or 503

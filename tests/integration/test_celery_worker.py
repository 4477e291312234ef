"""A real Celery worker process picks up reverify_samples from Redis and writes the result."""

from __future__ import annotations

import pytest
from django.db import transaction

from annotator.models import Sample, Taxonomy
from annotator.services.reverify import enqueue_reverify
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from tests.factories import ProposalFactory, SampleFactory
from tests.support.celery_worker import running_worker, wait_until

# The worker is another process: it needs committed rows (transaction=True) in a database it
# can open (PostgreSQL; an in-memory SQLite test database is private to this process).
# The flush after it removes every row; post_migrate puts the built-in taxonomy and groups back.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,  # a worker process: 20 s with its start
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _seeded_taxonomy():
    """The migration's Mikels 8 row. An earlier transactional test's flush can leave it gone
    when the serialized copy is not restored (seen after the Playwright browser test)."""
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})


def _sample(emotions: dict[str, str]) -> Sample:
    sample = SampleFactory.create(status=Sample.Status.PENDING, suggested_emotion="")
    for model_name, emotion in emotions.items():
        ProposalFactory(sample=sample, model_name=model_name, emotion=emotion)
    return sample


def test_worker_recomputes_status_after_commit():
    disputed = _sample({"gpt-4o": "awe", "gemini-2.5-flash": "excitement", "emovit": "awe"})
    agreed = _sample({"gpt-4o": "sadness", "gemini-2.5-flash": "sadness"})

    with running_worker(queues=("default", "gpu", "llm")) as worker:
        with transaction.atomic():
            enqueue_reverify(sample_ids=[disputed.pk, agreed.pk])
        wait_until(
            lambda: (
                set(Sample.objects.values_list("status", flat=True))
                == {Sample.Status.DISPUTED, Sample.Status.AGREED}
            ),
            worker=worker,
            timeout=60,
        )

    disputed.refresh_from_db()
    assert disputed.status == Sample.Status.DISPUTED
    assert disputed.suggested_emotion == "awe"
    assert disputed.dispute_reasons[0]["models"]["gemini-2.5-flash"] == "excitement"

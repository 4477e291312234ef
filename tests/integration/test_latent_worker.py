"""A real Celery worker on the default queue fits the consensus a request sent on commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from annotator.models import Taxonomy
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.models_consensus import ConsensusFit, SamplePosterior
from review.services.latent_jobs import request_consensus_fit
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory
from tests.support.celery_worker import running_worker, wait_until

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,  # a worker process and a fit: 15 s
    pytest.mark.django_db(transaction=True),
]


def test_worker_fits_and_a_second_delivery_is_a_no_op():
    Taxonomy.objects.get_or_create(name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)})
    dataset = DatasetFactory.create()
    for emotion in ("awe", "fear", "awe"):
        sample = SampleFactory.create(dataset=dataset)
        ProposalFactory.create(sample=sample, model_name="gpt", emotion=emotion)
        ProposalFactory.create(sample=sample, model_name="gem", emotion=emotion)
    with running_worker(queues=("default",)) as worker:
        with transaction.atomic():
            fit = request_consensus_fit(dataset=dataset)
        done = ConsensusFit.objects.filter(pk=fit.pk, status=ConsensusFit.Status.DONE)
        wait_until(done.exists, worker=worker, timeout=60)
        from review import tasks

        tasks.fit_consensus.apply_async(args=(fit.pk,), queue="default")  # redelivered
        wait_until(lambda: "skipped" in worker.log(), worker=worker, timeout=30)
    assert SamplePosterior.objects.filter(fit_id=fit.pk).count() == 3

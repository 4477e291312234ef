"""factory_boy factories for the data model."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from annotator.models import (
    CriticVerdict,
    Dataset,
    PipelineRun,
    Proposal,
    Region,
    Sample,
    Taxonomy,
    WorkerHeartbeat,
)
from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS
from review.models import Adjudication

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"annotator{n}")
    password = factory.django.Password(DEFAULT_PASSWORD)


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class TaxonomyFactory(factory.django.DjangoModelFactory[Taxonomy]):
    """A small taxonomy of its own (DatasetFactory uses the migration-seeded Mikels 8)."""

    class Meta:
        model = Taxonomy

    name = factory.Sequence(lambda n: f"taxonomy-{n}")
    labels = factory.LazyFunction(lambda: ["joy", "anger", "fear"])


class DatasetFactory(factory.django.DjangoModelFactory[Dataset]):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")
    # get_or_create: a live-server test's flush can remove the migration-seeded row.
    taxonomy = factory.LazyFunction(
        lambda: Taxonomy.objects.get_or_create(
            name=MIKELS_8, defaults={"labels": list(MIKELS_8_LABELS)}
        )[0]
    )
    model_weights = factory.LazyFunction(dict)


class SampleFactory(factory.django.DjangoModelFactory[Sample]):
    class Meta:
        model = Sample

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"img-{n:05d}")
    image_path = factory.LazyAttribute(lambda o: f"{o.external_id}.jpg")
    source = "EmoSet"
    width = 64
    height = 48
    content_hash = factory.Sequence(lambda n: f"{n:064x}")
    status = Sample.Status.DISPUTED
    suggested_emotion = "awe"


class ProposalFactory(factory.django.DjangoModelFactory[Proposal]):
    class Meta:
        model = Proposal

    sample = factory.SubFactory(SampleFactory)
    model_name = factory.Sequence(lambda n: f"model-{n}")
    description = "A person stands on a snow-covered plain."
    emotion = "awe"
    confidence = 7.0
    background = "snow-covered plain"
    attribute = "excited"
    subject = "person"


class RegionFactory(factory.django.DjangoModelFactory[Region]):
    class Meta:
        model = Region

    sample = factory.SubFactory(SampleFactory)
    role = Region.Role.SUBJECT
    phrase = "person"
    x1, y1, x2, y2 = 4.0, 4.0, 40.0, 40.0


class CriticVerdictFactory(factory.django.DjangoModelFactory[CriticVerdict]):
    class Meta:
        model = CriticVerdict

    sample = factory.SubFactory(SampleFactory)
    verdict = CriticVerdict.Verdict.PRESERVE
    emotion = "awe"
    reasoning = "Both the wide plain and the upward gaze suggest awe."


class PipelineRunFactory(factory.django.DjangoModelFactory[PipelineRun]):
    class Meta:
        model = PipelineRun

    dataset = factory.SubFactory(DatasetFactory)
    config = factory.LazyFunction(lambda: {"pipeline": {"max_revise_rounds": 1}})
    stages = factory.LazyFunction(lambda: ["annotate", "verify"])
    status = PipelineRun.Status.PENDING


class AdjudicationFactory(factory.django.DjangoModelFactory[Adjudication]):
    class Meta:
        model = Adjudication

    sample = factory.SubFactory(SampleFactory)
    annotator = factory.SubFactory(UserFactory)
    version = factory.Sequence(lambda n: n + 1)
    emotion = "awe"
    confidence = 8.0
    background = "snow-covered plain"
    attribute = "excited"
    subject = "person"


class WorkerHeartbeatFactory(factory.django.DjangoModelFactory[WorkerHeartbeat]):
    """A worker seen just now, consuming the default queue."""

    class Meta:
        model = WorkerHeartbeat

    name = factory.Sequence(lambda n: f"worker{n}@host")
    queues = factory.LazyFunction(lambda: ["celery"])
    pid = factory.Sequence(lambda n: n + 1)
    started_at = factory.LazyFunction(timezone.now)
    seen_at = factory.LazyAttribute(lambda o: o.started_at)

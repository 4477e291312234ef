"""factory_boy factories for the human side's models (review/models.py); the machine side's,
users and AdjudicationFactory are in tests/factories.py."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from review.models import (
    Annotation,
    Assignment,
    AuditEvent,
    BinaryVote,
    BlindAnswer,
    Draft,
    ExportJob,
    MaskEdit,
)
from tests.factories import DatasetFactory, SampleFactory, UserFactory


class AnnotationFactory(factory.django.DjangoModelFactory[Annotation]):
    class Meta:
        model = Annotation

    sample = factory.SubFactory(SampleFactory)
    annotator = factory.SubFactory(UserFactory)
    emotion = "awe"
    confidence = 7.0
    background = "snow-covered plain"
    attribute = "excited"
    subject = "person"


class BlindAnswerFactory(factory.django.DjangoModelFactory[BlindAnswer]):
    class Meta:
        model = BlindAnswer

    sample = factory.SubFactory(SampleFactory)
    annotator = factory.SubFactory(UserFactory)
    emotion = "awe"
    confidence = 7.0


class BinaryVoteFactory(factory.django.DjangoModelFactory[BinaryVote]):
    class Meta:
        model = BinaryVote

    sample = factory.SubFactory(SampleFactory)
    annotator = factory.SubFactory(UserFactory)
    emotion = "awe"
    value = True


class AssignmentFactory(factory.django.DjangoModelFactory[Assignment]):
    class Meta:
        model = Assignment

    sample = factory.SubFactory(SampleFactory)
    annotator = factory.SubFactory(UserFactory)
    kind = Assignment.Kind.ANNOTATE
    status = Assignment.Status.ACTIVE
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))


class DraftFactory(factory.django.DjangoModelFactory[Draft]):
    class Meta:
        model = Draft

    sample = factory.SubFactory(SampleFactory)
    author = factory.SubFactory(UserFactory)
    data = factory.LazyFunction(lambda: {"emotion": "awe"})


class AuditEventFactory(factory.django.DjangoModelFactory[AuditEvent]):
    class Meta:
        model = AuditEvent

    sample = factory.SubFactory(SampleFactory)
    actor = factory.SubFactory(UserFactory)
    action = "adjudicate"
    before = factory.LazyFunction(dict)
    after = factory.LazyFunction(dict)


class MaskEditFactory(factory.django.DjangoModelFactory[MaskEdit]):
    class Meta:
        model = MaskEdit

    sample = factory.SubFactory(SampleFactory)
    role = "subject"  # annotator.models.Region.Role
    author = factory.SubFactory(UserFactory)
    seq = factory.Sequence(lambda n: n + 1)
    points = factory.LazyFunction(lambda: [[10, 10, 1]])


class ExportJobFactory(factory.django.DjangoModelFactory[ExportJob]):
    class Meta:
        model = ExportJob

    dataset = factory.SubFactory(DatasetFactory)
    kind = ExportJob.Kind.LABELS
    fmt = "csv"
    created_by = factory.SubFactory(UserFactory)

"""factory_boy factories for the human side's models (review/models*.py); the machine side's,
users and AdjudicationFactory are in tests/factories.py."""

from __future__ import annotations

from datetime import timedelta

import factory
import numpy as np
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
from review.models_consensus import ConsensusFit, SamplePosterior
from review.models_desmap import DesMap, MapSelection, MapSelectionSample
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


class ConsensusFitFactory(factory.django.DjangoModelFactory[ConsensusFit]):
    """A fit waiting to run, over its dataset's taxonomy (pass status=DONE for a finished one)."""

    class Meta:
        model = ConsensusFit

    dataset = factory.SubFactory(DatasetFactory)
    labels = factory.LazyAttribute(lambda o: list(o.dataset.taxonomy.labels))


def _certain(o: factory.builder.Resolver) -> bytes:
    """Probability 1 on the posterior's label, in the fit's label order (float32, as stored)."""
    vector = np.zeros(len(o.fit.labels), dtype="<f4")
    vector[list(o.fit.labels).index(o.label)] = 1.0
    return vector.tobytes()


class SamplePosteriorFactory(factory.django.DjangoModelFactory[SamplePosterior]):
    """A certain belief in `label`, from a finished fit of the sample's dataset."""

    class Meta:
        model = SamplePosterior

    sample = factory.SubFactory(SampleFactory)
    dataset = factory.SelfAttribute("sample.dataset")
    fit = factory.SubFactory(
        ConsensusFitFactory,
        dataset=factory.SelfAttribute("..dataset"),
        status=ConsensusFit.Status.DONE,
        finished_at=factory.LazyFunction(timezone.now),
    )
    label = "awe"
    probs = factory.LazyAttribute(_certain)
    p_label = 1.0
    entropy = 0.0
    expected_change = 0.0
    n_ratings = 3


class DesMapFactory(factory.django.DjangoModelFactory[DesMap]):
    """A map requested and not yet computed (compute_des_map fills in its points)."""

    class Meta:
        model = DesMap

    dataset = factory.SubFactory(DatasetFactory)


class MapSelectionFactory(factory.django.DjangoModelFactory[MapSelection]):
    """Samples picked on a map of the dataset (add rows with MapSelectionSampleFactory)."""

    class Meta:
        model = MapSelection

    token = factory.Sequence(lambda n: f"selection{n}")
    dataset = factory.SubFactory(DatasetFactory)
    des_map = factory.SubFactory(DesMapFactory, dataset=factory.SelfAttribute("..dataset"))


class MapSelectionSampleFactory(factory.django.DjangoModelFactory[MapSelectionSample]):
    class Meta:
        model = MapSelectionSample

    selection = factory.SubFactory(MapSelectionFactory)
    sample = factory.SubFactory(SampleFactory, dataset=factory.SelfAttribute("..selection.dataset"))

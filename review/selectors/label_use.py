"""The labels people's answers use, for annotator's labels_in_use (a taxonomy may not drop a
label in use). Registered by ReviewConfig.ready: annotator never imports review."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from annotator.models import Sample
from review.models import Adjudication, Annotation, BinaryVote


def labels_people_gave(*, samples: QuerySet[Sample]) -> list[QuerySet[Any]]:
    """Answers, yes/no votes and adjudications on `samples`, as flat querysets of labels."""
    return [
        model.objects.filter(sample__in=samples).values_list("emotion", flat=True)
        for model in (Annotation, BinaryVote, Adjudication)
    ]

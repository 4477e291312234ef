"""A sample's image file for whoever may open the sample: the sample page's and the API's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from annotator.models import Sample
from review import policy
from review.selectors.samples import sample_image_path


def viewable_sample_image(*, user: Any, pk: int) -> Path:
    """The image file of sample `pk` for `user`: Http404 when there is no such sample or file,
    PermissionDenied when the user may not open the sample."""
    sample = get_object_or_404(Sample.objects.select_related("dataset").defer("des"), pk=pk)
    allowed = policy.can_view_sample(user=user, sample=sample)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    path = sample_image_path(sample=sample)
    if path is None:
        raise Http404("No image for this sample.")
    return path

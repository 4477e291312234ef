"""What the sample page's image panel shows of masks (templates/review/_image.html): each
element's state with its overlays, and whether this person may edit them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from annotator.models import Sample
from review.pages.mask_overlays import state_overlays
from review.policy import SampleAccess
from review.selectors.masks import mask_states


def mask_author_id(request: HttpRequest, *, can_edit: bool) -> int | None:
    """Whose masks the page shows: the person's own when they edit; a reader (auditor) sees
    the machine's masks only, so no annotator's work shows before adjudication."""
    return request.user.pk if can_edit else None


def mask_page_context(
    request: HttpRequest, *, sample: Sample, access: SampleAccess
) -> dict[str, Any]:
    """What the sample page's image panel needs for masks."""
    can_edit = access.edit_masks
    states = mask_states(sample=sample, author_id=mask_author_id(request, can_edit=can_edit))
    return {
        "mask_states": [(state, state_overlays(state)) for state in states],
        "can_edit_masks": can_edit,
    }

"""Refit after review activity (beat): a dataset gets a new consensus fit when people answered
since its last fit began, at most every CONSENSUS_REFIT_MINUTES, and only where a fit is in use
(the dataset was fitted before, or its review order reads the posteriors)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset
from review.models_consensus import ConsensusFit
from review.selectors.latent import answered_since
from review.selectors.review_order import POSTERIOR_FIELDS
from review.services.latent_jobs import request_consensus_fit, send_consensus_fit

ORDERS_USING_POSTERIORS = tuple(POSTERIOR_FIELDS)
UNFINISHED = (ConsensusFit.Status.PENDING, ConsensusFit.Status.RUNNING)
# A pending fit not claimed after this long is taken as lost by the broker.
RESEND_AFTER = timedelta(minutes=2)


def refit_due(*, dataset: Dataset, now: datetime) -> bool:
    """No fit waiting or running, the last one older than the interval, answers since it."""
    fits = ConsensusFit.objects.filter(dataset=dataset)
    if fits.filter(status__in=UNFINISHED).exists():
        return False  # a stuck one is sent again by resend_stuck_fits
    last = fits.order_by("-created_at", "-pk").first()
    if last is None:
        return dataset.review_order in ORDERS_USING_POSTERIORS
    interval = timedelta(minutes=float(getattr(settings, "CONSENSUS_REFIT_MINUTES", 15)))
    if last.created_at > now - interval:
        return False
    return answered_since(dataset_id=dataset.pk, since=last.started_at or last.created_at)


def resend_stuck_fits(*, now: datetime) -> int:
    """Send again the fits the broker never delivered and those a dead worker left."""
    never_taken = Q(status=ConsensusFit.Status.PENDING, created_at__lt=now - RESEND_AFTER)
    lapsed = Q(status=ConsensusFit.Status.RUNNING, lease_until__lt=now)
    stuck = ConsensusFit.objects.filter(never_taken | lapsed).values_list("pk", flat=True)
    return sum(send_consensus_fit(fit_id=fit_id) for fit_id in stuck)


def refit_stale_consensus() -> int:
    """Beat: re-send stuck fits, then request a fit for every dataset where one is due; how
    many were requested."""
    now = timezone.now()
    resend_stuck_fits(now=now)
    fitted = ConsensusFit.objects.values_list("dataset_id", flat=True)
    candidates = Dataset.objects.filter(
        Q(pk__in=fitted) | Q(review_order__in=ORDERS_USING_POSTERIORS)
    ).select_related("taxonomy")
    requested = 0
    for dataset in candidates:
        if refit_due(dataset=dataset, now=now):
            request_consensus_fit(dataset=dataset)
            requested += 1
    return requested

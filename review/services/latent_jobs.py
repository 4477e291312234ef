"""The consensus fit as a job: requested (a pending ConsensusFit, sent on commit to the default
queue; in-process without a broker), claimed with a conditional UPDATE under a lease, fitted, its
posteriors upserted (one row a sample, the previous fit's rows replaced in one transaction).

A second delivery of the same fit finds it claimed or done and does nothing; a worker that died
mid-fit leaves a lease that lapses, and the next delivery (or the beat's check) fits it again.
refit_stale_consensus (beat) asks for a new fit where people answered since the last one, at
most every CONSENSUS_REFIT_MINUTES.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotator.models import Dataset
from review.models_consensus import ConsensusFit, SamplePosterior
from review.services.latent_fit import FitOutput, fit_ratings
from review.services.latent_ratings import Ratings, collect_ratings
from review.services.latent_write import upsert_posteriors
from review.services.mask_dispatch import PUBLISH_ERRORS
from review.services.mask_worker import worker_name

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
KEEP_FITS = 10  # finished fits kept per dataset (a short history for the audit)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def request_consensus_fit(
    *, dataset: Dataset, requested_by: Any = None, method: str = ""
) -> ConsensusFit:
    """A pending fit of `dataset` (its consensus_method unless `method`), sent on commit."""
    chosen = method or dataset.consensus_method
    if chosen not in ConsensusFit.Method.values:
        raise ValueError(f"method: {chosen!r} is not one of {', '.join(ConsensusFit.Method)}")
    with transaction.atomic():
        fit = ConsensusFit.objects.create(
            dataset=dataset,
            method=chosen,
            labels=list(dataset.taxonomy.labels),
            requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        )
        transaction.on_commit(partial(send_consensus_fit, fit_id=fit.pk))
    return fit


def fit_consensus_now(*, dataset: Dataset, method: str = "") -> ConsensusFit:
    """Fit in this process, now (the management command): no queue, the same claim and write."""
    chosen = method or dataset.consensus_method
    if chosen not in ConsensusFit.Method.values:
        raise ValueError(f"method: {chosen!r} is not one of {', '.join(ConsensusFit.Method)}")
    fit = ConsensusFit.objects.create(
        dataset=dataset, method=chosen, labels=list(dataset.taxonomy.labels)
    )
    run_consensus_fit(fit_id=fit.pk)
    fit.refresh_from_db()
    return fit


def send_consensus_fit(*, fit_id: int) -> bool:
    """Hand the fit to the default queue (without a broker Celery runs it here and now)."""
    from review import tasks

    try:
        tasks.fit_consensus.apply_async(args=(fit_id,), queue=DEFAULT_QUEUE)
    except PUBLISH_ERRORS as exc:  # the beat's check sends it again
        logger.warning("consensus fit %s not sent: %s", fit_id, exc)
        return False
    return True


def _claimable(now: Any) -> Q:
    lapsed = Q(lease_until__lt=now) | Q(lease_until=None)
    return Q(status=ConsensusFit.Status.PENDING) | (Q(status=ConsensusFit.Status.RUNNING) & lapsed)


def claim_consensus_fit(*, fit_id: int) -> ConsensusFit | None:
    """Claim the fit for this process; None when done, failed or held under a live lease."""
    now = timezone.now()
    lease = timedelta(seconds=_setting("CONSENSUS_FIT_LEASE_SECONDS", 900))
    claimed = (
        ConsensusFit.objects.filter(pk=fit_id)
        .filter(_claimable(now))
        .update(
            status=ConsensusFit.Status.RUNNING,
            claimed_by=worker_name(),
            lease_until=now + lease,
            started_at=now,
            finished_at=None,
            error="",
        )
    )
    if not claimed:
        return None
    return ConsensusFit.objects.select_related("dataset__taxonomy").get(pk=fit_id)


def run_consensus_fit(*, fit_id: int) -> str:
    """The task's body: "done", "failed" or "skipped" (not claimable)."""
    fit = claim_consensus_fit(fit_id=fit_id)
    if fit is None:
        return "skipped"
    started = time.perf_counter()
    try:
        ratings = collect_ratings(dataset=fit.dataset)
        output = fit_ratings(ratings=ratings, method=fit.method)
        written = write_posteriors(fit=fit, ratings=ratings, output=output, started=started)
    except Exception as exc:
        logger.exception("consensus fit %s failed", fit_id)
        _ours(fit).update(
            status=ConsensusFit.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            lease_until=None,
        )
        return "failed"
    if not written:
        return "skipped"
    _forget_old_fits(dataset_id=fit.dataset_id)
    return "done"


def _ours(fit: ConsensusFit) -> Any:
    return ConsensusFit.objects.filter(
        pk=fit.pk, status=ConsensusFit.Status.RUNNING, claimed_by=fit.claimed_by
    )


def write_posteriors(
    *, fit: ConsensusFit, ratings: Ratings, output: FitOutput, started: float
) -> bool:
    """Upsert one row a rated sample and drop the dataset's rows of other fits, then mark the
    fit done, all in one transaction; False (nothing written) when the claim was lost."""
    with transaction.atomic():
        if not _ours(fit).select_for_update().exists():
            return False
        upsert_posteriors(fit=fit, ratings=ratings, output=output)
        SamplePosterior.objects.filter(dataset_id=fit.dataset_id).exclude(fit=fit).delete()
        _ours(fit).update(
            status=ConsensusFit.Status.DONE,
            labels=ratings.labels,
            raters=output.raters_json(ratings),
            n_samples=int(ratings.sample_ids.size),
            n_ratings=ratings.n_ratings,
            seconds=round(time.perf_counter() - started, 3),
            error=_skipped_note(ratings),
            finished_at=timezone.now(),
            lease_until=None,
        )
    return True


def _skipped_note(ratings: Ratings) -> str:
    """Unknown labels are left out of the fit; the fit says which and how often."""
    if not ratings.skipped_unknown:
        return ""
    top = sorted(ratings.skipped_labels.items(), key=lambda item: -item[1])[:10]
    listed = ", ".join(f"{label!r} x{count}" for label, count in top)
    return f"skipped {ratings.skipped_unknown} ratings with labels not in the taxonomy: {listed}"


def _forget_old_fits(*, dataset_id: int) -> None:
    finished = ConsensusFit.objects.filter(
        dataset_id=dataset_id, status__in=[ConsensusFit.Status.DONE, ConsensusFit.Status.FAILED]
    ).order_by("-finished_at", "-pk")
    old = list(finished.values_list("pk", flat=True)[KEEP_FITS:])
    # A fit whose rows are still the dataset's is never dropped (its rows would go with it).
    current = (
        SamplePosterior.objects.filter(dataset_id=dataset_id)
        .values_list("fit_id", flat=True)
        .first()
    )
    ConsensusFit.objects.filter(pk__in=[pk for pk in old if pk != current]).delete()

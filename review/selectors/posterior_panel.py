"""Reads behind the sample page's consensus panel (templates/review/_posterior.html): the
sample's posterior in one query, and the raters' pulls a person may see."""

from __future__ import annotations

from annotator.models import Sample
from review.models_consensus import SamplePosterior
from review.selectors.latent import PosteriorView, RaterPull, decode_probs

PERSON = "person"


def panel_posterior(*, sample: Sample) -> PosteriorView | None:
    """review.selectors.latent.sample_posterior without reading the fit's raters (every rater's
    confusion matrix: with 40 labels and many people, far more than the page needs)."""
    row = (
        SamplePosterior.objects.select_related("fit")
        .defer("fit__raters")
        .filter(sample_id=sample.pk)
        .first()
    )
    if row is None:
        return None
    return PosteriorView(
        fit_id=row.fit_id,
        method=row.fit.method,
        labels=list(row.fit.labels),
        probs=decode_probs(row.probs),
        label=row.label,
        p_label=row.p_label,
        entropy=row.entropy,
        expected_change=row.expected_change,
        n_ratings=row.n_ratings,
        finished_at=row.fit.finished_at,
    )


def visible_pulls(
    *, pulls: list[RaterPull], see_people: bool, user_id: int
) -> tuple[list[RaterPull], int]:
    """(the pulls the person may see, how many other people's pulls are left out): the
    machines' and their own, everyone's when `see_people`."""
    own = f"{PERSON}:{user_id}"
    shown = [p for p in pulls if see_people or p.kind != PERSON or p.key == own]
    return shown, len(pulls) - len(shown)

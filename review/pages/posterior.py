"""The sample page's consensus panel (templates/review/_posterior.html): whether it shows, the
latent-class posterior's line, and each rater's pull as the panel names it.

Who sees it is review.policy.can_see_consensus: it counts other people's answers, so never
while the machines are hidden, and to an annotator only once they answered (blind review).
"""

from __future__ import annotations

from typing import Any

from annotator.models import Sample
from review import policy
from review.models_consensus import ConsensusFit
from review.policy import SampleAccess
from review.selectors.latent import PosteriorView, answered_since, sample_posterior

SHOWN = 6  # at most this many labels in the panel's line, most probable first
VISIBLE = 0.005  # shown as 0.01 or more (two decimals); smaller ones are only counted
PULL_TOP = 3  # labels of each rater's pull
METHODS = dict(ConsensusFit.Method.choices)


def posterior_context(
    *, sample: Sample, access: SampleAccess, context: dict[str, Any]
) -> dict[str, Any]:
    """`show_posterior` and, when shown, the posterior (one query) for the page's context."""
    shown = bool(policy.can_see_consensus(access=access)) and not context.get("blind_pending")
    if not shown:
        return {"show_posterior": False}
    posterior = sample_posterior(sample=sample)
    behind = posterior is not None and bool(
        posterior.started_at and answered_since(sample_id=sample.pk, since=posterior.started_at)
    )
    summary = posterior_summary(posterior)
    return {"show_posterior": True, "posterior": posterior, "posterior_behind": behind, **summary}


def posterior_summary(posterior: PosteriorView | None) -> dict[str, Any]:
    """The panel's line: the most probable labels, and how many more and how many round to 0."""
    if posterior is None:
        return {}
    visible = [(label, p) for label, p in posterior.top(len(posterior.probs)) if p >= VISIBLE]
    return {
        "posterior_top": visible[:SHOWN],
        "posterior_more": len(visible[SHOWN:]),
        "posterior_tiny": len(posterior.probs) - len(visible),
        "posterior_method": METHODS.get(posterior.method, posterior.method),
    }


def visible_pull(pull: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """A rater's pull as the panel names it: its top labels, none that rounds to 0.00."""
    return [(label, p) for label, p in pull[:PULL_TOP] if p >= VISIBLE]

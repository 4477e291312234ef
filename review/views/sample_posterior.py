"""The sample page's consensus panel (templates/review/_posterior.html): the latent-class
posterior beside the proposals, and (a fragment loaded after the page) which raters pulled
which way.

Who sees it is review.policy.can_see_consensus: it counts other people's answers, so never
while the machines are hidden, and to an annotator only once they answered (blind review);
other people's own pulls only to those who see every answer (as the page's list of answers).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.models import Sample
from review import policy
from review.http import HtmxHttpRequest, wants_partial
from review.models_consensus import ConsensusFit
from review.policy import SampleAccess, sample_access
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required
from review.selectors.latent import PosteriorView, RaterPull, rater_pulls, sample_posterior
from review.selectors.posterior_panel import PERSON, visible_pulls
from review.selectors.samples import sample_for_review

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
    return {"show_posterior": True, "posterior": posterior, **_summary(posterior)}


def _summary(posterior: PosteriorView | None) -> dict[str, Any]:
    if posterior is None:
        return {}
    visible = [(label, p) for label, p in posterior.top(len(posterior.probs)) if p >= VISIBLE]
    return {
        "posterior_top": visible[:SHOWN],
        "posterior_more": len(visible[SHOWN:]),
        "posterior_tiny": len(posterior.probs) - len(visible),
        "posterior_method": METHODS.get(posterior.method, posterior.method),
    }


def _visible(pull: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """A rater's pull as the panel names it: its top labels, none that rounds to 0.00."""
    return [(label, p) for label, p in pull[:PULL_TOP] if p >= VISIBLE]


@role_required(ANNOTATOR, ADJUDICATOR, AUDITOR)
@require_GET
def sample_consensus_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Which raters pulled the sample's consensus which way: a fragment for htmx, else a page."""
    sample = sample_for_review(pk=pk)
    access = sample_access(user=request.user, sample=sample)
    for decision in (policy.can_view(access=access), policy.can_see_consensus(access=access)):
        if not decision:
            raise PermissionDenied(decision.reason)
    posterior = sample_posterior(sample=sample)
    pulls: list[RaterPull] = []
    hidden = 0
    if posterior is not None:
        fit = ConsensusFit.objects.get(pk=posterior.fit_id)
        # As the page's list of answers: not while changing one's own answer (its blind mode).
        see_people = access.see_all and not (access.change and not access.adjudicate)
        user_id = int(request.user.pk or 0)
        every = rater_pulls(sample=sample, fit=fit)
        pulls, hidden = visible_pulls(pulls=every, see_people=see_people, user_id=user_id)
    context = {
        "sample": sample,
        "posterior": posterior,
        "pulls": [(pull, _visible(pull.pull)) for pull in pulls],
        "hidden_people": hidden,
        "me": f"{PERSON}:{request.user.pk}",
        **_summary(posterior),
    }
    partial = wants_partial(request)
    template = "review/_posterior_pulls.html" if partial else "review/sample_consensus.html"
    return render(request, template, context)

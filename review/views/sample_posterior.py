"""The sample page's consensus panel (templates/review/_posterior.html): the latent-class
posterior beside the proposals, and (a fragment loaded after the page) which raters pulled
which way.

The consensus mixes the machines with other people's answers, so it is shown by the page's
rule for both: never while the machines are hidden (machine-blind, before a first answer), and
to an annotator only once they have answered it (blind review); adjudicators and auditors who
are not answering it see it. Other people's individual answers (their pulls) only to those who
see every answer; an annotator sees the machines' pulls and their own.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.models import Sample
from review import policy
from review.models_consensus import ConsensusFit
from review.policy import SampleAccess, sample_access
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required
from review.selectors.latent import PosteriorView, RaterPull, rater_pulls, sample_posterior
from review.selectors.samples import sample_for_review
from review.views.queue import HtmxHttpRequest, wants_partial

TOP = 3  # labels named in the panel's line; the rest fold into "…"
PERSON = "person"
HIDDEN = "Answer this sample first: the consensus counts other people's answers."


def consensus_visible(*, access: SampleAccess, blind_pending: bool = False) -> bool:
    """Whether the person may see the sample's consensus (the module's rule)."""
    if blind_pending or access.machines_hidden:
        return False
    return access.see_all or access.answered


def posterior_context(
    *, sample: Sample, access: SampleAccess, context: dict[str, Any]
) -> dict[str, Any]:
    """`show_posterior` and, when shown, the posterior (one query) for the page's context."""
    if not consensus_visible(access=access, blind_pending=bool(context.get("blind_pending"))):
        return {"show_posterior": False}
    posterior = sample_posterior(sample=sample)
    return {"show_posterior": True, "posterior": posterior, **_summary(posterior)}


def _summary(posterior: PosteriorView | None) -> dict[str, Any]:
    if posterior is None:
        return {}
    top = posterior.top(TOP)
    rest = sum(1 for p in posterior.probs if p >= 0.005) - len(top)
    methods = dict(ConsensusFit.Method.choices)
    return {
        "posterior_top": top,
        "posterior_more": rest > 0,
        "posterior_method": methods.get(posterior.method, posterior.method),
    }


def visible_pulls(
    *, pulls: list[RaterPull], see_people: bool, user_id: int
) -> tuple[list[RaterPull], int]:
    """(the pulls the person may see, how many other people's pulls are left out)."""
    own = f"{PERSON}:{user_id}"
    shown = [p for p in pulls if see_people or p.kind != PERSON or p.key == own]
    return shown, len(pulls) - len(shown)


@role_required(ANNOTATOR, ADJUDICATOR, AUDITOR)
@require_GET
def sample_consensus_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Which raters pulled the sample's consensus which way: a fragment for htmx, else a page."""
    sample = sample_for_review(pk=pk)
    access = sample_access(user=request.user, sample=sample)
    allowed = policy.can_view(access=access)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    if not consensus_visible(access=access):
        raise PermissionDenied(HIDDEN)
    posterior = sample_posterior(sample=sample)
    pulls: list[RaterPull] = []
    hidden = 0
    if posterior is not None:
        fit = ConsensusFit.objects.get(pk=posterior.fit_id)
        # As the page's list of answers: not while changing one's own answer (its blind mode).
        see_people = access.see_all and not (access.change and not access.adjudicate)
        pulls, hidden = visible_pulls(
            pulls=rater_pulls(sample=sample, fit=fit),
            see_people=see_people,
            user_id=int(request.user.pk or 0),
        )
    context = {
        "sample": sample,
        "posterior": posterior,
        "pulls": pulls,
        "hidden_people": hidden,
        "me": f"{PERSON}:{request.user.pk}",
        **_summary(posterior),
    }
    template = (
        "review/_posterior_pulls.html" if wants_partial(request) else "review/sample_consensus.html"
    )
    return render(request, template, context)

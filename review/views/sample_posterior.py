"""Which raters pulled a sample's consensus which way: a fragment the sample page's consensus
panel loads after the page (the panel itself: review.pages.posterior).

Who sees it is review.policy.can_see_consensus; other people's own pulls only to those who see
every answer (as the page's list of answers).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from review import policy
from review.http import HtmxHttpRequest, wants_partial
from review.models_consensus import ConsensusFit
from review.pages.posterior import posterior_summary, visible_pull
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR, role_required
from review.selectors.latent import RaterPull, rater_pulls, sample_posterior
from review.selectors.posterior_panel import PERSON, visible_pulls


@role_required(ANNOTATOR, ADJUDICATOR, AUDITOR)
@require_GET
def sample_consensus_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Which raters pulled the sample's consensus which way: a fragment for htmx, else a page."""
    sample, access = policy.viewable_sample(user=request.user, pk=pk)
    policy.require(policy.can_see_consensus(access=access))
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
        "pulls": [(pull, visible_pull(pull.pull)) for pull in pulls],
        "hidden_people": hidden,
        "me": f"{PERSON}:{request.user.pk}",
        **posterior_summary(posterior),
    }
    partial = wants_partial(request)
    template = "review/_posterior_pulls.html" if partial else "review/sample_consensus.html"
    return render(request, template, context)

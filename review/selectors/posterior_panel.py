"""Reads behind the sample page's consensus panel (templates/review/_posterior.html): the
raters' pulls a person may see (the posterior itself: review.selectors.latent.sample_posterior)."""

from __future__ import annotations

from review.selectors.latent import RaterPull

PERSON = "person"


def visible_pulls(
    *, pulls: list[RaterPull], see_people: bool, user_id: int
) -> tuple[list[RaterPull], int]:
    """(the pulls the person may see, how many other people's pulls are left out): the
    machines' and their own, everyone's when `see_people`."""
    own = f"{PERSON}:{user_id}"
    shown = [p for p in pulls if see_people or p.kind != PERSON or p.key == own]
    return shown, len(pulls) - len(shown)

"""A page does not ask the workers again for what this process asked for a moment ago."""

from __future__ import annotations

from review.services.recent_asks import RECENT_SECONDS, forget_all, not_asked_recently


def test_asked_ids_are_left_out_until_the_memory_lapses():
    ask = not_asked_recently
    assert ask(kind="embedding", sample_ids=[3, 4, 5, 4], priority=1, now=100.0) == [3, 4, 5]
    assert ask(kind="embedding", sample_ids=[4, 5, 6], priority=1, now=101.0) == [6]
    assert ask(kind="embedding", sample_ids=[4], priority=9, now=101.0) == [4]  # another urgency
    assert ask(kind="masks", sample_ids=[4], priority=1, now=101.0) == [4]  # another kind
    later = 100.0 + RECENT_SECONDS
    assert ask(kind="embedding", sample_ids=[3, 6], priority=1, now=later) == [3]
    forget_all()
    assert ask(kind="embedding", sample_ids=[6], priority=1, now=later) == [6]

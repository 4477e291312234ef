from annotator.pipeline.replies import CHECKS
from review.templatetags.critic import ordered_checks


def test_checks_come_in_the_prompts_order_whatever_order_the_json_kept():
    stored = {name: True for name in reversed(CHECKS)} | {"extra_check": False}
    assert ordered_checks(stored) == [(name, True) for name in CHECKS] + [("extra_check", False)]


def test_bookkeeping_kept_beside_the_checks_is_not_listed_as_a_check():
    """An imported verdict carries origin="import", a restored one the restorer's name: the
    panel showed them as "ORIGIN yes"."""
    stored = {CHECKS[0]: None, "origin": "import", "restored_by": "ada"}
    assert ordered_checks(stored) == [(CHECKS[0], None)]

"""Seeded human-check sampling (stable across runs), and its command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator.models import Sample
from review.models import AuditEvent
from review.services.sampling import select_human_checks
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import answer, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreed():
    ds = DatasetFactory.create(name="sampled", agreed_review_share=0.3)
    SampleFactory.create_batch(200, dataset=ds, status=Sample.Status.AGREED)
    SampleFactory.create(dataset=ds)  # disputed: never flagged
    return ds


def _flagged(ds) -> set[int]:
    return set(ds.samples.filter(human_check=True).values_list("pk", flat=True))


def test_share_is_met_roughly_and_reruns_pick_the_same_samples(agreed):
    report = select_human_checks(dataset=agreed)
    picked = _flagged(agreed)
    assert 40 <= len(picked) <= 80 and report.selected == len(picked)
    assert not agreed.samples.filter(status="disputed", human_check=True).exists()
    again = select_human_checks(dataset=agreed)
    assert _flagged(agreed) == picked and (again.added, again.removed) == (0, 0)


def test_a_larger_share_keeps_earlier_picks_and_another_seed_differs(agreed):
    select_human_checks(dataset=agreed, share=0.2)
    small = _flagged(agreed)
    select_human_checks(dataset=agreed, share=0.5)
    assert small < _flagged(agreed)
    select_human_checks(dataset=agreed, share=0.2, seed="other")
    assert _flagged(agreed) != small


def test_lowering_the_share_keeps_samples_people_already_answered(agreed):
    select_human_checks(dataset=agreed, share=0.5)
    started = agreed.samples.filter(human_check=True).first()
    answer(started, member(), "awe")
    report = select_human_checks(dataset=agreed, share=0.0)
    assert _flagged(agreed) == {started.pk} and report.selected == 1
    assert AuditEvent.objects.filter(action="human_check").count() == 2


def test_command_prints_the_report_and_names_bad_input(agreed):
    out = io.StringIO()
    call_command("select_human_checks", "--dataset", "sampled", "--share", "0.1", stdout=out)
    assert "agreed samples go to people" in out.getvalue()
    with pytest.raises(CommandError, match="no dataset named 'nope'"):
        call_command("select_human_checks", "--dataset", "nope")
    with pytest.raises(CommandError, match="--share"):
        call_command("select_human_checks", "--dataset", "sampled", "--share", "2")

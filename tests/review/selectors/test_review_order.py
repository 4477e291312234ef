"""Dataset.review_order: the disputed queue and "Next" by posterior value, highest first, then
id; samples without a posterior after, in id order; pages continue by (value, id)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from annotator.models import Sample
from review.models_consensus import ConsensusFit, SamplePosterior
from review.roles import ADJUDICATOR, ANNOTATOR, AUDITOR
from review.selectors.assignment import annotation_candidates
from review.selectors.queue import queue_page, queue_samples
from review.selectors.review_order import Key, dataset_orders, order_value, parse_key
from review.services.assignment import lease_next_sample
from tests.factories import DatasetFactory, SampleFactory
from tests.review.team import member

pytestmark = pytest.mark.django_db


def posteriors(dataset, values: dict[Sample, tuple[float, float]]) -> None:
    """(entropy, expected_change) per sample, written directly (no fit runs)."""
    fit = ConsensusFit.objects.create(dataset=dataset, status=ConsensusFit.Status.DONE)
    SamplePosterior.objects.bulk_create(
        SamplePosterior(
            sample=s, dataset=dataset, fit=fit, probs=b"", label="awe", p_label=0.5,
            entropy=e, expected_change=c,
        )
        for s, (e, c) in values.items()
    )  # fmt: skip


@pytest.fixture
def ordered():
    """Six disputed samples: four with posteriors (two tied on entropy), two without."""
    ds = DatasetFactory.create(review_order="entropy")
    s = SampleFactory.create_batch(6, dataset=ds)
    SampleFactory.create(dataset=ds, status=Sample.Status.AGREED)  # not in the queue
    posteriors(ds, {s[1]: (0.5, 0.9), s[2]: (2.0, 0.1), s[3]: (0.5, 0.3), s[5]: (1.0, 0.2)})
    by_entropy = [s[2], s[5], s[1], s[3], s[0], s[4]]  # ties and no-posterior rows by id
    by_change = [s[1], s[3], s[5], s[2], s[0], s[4]]
    return ds, by_entropy, by_change


def _queue(ds):
    return queue_samples(dataset=ds, order=order_value(modes=dataset_orders(dataset=ds)))


def test_queue_orders_by_the_datasets_posterior_value(ordered):
    ds, by_entropy, by_change = ordered
    assert list(_queue(ds)) == by_entropy
    ds.review_order = "expected_change"
    ds.save()
    assert list(_queue(ds)) == by_change
    ds.review_order = "id"
    ds.save()
    assert list(_queue(ds)) == sorted(by_entropy, key=lambda s: s.pk)


def test_queue_pages_walk_the_value_order_by_their_links_both_ways(ordered):
    ds, by_entropy, _ = ordered
    qs = _queue(ds)

    def walk(**kw):
        args = {"page": "", "after": "", "before": ""} | kw
        return queue_page(samples=qs, count=6, per_page=2, **args)

    page = walk()
    seen = list(page.object_list)
    while page.has_next():
        page = walk(page=str(page.next_page_number()), after=page.after)
        seen += page.object_list
    assert seen == by_entropy
    back: list[Sample] = []
    while page.has_previous():
        page = walk(page=str(page.previous_page_number()), before=page.before)
        back = list(page.object_list) + back
    assert back == by_entropy[:4]
    assert list(walk(page="last").object_list) == by_entropy[4:]
    assert list(walk(page="2").object_list) == by_entropy[2:4]  # a typed page: OFFSET


def test_keys_round_trip_and_nonsense_is_refused():
    assert parse_key(Key(value=0.1 + 0.2, pk=7).token) == Key(value=0.1 + 0.2, pk=7)
    assert parse_key(Key(value=None, pk=7).token) == Key(value=None, pk=7)
    assert [parse_key(t) for t in ("7", "x:7", "inf:7", "0.5:", "0.5:x")] == [None] * 5


def test_queue_page_follows_the_order_and_its_next_link(client, settings, ordered):
    ds, by_entropy, _ = ordered
    settings.QUEUE_PAGE_SIZE = 4
    client.force_login(member(AUDITOR, ADJUDICATOR))
    params = {"dataset": ds.pk, "status": "disputed"}
    first = client.get(reverse("review:queue"), params)
    assert list(first.context["page"].object_list) == by_entropy[:4]
    after = first.context["page"].after
    assert urlencode({"after": after}).encode() in first.content  # the Next link's key
    second = client.get(reverse("review:queue"), {**params, "page": 2, "after": after})
    assert list(second.context["page"].object_list) == by_entropy[4:]


def test_next_hands_out_the_most_uncertain_untouched_sample_first(ordered):
    ds, by_entropy, _ = ordered
    now = timezone.now()
    person = member(ANNOTATOR)
    untouched = annotation_candidates(user=person, dataset=ds, now=now, untouched_only=True)
    assert list(untouched) == by_entropy
    assert list(annotation_candidates(user=person, dataset=None, now=now)) == by_entropy
    got = [lease_next_sample(user=member(ANNOTATOR)) for _ in range(2)]
    got.append(lease_next_sample(user=member(ANNOTATOR), dataset=ds))  # scoped to the dataset
    assert [a.sample_id for a in got if a] == [s.pk for s in by_entropy[:3]]


def test_without_a_dataset_only_ordered_datasets_use_their_values(ordered):
    _, by_entropy, _ = ordered
    plain = DatasetFactory.create()  # by id, though its samples have posteriors
    low, high = SampleFactory.create_batch(2, dataset=plain)
    posteriors(plain, {low: (0.1, 0.1), high: (9.0, 9.0)})
    person, now = member(ANNOTATOR), timezone.now()
    expected = [*by_entropy[:4], *sorted([*by_entropy[4:], low, high], key=lambda s: s.pk)]
    got = annotation_candidates(user=person, dataset=None, now=now, untouched_only=True)
    assert list(got) == expected
    assert (
        list(queue_samples(dataset=None, order=order_value(modes=dataset_orders(dataset=None))))
        == expected
    )


def test_the_review_order_is_edited_with_the_other_dataset_settings(admin_client, ordered):
    ds, _, _ = ordered
    page = admin_client.get(reverse("admin:annotator_dataset_change", args=[ds.pk]))
    assert b'name="review_order"' in page.content and b'name="overlap_k"' in page.content


def test_next_looks_at_the_highest_values_first_then_at_the_whole_order(ordered, monkeypatch):
    from review.selectors import untouched as assignment

    ds, by_entropy, _ = ordered
    monkeypatch.setattr(assignment, "POSTERIOR_WINDOW", 2)
    person, now = member(ANNOTATOR), timezone.now()

    def first_ids():
        return assignment.untouched_candidate_ids(user=person, dataset=ds, now=now, limit=25)

    assert first_ids() == [s.pk for s in by_entropy[:2]]  # the window: the top two
    for _ in range(2):  # others take the top two: the window holds nothing untouched now
        assert lease_next_sample(user=member(ANNOTATOR), dataset=ds) is not None
    assert first_ids() == [s.pk for s in by_entropy[2:]]

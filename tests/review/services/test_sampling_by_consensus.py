"""The agreed share for human checks picked by the latent-class posterior (Dataset.review_order
"entropy" / "expected_change") instead of by seeded hash."""

from __future__ import annotations

import pytest

from annotator.models import Dataset, Sample
from review.services.sampling import hash_fraction, select_human_checks
from tests.factories import DatasetFactory, SampleFactory
from tests.review.services.soft_labels import make_fit

pytestmark = pytest.mark.django_db


def _spread(i: int) -> list[float]:
    """A posterior that grows less certain with i (entropy strictly increasing for i < 10)."""
    top = 0.95 - 0.07 * i
    return [top] + [(1.0 - top) / 7] * 7


def _dataset(order: str, n: int = 20) -> tuple[Dataset, list[Sample]]:
    ds = DatasetFactory.create(review_order=order)
    samples = SampleFactory.create_batch(n, dataset=ds, status=Sample.Status.AGREED)
    SampleFactory.create(dataset=ds, status=Sample.Status.DISPUTED)  # never flagged
    return ds, samples


def _hash(ds: Dataset, sample: Sample) -> float:
    return hash_fraction(seed="emoreview", dataset_name=ds.name, external_id=sample.external_id)


def _flagged(ds: Dataset) -> set[int]:
    return set(ds.samples.filter(human_check=True).values_list("pk", flat=True))


def test_entropy_order_flags_the_least_certain_agreed_samples_and_a_larger_share_adds():
    ds, samples = _dataset("entropy")
    # Entropy rises with the position in `chosen_order`: a shuffled order, not the ids'.
    chosen_order = samples[::2] + samples[1::2]
    make_fit(ds, {s: _spread(i % 10) for i, s in enumerate(chosen_order[:10])})
    report = select_human_checks(dataset=ds, share=0.25)
    assert report.order == "entropy" and report.selected == 5
    assert "highest entropy first" in str(report)
    assert _flagged(ds) == {s.pk for s in chosen_order[5:10]}  # the five highest entropies
    again = select_human_checks(dataset=ds, share=0.25)
    assert (again.added, again.removed) == (0, 0)
    select_human_checks(dataset=ds, share=0.75)  # 15: the 10 with a posterior, then 5 more
    flagged = _flagged(ds)
    assert {s.pk for s in chosen_order[:10]} < flagged and len(flagged) == 15
    # The 5 without a posterior come in seeded-hash order.
    rest = sorted(chosen_order[10:], key=lambda s: _hash(ds, s))
    assert flagged - {s.pk for s in chosen_order[:10]} == {s.pk for s in rest[:5]}
    assert not ds.samples.filter(status=Sample.Status.DISPUTED, human_check=True).exists()


def test_expected_change_order_reads_its_own_column():
    ds, samples = _dataset("expected_change", n=6)
    # Entropy says samples[0..2]; expected change says samples[3..5].
    changes = {s: (0.9 if i >= 3 else 0.1) for i, s in enumerate(samples)}
    make_fit(ds, {s: _spread(9 - i) for i, s in enumerate(samples)}, changes=changes)
    report = select_human_checks(dataset=ds, share=0.5)
    assert report.order == "expected_change"
    assert _flagged(ds) == {s.pk for s in samples[3:]}


@pytest.mark.parametrize("order", ["id", "entropy"])
def test_the_hash_rule_holds_by_id_order_or_before_any_fit(order: str):
    ds, samples = _dataset(order)
    report = select_human_checks(dataset=ds, share=0.3)
    assert report.order == "hash" and "by seeded hash" in str(report)
    assert _flagged(ds) == {s.pk for s in samples if _hash(ds, s) < 0.3}


def test_a_fit_is_ignored_when_the_dataset_orders_by_id():
    ds, samples = _dataset("id")
    make_fit(ds, {s: _spread(i % 10) for i, s in enumerate(samples)})
    assert select_human_checks(dataset=ds, share=0.3).order == "hash"

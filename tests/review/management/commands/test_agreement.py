"""manage.py agreement: the dashboard's figures as JSON (keys, nulls, numbers) or as text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from review import stats
from review.selectors.audit import clear_audit_cache
from tests.review.selectors.test_audit import MODELS, hand_arrays, make_audit_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_audit_cache()  # ids repeat between tests, and so could fingerprints
    yield
    clear_audit_cache()


def run_json(capsys, *args: str) -> dict:
    call_command("agreement", *args, "--json")
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_keys_and_nulls(capsys):
    make_audit_world()
    figures = run_json(capsys, "--dataset", "emo-audit")
    human = figures["human"]
    assert set(human) >= {
        "items",
        "pairs",
        "pairwise_agreement",
        "unanimous_share",
        "krippendorff_alpha",
        "fleiss_kappa",
    }
    assert set(human["krippendorff_alpha"]) == {"nominal", "ordinal", "interval", "ratio"}
    # Categories: only the nominal alpha applies; Fleiss needs equal ratings per unit.
    assert human["krippendorff_alpha"]["ordinal"] is None
    assert human["krippendorff_alpha"]["ratio"] is None
    assert human["fleiss_kappa"] is None
    assert isinstance(figures["models"], dict)
    assert figures["binary"] is False


def test_json_numbers_equal_review_stats_on_the_same_arrays(capsys):
    make_audit_world()
    figures = run_json(capsys, "--dataset", "emo-audit")
    arrays = hand_arrays()
    human = stats.human_summary(arrays["people"], numeric=False)
    assert figures["human"]["items"] == human["items"] == 4
    assert figures["human"]["pairs"] == human["pairs"] == 6
    assert figures["human"]["pairwise_agreement"] == pytest.approx(human["pairwise_agreement"])
    assert figures["human"]["unanimous_share"] == pytest.approx(human["unanimous_share"])
    assert figures["human"]["krippendorff_alpha"]["nominal"] == pytest.approx(
        stats.krippendorff_alpha(arrays["people"], level="nominal")
    )
    codes = np.nan_to_num(arrays["models"], nan=-1).astype(int)
    every_model = codes[[0, 1, 2, 4]]  # Fleiss: the samples all three models labelled
    assert figures["models"]["fleiss_kappa"] == pytest.approx(
        stats.fleiss_kappa(stats.category_counts(every_model, n_categories=8))
    )
    pairs = {(p["a"], p["b"]): p for p in figures["models"]["pairs"]}
    gemini, gpt = codes[:, MODELS.index("gemini")], codes[:, MODELS.index("gpt-4o")]
    assert pairs[("gemini", "gpt-4o")]["cohen_kappa"] == pytest.approx(
        stats.cohen_kappa(gemini, gpt, n_categories=8)
    )


def test_source_filter_and_text_output(capsys):
    make_audit_world()
    fi = run_json(capsys, "--dataset", "emo-audit", "--source", "FI")
    assert (fi["samples"], fi["filters"]["source"]) == (2, "FI")
    call_command("agreement", "--dataset", "emo-audit")
    text = capsys.readouterr().out
    assert "emo-audit: 6 samples" in text
    assert "pairwise_agreement: 0.333" in text  # 2 of 6 pairs
    assert "gemini vs gpt-4o: n 5" in text


def test_unknown_dataset_and_bad_dates_are_errors():
    with pytest.raises(CommandError, match="--dataset: no dataset named 'nope'"):
        call_command("agreement", "--dataset", "nope")
    with pytest.raises(CommandError, match="not a date"):
        call_command("agreement", "--dataset", "nope", "--since", "yesterday")

"""Audit selectors: the figures equal review.stats on arrays built by hand from the same data,
drill-downs count the same samples, filters and the cache behave."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import krippendorff
import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from annotator.models import CriticVerdict, Dataset, Sample
from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy
from annotator.taxonomy import MIKELS_8_LABELS
from review import stats
from review.labels import Label
from review.models import Adjudication, Annotation
from review.roles import ADJUDICATOR, ANNOTATOR
from review.selectors.audit import (
    AuditFilters,
    audit_data,
    audit_figures,
    audit_fingerprint,
    clear_audit_cache,
)
from review.selectors.audit_drilldown import DrilldownError, drilldown
from review.services.adjudication import adjudicate_sample
from review.services.annotation_import import FORMAT_EMONET_BINARY, import_annotations_file
from review.services.consensus import submit_answer
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory, UserFactory
from tests.review.team import lease, member

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "emonet_face"
MODELS = ["gemini", "gpt-4o", "qwen"]  # sorted, as the audit orders them
# Per sample: source, gold, the three models' (label, confidence) or None, critic verdicts
# (oldest first), people's answers {annotator: (label, confidence)}, final label versions.
SAMPLES: list[dict[str, Any]] = [
    {
        "source": "EmoSet",
        "gold": "awe",
        "models": [("awe", 9), ("awe", 8), ("awe", 7)],
        "answers": {"ann-a": ("awe", 8), "ann-b": ("awe", 6)},
        "final": ["awe"],
    },
    {
        "source": "EmoSet",
        "models": [("awe", 6), ("fear", 9), ("awe", 5)],
        "critic": [("revise", "fear"), ("preserve", "awe")],
        "answers": {"ann-a": ("awe", 7), "ann-b": ("fear", 9), "ann-c": ("awe", 7)},
        "final": ["awe", "fear!"],  # "!": a version that was reverted
    },
    {
        "source": "EmoSet",
        "gold": "fear",
        "models": [("fear", 10), ("fear", 4), ("sadness", 3)],
        "critic": [("revise", "sadness")],
        "answers": {"ann-a": ("fear", 9), "ann-b": ("sadness", 3)},
        "final": ["fear"],
    },
    {"source": "EmoSet", "models": [("amusement", 2), ("amusement", 7), None]},
    {
        "source": "FI",
        "models": [("anger", 8), ("disgust", 8), ("anger", 6)],
        "critic": [("drop", "")],
        "answers": {"ann-a": ("anger", 5), "ann-c": ("disgust", 5)},
        "final": ["anger"],
    },
    {"source": "FI", "models": [("sadness", 1), None, None]},
]
PEOPLE = ["ann-a", "ann-b", "ann-c"]


@dataclass
class World:
    dataset: Dataset
    samples: list[Sample]


def make_audit_world(name: str = "emo-audit") -> World:
    """A Mikels-8 dataset with three models, a critic, three people and final labels."""
    dataset = cast(Dataset, DatasetFactory(name=name))
    people = {n: cast(User, UserFactory(username=n)) for n in PEOPLE}
    boss = cast(User, UserFactory(username="adjudicator-1"))
    samples = []
    for i, spec in enumerate(SAMPLES):
        sample = cast(
            Sample,
            SampleFactory(
                dataset=dataset,
                external_id=f"s{i}",
                source=spec["source"],
                gold_emotion=spec.get("gold", ""),
            ),
        )
        samples.append(sample)
        for model, said in zip(MODELS, spec["models"], strict=True):
            if said:
                ProposalFactory(
                    sample=sample, model_name=model, emotion=said[0], confidence=said[1]
                )
        for verdict, emotion in spec.get("critic", []):
            CriticVerdict.objects.create(sample=sample, verdict=verdict, emotion=emotion)
        for person, (emotion, confidence) in spec.get("answers", {}).items():
            Annotation.objects.create(
                sample=sample,
                annotator=people[person],
                emotion=emotion,
                confidence=confidence,
                time_spent_ms=30_000,
            )
        for version, label in enumerate(spec.get("final", []), start=1):
            Adjudication.objects.create(
                sample=sample,
                annotator=boss,
                version=version,
                emotion=label.rstrip("!"),
                reverted=label.endswith("!"),
                confidence=8,
                time_spent_ms=60_000,
            )
    return World(dataset=dataset, samples=samples)


def code(label: str | None) -> float:
    return float(MIKELS_8_LABELS.index(label)) if label else np.nan


def hand_arrays() -> dict[str, np.ndarray]:
    """The world as review.stats inputs, built straight from SAMPLES."""
    models = np.array([[code(m[0]) if m else np.nan for m in spec["models"]] for spec in SAMPLES])
    people = np.array(
        [[code(spec.get("answers", {}).get(p, (None,))[0]) for p in PEOPLE] for spec in SAMPLES]
    )
    confidence = np.array(
        [[spec.get("answers", {}).get(p, (None, np.nan))[1] for p in PEOPLE] for spec in SAMPLES]
    )
    final = np.array([code(spec["final"][0]) if spec.get("final") else np.nan for spec in SAMPLES])
    return {"models": models, "people": people, "confidence": confidence, "final": final}


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_audit_cache()  # ids repeat between tests, and so could fingerprints
    yield
    clear_audit_cache()


@pytest.fixture
def world(db) -> World:
    return make_audit_world()


def figures_for(world: World, **kw: Any) -> dict[str, Any]:
    return audit_figures(filters=AuditFilters(dataset=world.dataset, **kw))


def test_model_figures_equal_stats_on_hand_built_arrays(world):
    fig = figures_for(world)
    arrays = hand_arrays()
    codes = np.nan_to_num(arrays["models"], nan=-1).astype(int)
    expected = stats.model_summary(
        {name: codes[:, j] for j, name in enumerate(MODELS)}, n_categories=8
    )
    assert fig["models"] == expected
    assert fig["models"]["models"] == MODELS
    pair = fig["models"]["pairs"][0]
    assert (pair["a"], pair["b"], pair["n"]) == ("gemini", "gpt-4o", 5)
    assert pair["confusion"][1][6] == 1  # gemini awe, gpt-4o fear (sample s1)
    by_label = {row["label"]: row for row in fig["disputes"]["by_label"]}
    assert (by_label["awe"]["hits"], by_label["awe"]["n"]) == (1, 2)
    by_source = {row["source"]: (row["hits"], row["n"]) for row in fig["disputes"]["by_source"]}
    assert by_source == {"EmoSet": (2, 4), "FI": (1, 1)}


def test_human_figures_equal_stats_on_the_units_by_annotators_matrix(world):
    fig = figures_for(world)
    arrays = hand_arrays()
    assert fig["human"] == stats.human_summary(arrays["people"], numeric=False)
    assert fig["human"]["items"] == 4 and fig["human"]["pairs"] == 1 + 3 + 1 + 1
    assert fig["human"]["fleiss_kappa"] is None  # 2, 3, 2, 2 ratings per sample
    assert fig["human_confidence"] == stats.human_summary(arrays["confidence"], numeric=True)
    consensus = stats.agreement_with_consensus(arrays["people"])
    gold = stats.agreement_with_reference(
        arrays["people"], [code(spec.get("gold")) for spec in SAMPLES]
    )
    rows = {row["annotator"]: row for row in fig["annotators"]}
    for i, person in enumerate(PEOPLE):
        assert rows[person]["consensus"]["hits"] == consensus.agree[i]
        assert rows[person]["consensus"]["n"] == consensus.n[i]
        assert rows[person]["gold"]["hits"] == gold.agree[i]
        assert rows[person]["gold"]["n"] == gold.n[i]
    assert rows["ann-b"]["gold"] == {"hits": 1, "n": 2, "rate": 0.5}


def test_models_and_critic_against_the_final_label(world):
    fig = figures_for(world)
    arrays = hand_arrays()
    critic = np.array([np.nan, code("awe"), code("sadness"), np.nan, np.nan, np.nan])
    expected = stats.agreement_with_reference(
        np.column_stack([arrays["models"], critic]), arrays["final"]
    )
    rows = fig["models_vs_final"]
    assert [row["model"] for row in rows] == [*MODELS, "critic"]
    assert [row["hits"] for row in rows] == expected.agree.tolist()
    assert [row["n"] for row in rows] == expected.n.tolist()
    overturns = {row["verdict"]: (row["hits"], row["n"]) for row in fig["critic_overturns"]}
    # s1: latest verdict preserve awe, final awe (v2 reverted) -> upheld; s2: revise to sadness,
    # final fear -> overturned; s4: drop, yet people labelled it -> overturned.
    assert overturns == {"preserve": (0, 1), "revise": (1, 1), "drop": (1, 1)}


def test_calibration_per_model(world):
    fig = figures_for(world)
    arrays = hand_arrays()
    gemini = fig["calibration"][0]
    assert gemini["model"] == "gemini"
    confidence = np.array([9, 6, 10, 8], dtype=float)  # gemini on s0, s1, s2, s4 (final known)
    correct = np.array([True, True, True, True])
    assert gemini["n"] == 4
    assert gemini == {"model": "gemini", **stats.calibration_summary(confidence, correct)}
    assert arrays["final"][3] != arrays["final"][3]  # s3 has no final label: not compared


def test_throughput_counts_app_decisions(world):
    fig = figures_for(world)
    rows = {row["annotator"]: row for row in fig["throughput"]}
    assert rows["ann-a"]["items"] == 4
    assert rows["ann-a"]["items_per_hour"] == pytest.approx(120.0)
    assert rows["adjudicator-1"]["items"] == 5
    assert rows["adjudicator-1"]["median_seconds_per_item"] == 60.0


def test_source_and_date_filters(world):
    fi = figures_for(world, source="FI")
    assert fi["samples"] == 2
    assert fi["models"]["items"] == 2
    assert fi["human"]["items"] == 1
    tomorrow = timezone.localdate() + timedelta(days=1)
    later = figures_for(world, since=tomorrow)
    assert later["samples"] == 6  # samples stay; what was said about them is outside the window
    assert later["models"]["items"] == 0 and later["human"]["items"] == 0
    assert later["models"]["fleiss_kappa"] is None
    today = figures_for(world, since=timezone.localdate(), until=timezone.localdate())
    assert today["human"] == figures_for(world)["human"]


def test_numbers_get_every_alpha_level_and_negative_numbers_lose_ratio(db, tmp_path):
    dataset = cast(Dataset, DatasetFactory(name="valence"))
    for i in range(4):
        SampleFactory(dataset=dataset, external_id=f"v{i}")
    values = [[-2, -1], [0, 0], [1, 2], [2, 2]]
    lines = ["sample_id,annotator,value"]
    lines += [f"v{i},p{j},{v}" for i, row in enumerate(values) for j, v in enumerate(row)]
    path = tmp_path / "valence.csv"
    path.write_text("\n".join(lines) + "\n")
    import_annotations_file(path=path, fmt="long", dataset_name="valence")
    fig = audit_figures(filters=AuditFilters(dataset=dataset))
    assert fig["numeric"] is True
    alpha = fig["human"]["krippendorff_alpha"]
    reference = np.array(values, dtype=float).T
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(reliability_data=reference, level_of_measurement=level)
        assert alpha[level] == pytest.approx(expected)
    assert alpha["ratio"] is None
    assert fig["human"]["fleiss_kappa"] is not None  # every unit has two ratings


def test_binary_votes_are_sample_emotion_units(db):
    save_taxonomy(name=EMONET_FACE_40, spec=read_taxonomy_file(path=FIXTURES / "guide.json"))
    import_annotations_file(
        path=FIXTURES / "binary_slice.csv",
        fmt=FORMAT_EMONET_BINARY,
        dataset_name="emonet",
        create_samples=True,
    )
    dataset = Dataset.objects.get(name="emonet")
    fig = audit_figures(filters=AuditFilters(dataset=dataset))
    assert fig["binary"] is True
    units: dict[tuple[str, str], dict[str, float]] = {}
    for row in csv.DictReader((FIXTURES / "binary_slice.csv").open()):
        emotion = "Helplessness" if row["emotion"] == "Hopelessness" else row["emotion"]
        units.setdefault((row["path"], emotion), {})[row["annotator"]] = float(
            row["value"] == "True"
        )
    raters = sorted({r for votes in units.values() for r in votes})
    matrix = np.array([[votes.get(r, np.nan) for r in raters] for votes in units.values()])
    assert fig["human"] == stats.human_summary(matrix, numeric=False)
    assert fig["human"]["items"] == 320
    consensus = stats.agreement_with_consensus(matrix)
    rows = {row["annotator"]: row for row in fig["annotators"]}
    assert [rows[r]["consensus"]["hits"] for r in raters] == consensus.agree.tolist()
    assert [rows[r]["consensus"]["n"] for r in raters] == consensus.n.tolist()
    assert all(row["gold"]["rate"] is None for row in fig["annotators"])
    per_emotion = {row["emotion"]: row for row in fig["binary_by_emotion"]}
    assert sum(row["units"] for row in per_emotion.values()) == 320
    assert sum(row["votes"] for row in per_emotion.values()) == 488
    assert fig["models"]["items"] == 0 and fig["models"]["fleiss_kappa"] is None


def test_drilldowns_list_the_samples_behind_the_numbers(world):
    data = audit_data(filters=AuditFilters(dataset=world.dataset))
    ids = {s.pk: s.external_id for s in world.samples}

    def listed(figure: str, **params: str) -> list[str]:
        found = drilldown(data=data, figure=figure, params=params)
        return [ids[int(pk)] for pk in found.sample_ids]

    assert listed("pair", a="gemini", b="gpt-4o", x="awe", y="fear") == ["s1"]
    assert listed("pair", a="gemini", b="qwen", disagree="1") == ["s2"]
    assert listed("disputes") == ["s1", "s2", "s4"]
    assert listed("disputes", label="awe", all="1") == ["s0", "s1"]
    assert listed("judge", model="qwen", miss="1") == ["s2"]
    assert listed("critic", verdict="drop", overturned="1") == ["s4"]
    assert listed("calibration", model="gpt-4o", bin="3") == ["s2"]
    assert listed("human", split="1") == ["s1", "s2", "s4"]
    assert listed("annotator", annotator="ann-b", against="consensus", miss="1") == ["s1", "s2"]
    assert listed("annotator", annotator="ann-b", against="gold") == ["s0", "s2"]
    assert listed("decisions", annotator="adjudicator-1") == ["s0", "s1", "s2", "s4"]
    with pytest.raises(DrilldownError, match="not a label"):
        listed("pair", a="gemini", b="qwen", x="joy", y="awe")
    with pytest.raises(DrilldownError, match="unknown figure"):
        listed("nothing")


def test_figures_are_cached_until_a_row_changes(world, settings, django_assert_max_num_queries):
    settings.AUDIT_STALE_SECONDS = 0
    first = figures_for(world)
    assert first["computed_at"] is not None
    with django_assert_max_num_queries(1):  # only the fingerprint
        assert figures_for(world) == first
    before = audit_fingerprint()
    person = User.objects.get(username="ann-c")
    Annotation.objects.create(sample=world.samples[0], annotator=person, emotion="fear")
    assert audit_fingerprint() != before
    assert figures_for(world)["human"]["pairs"] == 6 + 2


def test_while_people_annotate_figures_stay_for_a_grace_period(world, settings):
    settings.AUDIT_STALE_SECONDS = 60
    filters = AuditFilters(dataset=world.dataset)
    audit_figures(filters=filters)
    person = User.objects.get(username="ann-c")
    Annotation.objects.create(sample=world.samples[0], annotator=person, emotion="fear")
    assert audit_figures(filters=filters)["human"]["pairs"] == 6  # as of the last computation
    assert audit_data(filters=filters).rating_unit.shape == (9,)
    assert audit_figures(filters=filters, fresh=True)["human"]["pairs"] == 8
    assert audit_data(filters=filters).rating_unit.shape == (10,)


def test_rows_of_other_datasets_inside_the_id_range_are_left_out(world):
    before = figures_for(world)
    other = make_audit_world("emo-other")  # its ids follow this world's
    late = cast(Sample, SampleFactory(dataset=world.dataset, external_id="late", source="FI"))
    assert late.pk > other.samples[-1].pk  # this dataset's id range now spans the other's
    clear_audit_cache()
    after = figures_for(world)
    assert after["samples"] == 7
    for key in ("models", "human", "annotators", "models_vs_final", "critic_overturns"):
        assert after[key] == before[key]


def test_throughput_counts_each_answer_once_and_links_the_samples_it_counts(db):
    """With k = 1 an answer is also written as the final label (method person): the demo's
    annotator answered 5 samples, the throughput said 10 decisions, its drill-down listed 5."""
    dataset = cast(Dataset, DatasetFactory(name="k1", overlap_k=1))
    person = member(ANNOTATOR, username="solo")
    boss = member(ADJUDICATOR, username="boss")
    samples = [cast(Sample, SampleFactory(dataset=dataset)) for _ in range(5)]
    for sample in samples:
        lease(sample, person)
        submit_answer(sample=sample, annotator=person, label=Label(emotion="awe", confidence=7.0))
    # An adjudicator revising one label twice: two decisions on one sample.
    for base in (1, 2):
        adjudicate_sample(
            sample=samples[0], annotator=boss, label=Label(emotion="fear", confidence=6.0),
            base_version=base,
        )  # fmt: skip
    filters = AuditFilters(dataset=dataset)
    data = audit_data(filters=filters)
    rows = {row["annotator"]: row for row in audit_figures(filters=filters)["throughput"]}
    for name, decisions in (("solo", 5), ("boss", 2)):
        listed = drilldown(data=data, figure="decisions", params={"annotator": name}).sample_ids
        assert rows[name]["items"] == decisions
        assert rows[name]["samples"] == len(listed)
    assert rows["solo"]["samples"] == 5 and rows["boss"]["samples"] == 1

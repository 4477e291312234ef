from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from annotator.models import CriticVerdict, Dataset, Proposal, Region, Sample, Taxonomy
from annotator.services import importing
from annotator.services.importing import (
    ImportFailed,
    ImportReport,
    choose_images_root,
    import_samples_file,
)
from tests.annotator.importers.helpers import proposal, record, row_counts, write_jsonl
from tests.factories import AdjudicationFactory, DatasetFactory, RegionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def run(tmp_path: Path, images_root: Path, *lines: object, **options) -> ImportReport:
    path = write_jsonl(tmp_path / "samples.jsonl", *lines)
    options.setdefault("dataset_name", "emo")
    return import_samples_file(path=path, images_root=images_root, **options)


def fails(tmp_path: Path, images_root: Path, *lines: object, **options) -> list[str]:
    """The import's problems as text; asserts that nothing at all was written."""
    before = row_counts()
    with pytest.raises(ImportFailed) as failed:
        run(tmp_path, images_root, *lines, **options)
    assert row_counts() == before
    return [str(issue) for issue in failed.value.issues]


# Accepted shapes


def test_proposals_shape_creates_sample_proposals_regions_and_verdict(tmp_path, images_root):
    line = record(
        "s1",
        "a.jpg",
        source="EmoSet",
        proposals=[
            proposal("gpt-4o", "awe", bbox=[4, 4, 40, 40]),
            proposal("gemini", "Fear", bbox={"x1": 1, "y1": 2, "x2": 30, "y2": 40}),
        ],
        critic={"verdict": "preserve", "emotion": "fear", "reasoning": "r", "instructions": ""},
    )
    report = run(tmp_path, images_root, line)
    assert report == ImportReport(created=1, updated=0, agreed=0, disputed=1, pending=0, dropped=0)
    sample = Sample.objects.get(external_id="s1")
    assert (sample.image_path, sample.source, sample.width, sample.height) == (
        "a.jpg",
        "EmoSet",
        64,
        48,
    )
    assert sample.content_hash == hashlib.sha256((images_root / "a.jpg").read_bytes()).hexdigest()
    assert (sample.status, sample.suggested_emotion) == ("disputed", "fear")
    gemini = sample.proposals.get(model_name="gemini")
    assert (gemini.emotion, gemini.confidence, gemini.subject) == ("fear", 7.0, "person")
    regions = sorted(sample.regions.values_list("model_name", "role", "origin", "phrase", "x1"))
    assert regions == [
        ("gemini", "subject", "import", "person", 1.0),
        ("gpt-4o", "subject", "import", "person", 4.0),
    ]
    verdict = sample.verdicts.get()
    assert (verdict.verdict, verdict.emotion, verdict.model_name) == ("preserve", "fear", "critic")


def test_emoverse_readme_record_becomes_one_proposal(tmp_path, images_root):
    des = [0.5] * 1024
    line = {
        "id": "ev-1",
        "image_path": "b.jpg",
        "description": "Children splash in a fountain.",
        "emotion": "Amusement",
        "confidence": 8,
        "background": "city fountain",
        "attribute": "playful",
        "subject": "children",
        "B-A-S": "children - playful - city fountain",  # order unreliable; fields win
        "DES": des,
        "bbox": [{"x1": 0, "y1": 0, "x2": 20, "y2": 20}, {"x1": 30, "y1": 10, "x2": 64, "y2": 48}],
        "mask_path": "masks/ev-1.png",
    }
    (images_root / "masks").mkdir()
    pixels = Image.new("L", (64, 48), 0)
    pixels.paste(255, (30, 10, 64, 48))
    pixels.save(images_root / "masks" / "ev-1.png")
    report = run(tmp_path, images_root, line, default_model="emoverse-v1")
    assert (report.created, report.agreed) == (1, 1)
    sample = Sample.objects.get(external_id="ev-1")
    assert struct.unpack("<1024f", bytes(sample.des or b"")) == tuple(des)
    [p] = sample.proposals.all()
    assert (p.model_name, p.emotion, p.background, p.attribute, p.subject) == (
        "emoverse-v1",
        "amusement",
        "city fountain",
        "playful",
        "children",
    )
    assert p.raw["mask_path"] == "masks/ev-1.png" and "DES" not in p.raw
    boxes = sorted(
        r.box or []
        for r in sample.regions.filter(role="subject", origin="import", mask__isnull=True)
    )
    assert boxes == [[0.0, 0.0, 20.0, 20.0], [30.0, 10.0, 64.0, 48.0]]
    masked = sample.regions.get(mask__isnull=False)  # the mask file: its own region
    assert (masked.role, masked.phrase, masked.box) == ("subject", "children", [30, 10, 64, 48])


def test_old_names_and_bas_string_only(tmp_path, images_root):
    line = {
        "id": "old",
        "image_path": "c.png",
        "analysis": "A dark alley at night.",
        "emotion": "fear",
        "intensity": 6.5,
        "B-A-S": "dark alley \u2013 ominous \u2013 lone figure",
    }
    run(tmp_path, images_root, line)
    p = Proposal.objects.get(sample__external_id="old")
    assert (p.model_name, p.description, p.confidence) == (
        "emoverse",
        "A dark alley at night.",
        6.5,
    )
    assert (p.background, p.attribute, p.subject) == ("dark alley", "ominous", "lone figure")


def test_id_and_image_path_only_is_pending(tmp_path, images_root):
    report = run(tmp_path, images_root, record("p1", "a.jpg"), record("p2", "b.jpg"))
    assert (report.created, report.pending) == (2, 2)
    assert set(Sample.objects.values_list("status", flat=True)) == {"pending"}
    assert Proposal.objects.count() == 0


def test_new_dataset_gets_mikels8_and_stores_its_images_root(tmp_path, images_root):
    run(tmp_path, images_root, record(), dataset_name="fresh")
    dataset = Dataset.objects.get(name="fresh")
    assert dataset.taxonomy.name == "mikels8"
    assert dataset.images_root == str(images_root.resolve())
    assert choose_images_root(dataset_name="fresh", given=None, display_name="x") == Path(
        dataset.images_root
    )


def test_drop_verdict_marks_the_sample_dropped(tmp_path, images_root):
    line = record(proposals=[proposal("m1")], critic={"verdict": "DROP", "reasoning": "blurry"})
    report = run(tmp_path, images_root, line)
    assert (report.dropped, report.agreed) == (1, 0)
    assert Sample.objects.get().status == "dropped"


# Re-import


def test_reimport_updates_without_duplicates_and_keeps_peoples_work(tmp_path, images_root):
    first = record(
        "s1",
        "a.jpg",
        source="EmoSet",
        proposals=[proposal("m1", "awe", bbox=[0, 0, 10, 10]), proposal("m2", "fear")],
        critic={"verdict": "drop"},
    )
    run(tmp_path, images_root, first, record("s2", "b.jpg"))
    sample = Sample.objects.get(external_id="s1")
    RegionFactory(sample=sample, origin="person", phrase="hand-drawn")
    adjudication = AdjudicationFactory(sample=sample)
    pipeline_verdict = CriticVerdict.objects.create(sample=sample, verdict="revise")
    CriticVerdict.objects.filter(pk=pipeline_verdict.pk).update(created_at="2000-01-01T00:00Z")

    again = record(
        "s1",
        "b.jpg",
        source="web",
        proposals=[proposal("m2", "awe", bbox=[[1, 1, 5, 5], [2, 2, 6, 6]])],
        critic={"verdict": "preserve", "emotion": "awe"},
    )
    report = run(tmp_path, images_root, again, record("s3", "c.png"))
    assert (report.created, report.updated) == (1, 1)
    assert Sample.objects.count() == 3
    sample.refresh_from_db()
    assert (sample.image_path, sample.source) == ("b.jpg", "web")
    assert sample.content_hash == hashlib.sha256((images_root / "b.jpg").read_bytes()).hexdigest()
    # Upserted per (sample, model): m1 kept, m2 updated, no duplicate rows.
    assert sorted(sample.proposals.values_list("model_name", "emotion")) == [
        ("m1", "awe"),
        ("m2", "awe"),
    ]
    assert sorted(sample.regions.filter(origin="import").values_list("model_name", "x1")) == [
        ("m2", 1.0),
        ("m2", 2.0),
    ]
    assert sample.regions.filter(origin="person", phrase="hand-drawn").exists()
    assert sample.adjudications.get() == adjudication
    # The imported drop verdict was replaced; the pipeline's own verdict stays.
    assert sorted(sample.verdicts.values_list("verdict", flat=True)) == ["preserve", "revise"]
    assert sample.status == "agreed"  # no longer dropped


def test_reimport_keeps_an_adjudicated_status(tmp_path, images_root):
    run(tmp_path, images_root, record(proposals=[proposal("m1")]))
    Sample.objects.update(status="adjudicated")
    report = run(tmp_path, images_root, record(proposals=[proposal("m1"), proposal("m2", "fear")]))
    assert report == ImportReport(0, 1, 0, 0, 0, 0)
    assert Sample.objects.get().status == "adjudicated"


def test_emotion_matches_an_existing_datasets_taxonomy(tmp_path, images_root):
    taxonomy = Taxonomy.objects.create(name="calm-tense", labels=["calm", "tense"])
    Dataset.objects.create(name="custom", taxonomy=taxonomy)
    issues = fails(tmp_path, images_root, record(emotion="awe"), dataset_name="custom")
    assert issues == ["samples.jsonl:1: emotion: 'awe' is not in taxonomy calm-tense (calm, tense)"]
    run(tmp_path, images_root, record(emotion="TENSE"), dataset_name="custom")
    assert Proposal.objects.get().emotion == "tense"


# Errors: every one names line and field, and nothing is written.

GOOD = record("good", "a.jpg", proposals=[proposal("m1")])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "x", "image_path": "b.jpg",', "samples.jsonl:2: json: invalid JSON:"),
        (record("x", "b.jpg", emotion="happy"), "samples.jsonl:2: emotion: 'happy' is not in"),
        (record("x", "b.jpg", emotion="awe", confidence=11), "samples.jsonl:2: confidence: 11 is"),
        (
            record("x", "b.jpg", proposals=[proposal("m", confidence="high")]),
            "samples.jsonl:2: proposals[0].confidence: 'high' is not a number",
        ),
        (
            record("x", "b.jpg", emotion="awe", bbox=[{"x1": 0, "y1": 0, "x2": 65, "y2": 10}]),
            "samples.jsonl:2: bbox[0]: box [0, 0, 65, 10] lies outside the 64x48 image",
        ),
        (
            record("x", "b.jpg", proposals=[proposal("m", bbox=[9, 9, 3, 30])]),
            "samples.jsonl:2: proposals[0].bbox: box [9, 9, 3, 30] is inverted",
        ),
        (record("x", "b.jpg", DES=[0.1, 0.2]), "samples.jsonl:2: DES: has 2 values, expected 1024"),
        (record("x", "missing.jpg"), "samples.jsonl:2: image_path: 'missing.jpg' does not exist"),
        (record("good", "b.jpg"), "samples.jsonl:2: id: duplicate id 'good' (first on line 1)"),
        (
            record("x", "b.jpg", critic={"verdict": "maybe"}),
            "samples.jsonl:2: critic.verdict: 'maybe' is not a critic verdict",
        ),
        ({"image_path": "b.jpg"}, "samples.jsonl:2: id: missing"),
        ({"id": "x"}, "samples.jsonl:2: image_path: missing"),
        (record("x", "/etc/hosts"), "samples.jsonl:2: image_path: '/etc/hosts' is absolute"),
        (record("x", "../images/a.jpg"), "samples.jsonl:2: image_path: '../images/a.jpg' contains"),
        (
            record("x", "b.jpg", emotion="awe", **{"B-A-S": "just one phrase"}),
            "samples.jsonl:2: B-A-S: 'just one phrase' does not split",
        ),
    ],
)
def test_bad_line_is_reported_and_nothing_is_written(tmp_path, images_root, line, expected):
    issues = fails(tmp_path, images_root, GOOD, line)
    assert any(issue.startswith(expected) for issue in issues), issues


def test_unreadable_image(tmp_path, images_root):
    (images_root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    issues = fails(tmp_path, images_root, GOOD, record("x", "broken.jpg"))
    assert issues == ["samples.jsonl:2: image_path: 'broken.jpg' is not an image Pillow can read"]


def test_symlink_escape(tmp_path, images_root):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    (images_root / "sneaky.png").symlink_to(tmp_path / "outside.png")
    issues = fails(tmp_path, images_root, GOOD, record("x", "sneaky.png"))
    assert issues == [
        "samples.jsonl:2: image_path: 'sneaky.png' leads outside the images root"
        " (through a symlink)"
    ]


def test_decompression_bomb_guard_uses_the_setting(tmp_path, images_root, settings):
    settings.MAX_IMAGE_PIXELS = 1000  # the 64x48 test images are 3072 pixels
    issues = fails(tmp_path, images_root, GOOD)
    assert len(issues) == 1
    assert issues[0].startswith("samples.jsonl:1: image_path: 'a.jpg' is too large")


def test_every_problem_in_the_file_is_reported_in_one_run(tmp_path, images_root):
    issues = fails(
        tmp_path,
        images_root,
        record("a", "a.jpg", emotion="happy", confidence=-2),
        "",
        "not json",
        GOOD,
        record("a", "nope.png"),
    )
    assert [issue.split(": ")[0:2] for issue in issues] == [
        ["samples.jsonl:1", "emotion"],
        ["samples.jsonl:1", "confidence"],
        ["samples.jsonl:3", "json"],
        ["samples.jsonl:5", "id"],
        ["samples.jsonl:5", "image_path"],
    ]


def test_display_name_is_used_in_messages(tmp_path, images_root):
    path = write_jsonl(tmp_path / "tmp123.jsonl", record(emotion="happy"))
    with pytest.raises(ImportFailed) as failed:
        import_samples_file(
            path=path, dataset_name="emo", images_root=images_root, display_name="upload.jsonl"
        )
    assert str(failed.value.issues[0]).startswith("upload.jsonl:1: emotion: ")
    assert str(failed.value).startswith("1 problem; nothing was imported:\nupload.jsonl:1:")


def test_images_root_outside_import_roots_is_refused(tmp_path, images_root, settings):
    settings.IMPORT_ROOTS = [tmp_path / "elsewhere"]
    issues = fails(tmp_path, images_root, GOOD)
    assert len(issues) == 1
    assert issues[0].startswith("samples.jsonl: images_root: ")
    assert "is not inside an allowed import root" in issues[0]


def test_bad_options_are_reported_together(tmp_path, images_root):
    issues = fails(tmp_path, images_root, GOOD, dataset_name="Not a slug!", default_model=" ")
    assert [issue.split(": ")[1] for issue in issues] == ["dataset", "model"]


def test_without_images_root_and_none_stored_is_an_error(db):
    DatasetFactory(name="rootless")
    with pytest.raises(ImportFailed) as failed:
        choose_images_root(dataset_name="rootless", given=None, display_name="s.jsonl")
    assert str(failed.value.issues[0]).startswith("s.jsonl: images_root: not given")


def test_empty_file_is_an_error(tmp_path, images_root):
    assert fails(tmp_path, images_root, "") == ["samples.jsonl: file: contains no samples"]


# Scale: the number of queries grows with batches, not with samples.


def test_writes_in_batches(tmp_path, images_root, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 10)
    lines = [
        record(
            f"s{i}",
            "abc"[i % 3] + (".png" if i % 3 == 2 else ".jpg"),
            proposals=[proposal("m1", bbox=[0, 0, 5, 5]), proposal("m2", "fear")],
            critic={"verdict": "revise"},
        )
        for i in range(40)
    ]
    with CaptureQueriesContext(connection) as queries:
        report = run(tmp_path, images_root, *lines)
    assert (report.created, report.disputed) == (40, 40)
    assert Proposal.objects.count() == 80 and Region.objects.count() == 40
    # ~12 queries per batch of 10; one verify_sample per sample would add 40 x 5.
    assert len(queries) <= 4 * 14 + 10, len(queries)

"""Importing people's answers: EmoNet-Face Binary votes and long-format CSV labels/numbers."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from annotator.models import Dataset, Sample, Taxonomy
from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy
from review.models import Annotation, AuditEvent, BinaryVote
from review.services.annotation_import import (
    FORMAT_EMONET_BINARY,
    FORMAT_LONG,
    ImportFailed,
    import_annotations_file,
)
from tests.factories import DatasetFactory, SampleFactory, UserFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "emonet_face"
SLICE = FIXTURES / "binary_slice.csv"
FULL = REPO.parent / "shared" / "datasets" / "emonet-face" / "binary.csv"


@pytest.fixture
def emonet_taxonomy(db) -> Taxonomy:
    return save_taxonomy(name=EMONET_FACE_40, spec=read_taxonomy_file(path=FIXTURES / "guide.json"))


def import_binary(path: Path, **kwargs):
    options = {"fmt": FORMAT_EMONET_BINARY, "dataset_name": "emonet", "create_samples": True}
    return import_annotations_file(path=path, **{**options, **kwargs})


def write(tmp_path: Path, text: str, name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def nothing_written() -> bool:
    return not (BinaryVote.objects.exists() or Annotation.objects.exists())


def test_emonet_slice_imports_every_vote_with_placeholders(emonet_taxonomy):
    report = import_binary(SLICE)
    assert (report.rows, report.created, report.updated) == (488, 488, 0)
    assert (report.samples, report.samples_created) == (160, 160)
    assert report.users_created == [f"human-{i}" for i in range(1, 8)]
    assert report.synonyms == {"Hopelessness": "Helplessness"}
    dataset = Dataset.objects.get(name="emonet")
    assert dataset.taxonomy == emonet_taxonomy
    sample = Sample.objects.get(dataset=dataset, external_id="00000")  # zero-padded, a string
    assert (sample.image_path, sample.width, sample.height, sample.status) == (
        "00000",
        0,
        0,
        Sample.Status.PENDING,
    )
    first = BinaryVote.objects.get(sample=sample, emotion="Anger")
    assert (first.annotator.username, first.value, first.source) == ("human-1", True, "import")
    assert BinaryVote.objects.filter(emotion="Helplessness").count() == 9
    assert BinaryVote.objects.values("sample", "emotion").distinct().count() == 320
    person = get_user_model().objects.get(username="human-4")
    assert not person.is_active and not person.has_usable_password()
    event = AuditEvent.objects.get(action="import_annotations")
    assert event.after is not None and event.sample is None
    assert event.after["rows"] == 488


def test_reimport_replaces_imported_votes_without_duplicates(emonet_taxonomy):
    import_binary(SLICE)
    again = import_binary(SLICE)
    assert (again.created, again.updated, again.samples_created, again.users_created) == (
        0,
        488,
        0,
        [],
    )
    assert BinaryVote.objects.count() == 488
    assert Sample.objects.count() == 160


@pytest.mark.slow  # 65,686 votes: 5 s of CPU past start-up, 24 s wall under load
@pytest.mark.skipif(not FULL.is_file(), reason="../shared/datasets/emonet-face is not present")
def test_full_emonet_face_binary_file(emonet_taxonomy):
    report = import_binary(FULL)
    assert (report.rows, report.samples, report.created) == (65_686, 19_999, 65_686)
    assert BinaryVote.objects.count() == 65_686
    assert Sample.objects.filter(dataset__name="emonet").count() == 19_999
    assert BinaryVote.objects.filter(value=True).count() == 37_800
    assert BinaryVote.objects.values("sample", "emotion").distinct().count() == 39_998


def test_votes_need_the_dataset_or_create_samples(emonet_taxonomy):
    with pytest.raises(ImportFailed, match="pass --create-samples"):
        import_binary(SLICE, create_samples=False)
    assert nothing_written() and not Dataset.objects.filter(name="emonet").exists()


def test_missing_taxonomy_is_named(db):
    with pytest.raises(ImportFailed, match="no taxonomy 'emonet-face-40'; load it first"):
        import_binary(SLICE)


def test_binary_errors_are_line_numbered_and_nothing_is_written(emonet_taxonomy, tmp_path):
    path = write(
        tmp_path,
        "path,annotator,value,emotion\n"
        "00001,human-1,True,Anger\n"
        "00001,human-1,maybe,Fear\n"  # 3: not yes/no
        "00002,human-1,True,Zest\n"  # 4: unknown emotion
        "00002,human 2,True,Anger\n"  # 5: not a username
        "00001,human-1,False,anger\n"  # 6: same unit and person as line 2
        ",human-1,True,Awe\n"  # 7: no image id
        "00003,human-1,True\n"  # 8: a field short
        "00004,human-1,True,laughter\n",  # 9: synonym of two labels
    )
    with pytest.raises(ImportFailed) as failed:
        import_binary(path)
    where = [(i.line, i.field) for i in failed.value.issues]
    assert where == [
        (3, "value"),
        (4, "emotion"),
        (5, "annotator"),
        (6, "annotator"),
        (7, "path"),
        (8, "row"),
        (9, "emotion"),
    ]
    text = str(failed.value)
    assert text.startswith("7 problems; nothing was imported:")
    assert (
        "answers.csv:6: annotator: 'human-1' answers '00001'/'Anger' again (first on line 2)"
        in (text)
    )
    assert nothing_written() and not Sample.objects.exists()


def test_header_problems_are_reported_on_line_1(emonet_taxonomy, tmp_path):
    path = write(tmp_path, "path,annotator,answer\n00001,human-1,True\n")
    with pytest.raises(ImportFailed) as failed:
        import_binary(path)
    messages = [str(issue) for issue in failed.value.issues]
    assert messages[0] == "answers.csv:1: header: missing columns value, emotion"
    assert "unknown column answer" in messages[1]


def test_long_categories_with_confidence(tmp_path):
    dataset = DatasetFactory(name="emo")
    for external_id in ("a", "b"):
        SampleFactory(dataset=dataset, external_id=external_id)
    path = write(
        tmp_path,
        "sample_id,annotator,value,confidence\na,rater-1,Awe,7\na,rater-2,fear,\nb,rater-1,awe,3.5\n",
    )
    report = import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")
    assert (report.created, report.samples, len(report.users_created)) == (3, 2, 2)
    rows = Annotation.objects.order_by("sample__external_id", "annotator__username")
    assert [
        (a.sample.external_id, a.annotator.username, a.emotion, a.confidence) for a in rows
    ] == [
        ("a", "rater-1", "awe", 7.0),
        ("a", "rater-2", "fear", None),
        ("b", "rater-1", "awe", 3.5),
    ]
    assert {a.source for a in rows} == {"import"}


def test_long_notes_are_stored_and_too_long_ones_named_by_line(tmp_path):
    dataset = DatasetFactory(name="emo")
    SampleFactory(dataset=dataset, external_id="a")
    ok = write(tmp_path, 'sample_id,annotator,value,notes\na,r1,awe,"a hiker, tiny"\n')
    import_annotations_file(path=ok, fmt=FORMAT_LONG, dataset_name="emo")
    assert Annotation.objects.get().notes == "a hiker, tiny"
    long = "x" * 2001
    bad = write(tmp_path, f"sample_id,annotator,value,notes\na,r2,awe,ok\na,r3,fear,{long}\n")
    with pytest.raises(ImportFailed) as failed:
        import_annotations_file(path=bad, fmt=FORMAT_LONG, dataset_name="emo")
    assert [str(issue) for issue in failed.value.issues] == [
        "answers.csv:3: notes: is 2001 characters long; at most 2000"
    ]
    assert Annotation.objects.count() == 1  # nothing of the bad file was written


def test_long_numbers_are_stored_as_value_number(tmp_path):
    dataset = DatasetFactory(name="valence")
    SampleFactory(dataset=dataset, external_id="x1")
    path = write(tmp_path, "sample_id,annotator,value\nx1,p1,4\nx1,p2,-2.5\n")
    import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="valence")
    assert sorted(Annotation.objects.values_list("value_number", "emotion")) == [
        (-2.5, ""),
        (4.0, ""),
    ]


def test_long_errors_unknown_samples_mixed_kinds_and_app_answers(tmp_path):
    dataset = DatasetFactory(name="emo")
    sample = cast(Sample, SampleFactory(dataset=dataset, external_id="a"))
    person = cast(User, UserFactory(username="p1"))
    Annotation.objects.create(sample=sample, annotator=person, emotion="fear")
    path = write(tmp_path, "sample_id,annotator,value\na,p2,awe\na,p3,7\nzz,p4,fear\na,p1,awe\n")
    with pytest.raises(ImportFailed) as failed:
        import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")
    assert [str(issue) for issue in failed.value.issues] == [
        "answers.csv:3: value: '7' is a number, but line 2 holds a category: "
        "a file holds either categories or numbers",
        "answers.csv:4: sample_id: no sample 'zz' in the dataset",
        "answers.csv:5: annotator: 'p1' already answered 'a' in the app",
    ]
    assert Annotation.objects.get().emotion == "fear"  # untouched
    assert not get_user_model().objects.filter(username__in=["p2", "p3", "p4"]).exists()


def test_options_are_checked(tmp_path):
    DatasetFactory(name="emo")
    path = write(tmp_path, "sample_id,annotator,value\n")
    with pytest.raises(ImportFailed) as failed:
        import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo", create_samples=True)
    assert "only made for emonet-binary" in str(failed.value)
    with pytest.raises(ImportFailed, match="contains no rows"):
        import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")
    with pytest.raises(ImportFailed, match="uses mikels8, not emonet-face-40"):
        import_annotations_file(
            path=path, fmt=FORMAT_LONG, dataset_name="emo", taxonomy_name=EMONET_FACE_40
        )


def test_not_utf8_names_the_line(tmp_path):
    DatasetFactory(name="emo")
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"sample_id,annotator,value\na,p1,caf\xe9\n")
    with pytest.raises(ImportFailed, match=r"latin1.csv:2: file: not UTF-8"):
        import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")

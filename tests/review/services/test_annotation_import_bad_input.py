"""Human-annotation CSV imports: hostile bytes and oversized lines are `file:line: field:
message` (a NUL was a DataError on PostgreSQL, a field over csv's limit a traceback), and a
re-import never changes the answers a final label was decided from without saying so."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from annotator.models import Sample, Taxonomy
from review.models import Annotation, AuditEvent, BinaryVote
from review.services.annotation_import import (
    FORMAT_EMONET_BINARY,
    FORMAT_LONG,
    ImportFailed,
    import_annotations_file,
)
from tests.factories import AdjudicationFactory, DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, text: str, name: str = "answers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, **options) -> list[str]:
    options = {"fmt": FORMAT_LONG, "dataset_name": "emo", **options}
    with pytest.raises(ImportFailed) as failed:
        import_annotations_file(path=path, **options)
    assert not (Annotation.objects.exists() or BinaryVote.objects.exists())
    return [str(issue) for issue in failed.value.issues]


@pytest.fixture
def emo(db):
    dataset = DatasetFactory(name="emo")
    SampleFactory(dataset=dataset, external_id="a")
    return dataset


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("a,p1,awe,ok\x00", "notes: contains a NUL character (at character 3)"),
        ("a\x00,p1,awe,", "sample_id: contains a NUL character (at character 2)"),
        ("a,p1,aw\x00e,", "value: contains a NUL character (at character 3)"),
        ("a,p\x001,awe,", "annotator: contains a NUL character (at character 2)"),
    ],
)
def test_a_nul_in_any_column_is_named_with_its_line(tmp_path, emo, row, expected):
    path = write(tmp_path, f"sample_id,annotator,value,notes\na,p0,awe,\n{row}\n")
    assert problems(path) == [f"answers.csv:3: {expected}"]


def test_a_nul_in_a_placeholder_path_is_named_too(tmp_path):
    Taxonomy.objects.create(name="emonet-face-40", labels=["Joy", "Anger"])
    path = write(tmp_path, "path,annotator,value,emotion\nimg\x00.jpg,h1,yes,Joy\n")
    issues = problems(path, fmt=FORMAT_EMONET_BINARY, dataset_name="emonet", create_samples=True)
    assert issues == ["answers.csv:2: path: contains a NUL character (at character 4)"]
    assert not Sample.objects.exists()


def test_a_field_over_the_csv_limit_is_a_problem_not_a_traceback(tmp_path, emo):
    path = write(tmp_path, f'sample_id,annotator,value,notes\na,p1,awe,"{"x" * 200_000}"\n')
    [issue] = problems(path)
    assert issue.startswith("answers.csv:2: row: unreadable CSV: field larger than field limit")


def test_a_line_over_the_limit_is_named_and_problems_before_it_kept(tmp_path, emo, settings):
    settings.MAX_IMPORT_LINE_BYTES = 100
    text = f"sample_id,annotator,value,notes\na,p1,happy,\na,p2,awe,{'x' * 200}\na,p3,awe,\n"
    issues = problems(write(tmp_path, text))
    assert issues[0].startswith("answers.csv:2: value: 'happy' ")
    assert issues[1:] == ["answers.csv:3: line: is longer than 100 bytes (MAX_IMPORT_LINE_BYTES)"]


# People's decisions


@pytest.fixture
def decided(tmp_path, emo) -> Sample:
    """Sample a: two imported answers, then a final label decided from them."""
    import_annotations_file(
        path=write(tmp_path, "sample_id,annotator,value\na,p1,awe\na,p2,fear\n", "first.csv"),
        fmt=FORMAT_LONG,
        dataset_name="emo",
    )
    sample = Sample.objects.get(external_id="a")
    AdjudicationFactory(sample=sample, emotion="awe")
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.ADJUDICATED)
    return sample


def answers() -> dict[str, str]:
    return dict(Annotation.objects.values_list("annotator__username", "emotion"))


def test_reimport_keeps_answers_a_final_label_was_decided_from(tmp_path, decided):
    path = write(tmp_path, "sample_id,annotator,value\na,p1,awe\na,p2,sadness\n")
    report = import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")
    assert answers() == {"p1": "awe", "p2": "fear"}  # was: p2 silently became sadness
    assert (report.decided_answers, report.decided) == (1, ["a"])
    assert str(report).endswith(
        "; kept 1 imported answer on 1 samples with a final label (a) "
        "(import again with --override-human-decisions to replace them)"
    )
    event = AuditEvent.objects.get(sample=decided, action="import_kept_answers")
    assert event.before == {
        "status": "adjudicated",
        "answers": {
            "p2": {"emotion": "fear", "value_number": None, "confidence": None, "notes": ""}
        },
    }
    assert event.after is not None and event.after["answers"]["p2"]["emotion"] == "sadness"
    summary = AuditEvent.objects.get(action="import_annotations", after__file="answers.csv")
    assert summary.after is not None and summary.after["decided_answers_kept"] == 1


def test_the_same_file_again_changes_nothing_and_reports_nothing(tmp_path, decided):
    path = write(tmp_path, "sample_id,annotator,value\na,p1,awe\na,p2,fear\n")
    report = import_annotations_file(path=path, fmt=FORMAT_LONG, dataset_name="emo")
    assert report.decided_answers == 0 and "kept" not in str(report)
    assert not AuditEvent.objects.filter(action="import_kept_answers").exists()


def test_override_replaces_them_and_records_it(tmp_path, decided, admin_user):
    path = write(tmp_path, "sample_id,annotator,value\na,p2,sadness\n")
    report = import_annotations_file(
        path=path,
        fmt=FORMAT_LONG,
        dataset_name="emo",
        override_human_decisions=True,
        actor=admin_user,
    )
    assert answers() == {"p1": "awe", "p2": "sadness"}
    assert "; replaced 1 imported answer on 1 samples with a final label (a)" in str(report)
    event = AuditEvent.objects.get(sample=decided, action="import_replaced_answers")
    assert event.actor == admin_user
    decided.refresh_from_db()
    assert decided.status == Sample.Status.ADJUDICATED
    assert decided.adjudications.get().emotion == "awe"  # the final label itself is untouched


def test_command_flag(tmp_path, decided):
    path = write(tmp_path, "sample_id,annotator,value\na,p2,sadness\n")
    out = StringIO()
    call_command("import_annotations", str(path), "--dataset", "emo", stdout=out)
    assert "kept 1 imported answer on 1 samples with a final label (a)" in out.getvalue()
    assert answers()["p2"] == "fear"
    call_command(
        "import_annotations",
        str(path),
        "--dataset",
        "emo",
        "--override-human-decisions",
        stdout=out,
    )
    assert answers()["p2"] == "sadness"

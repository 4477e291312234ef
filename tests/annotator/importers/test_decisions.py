"""A re-import never overrides a person's decision without saying so (issue 10, point 6).

Before: re-importing a file whose critic drops a sample dropped it again after an admin had
restored it, and nothing said so. Now the decision is kept, listed in the summary and the
audit log, and only an explicit override lets the file decide.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from annotator.models import CriticVerdict, Sample
from annotator.services.importing import ImportReport, import_samples_file
from review.models import AuditEvent
from review.services.dropped_samples import restore_dropped_sample
from tests.annotator.importers.helpers import proposal, record, write_jsonl
from tests.factories import AdjudicationFactory

pytestmark = pytest.mark.django_db

DROP = {"verdict": "drop", "reasoning": "not an emotional image"}


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def lines(critic: dict | None = DROP) -> list[dict]:
    dropped = record("s1", "a.jpg", proposals=[proposal("m1"), proposal("m2")])
    if critic is not None:
        dropped["critic"] = critic
    return [dropped, record("s2", "b.jpg", proposals=[proposal("m1"), proposal("m2")])]


def run(tmp_path: Path, images_root: Path, *rows: dict, **options) -> ImportReport:
    path = write_jsonl(tmp_path / "samples.jsonl", *rows)
    return import_samples_file(path=path, dataset_name="emo", images_root=images_root, **options)


@pytest.fixture
def restored(tmp_path, images_root, admin_user) -> Sample:
    run(tmp_path, images_root, *lines())
    sample = Sample.objects.get(external_id="s1")
    assert sample.status == Sample.Status.DROPPED
    restore_dropped_sample(sample=sample, user=admin_user)
    sample.refresh_from_db()
    assert sample.status == Sample.Status.AGREED
    return sample


def test_reimport_keeps_a_restored_sample_and_says_so(tmp_path, images_root, restored):
    report = run(tmp_path, images_root, *lines())
    restored.refresh_from_db()
    assert restored.status == Sample.Status.AGREED  # was: dropped again, silently
    assert [(c.external_id, c.kind) for c in report.conflicts] == [("s1", "restored")]
    assert str(report) == (
        "0 created, 2 updated; agreed 2, disputed 0, pending 0, dropped 0; kept people's "
        "decisions the file's critic drop contradicts on 1 restored by an admin (s1) "
        "(import again with --override-human-decisions to apply the file's verdict)"
    )
    # The person's verdict is still the one that decides, at any later verification.
    latest = restored.verdicts.order_by("-created_at", "-id").first()
    assert latest is not None and latest.checks["origin"] == "person"
    event = AuditEvent.objects.get(sample=restored, action="import_kept_decision")
    assert event.after is not None
    assert event.before == {"status": "agreed", "decision": "restored"}
    assert event.after["status"] == "agreed" and event.after["file"] == "samples.jsonl"
    assert event.after["file_verdict"]["verdict"] == "drop"
    summary = AuditEvent.objects.filter(action="import_samples").order_by("-id").first()
    assert summary is not None and summary.after is not None
    assert summary.after["decisions_kept"] == 1


def test_override_lets_the_file_drop_a_restored_sample_and_records_it(
    tmp_path, images_root, restored, admin_user
):
    report = run(tmp_path, images_root, *lines(), override_human_decisions=True, actor=admin_user)
    restored.refresh_from_db()
    assert restored.status == Sample.Status.DROPPED
    assert "overrode people's decisions on 1 restored by an admin (s1)" in str(report)
    event = AuditEvent.objects.get(sample=restored, action="import_overrode_decision")
    assert event.actor == admin_user
    assert event.after is not None and event.after["status"] == "dropped"


def test_reimport_without_a_drop_reports_nothing(tmp_path, images_root, restored):
    report = run(tmp_path, images_root, *lines(critic={"verdict": "preserve"}))
    restored.refresh_from_db()
    assert restored.status == Sample.Status.AGREED
    assert report.conflicts == () and "kept" not in str(report)
    assert not AuditEvent.objects.filter(action__startswith="import_kept").exists()


def test_an_adjudicated_sample_keeps_its_final_label_unless_overridden(tmp_path, images_root):
    run(tmp_path, images_root, *lines(critic=None))
    sample = Sample.objects.get(external_id="s1")
    AdjudicationFactory(sample=sample, emotion="fear")
    Sample.objects.filter(pk=sample.pk).update(status=Sample.Status.ADJUDICATED)

    report = run(tmp_path, images_root, *lines())
    sample.refresh_from_db()
    assert sample.status == Sample.Status.ADJUDICATED
    assert [(c.external_id, c.kind) for c in report.conflicts] == [("s1", "adjudicated")]
    assert "1 with a final label (s1)" in str(report)
    assert AuditEvent.objects.filter(sample=sample, action="import_kept_decision").count() == 1

    run(tmp_path, images_root, *lines(), override_human_decisions=True)
    sample.refresh_from_db()
    assert sample.status == Sample.Status.DROPPED
    assert sample.adjudications.count() == 1  # the final label stays in the history
    assert AuditEvent.objects.filter(sample=sample, action="import_overrode_decision").count() == 1


def test_a_first_import_with_a_drop_is_no_conflict(tmp_path, images_root):
    report = run(tmp_path, images_root, *lines())
    assert report.conflicts == ()
    assert CriticVerdict.objects.filter(verdict="drop").count() == 1


def test_command_keeps_by_default_and_overrides_with_the_flag(tmp_path, images_root, restored):
    path = write_jsonl(tmp_path / "samples.jsonl", *lines())
    out = StringIO()
    call_command("import_samples", str(path), "--dataset", "emo", stdout=out)
    assert "kept people's decisions the file's critic drop contradicts on 1 restored" in (
        out.getvalue()
    )
    restored.refresh_from_db()
    assert restored.status == Sample.Status.AGREED

    out = StringIO()
    call_command(
        "import_samples", str(path), "--dataset", "emo", "--override-human-decisions", stdout=out
    )
    assert "overrode people's decisions on 1 restored by an admin (s1)" in out.getvalue()
    restored.refresh_from_db()
    assert restored.status == Sample.Status.DROPPED

"""status_changed_at moves when a sample's status changes, and only then (the export's
decided_at of an agreed sample): import, re-import, verify_sample, the pipeline's verify."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotator.models import Sample
from annotator.pipeline.runs.stages import store_verification, votes_and_verdict
from annotator.pipeline.runs.writes import RowWrites
from annotator.services.importing import import_samples_file
from annotator.services.verification import verify_sample
from tests.annotator.importers.helpers import proposal, record, write_jsonl
from tests.factories import ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=30)


def run(tmp_path: Path, root: Path, *lines: object) -> None:
    path = write_jsonl(tmp_path / "samples.jsonl", *lines)
    import_samples_file(path=path, dataset_name="emo", images_root=root)


def stamp(external_id: str) -> tuple[str, datetime]:
    status, changed = Sample.objects.values_list("status", "status_changed_at").get(
        external_id=external_id
    )
    assert changed is not None
    return status, changed


def age(external_id: str) -> None:
    """Back-date the stamp, so a later write that moves it is seen even within one second."""
    Sample.objects.filter(external_id=external_id).update(status_changed_at=LONG_AGO)


def agreed_line() -> dict[str, object]:
    return record("s1", "a.jpg", proposals=[proposal("m1", "awe"), proposal("m2", "awe")])


def test_import_stamps_and_identical_reimport_keeps_it(tmp_path, images_root):
    before = timezone.now()
    run(tmp_path, images_root, agreed_line(), record("s2", "b.jpg"))
    status, changed = stamp("s1")
    assert status == "agreed" and changed is not None and changed >= before
    pending, pending_changed = stamp("s2")
    assert pending == "pending" and pending_changed is not None  # stamped at creation too
    age("s1")
    age("s2")
    run(tmp_path, images_root, agreed_line(), record("s2", "b.jpg"))
    assert stamp("s1") == ("agreed", LONG_AGO)
    assert stamp("s2") == ("pending", LONG_AGO)


def test_reimport_that_changes_the_status_moves_it(tmp_path, images_root):
    run(tmp_path, images_root, agreed_line())
    age("s1")
    disputed = record("s1", "a.jpg", proposals=[proposal("m1", "awe"), proposal("m2", "fear")])
    run(tmp_path, images_root, disputed)
    status, changed = stamp("s1")
    assert status == "disputed" and changed > LONG_AGO


def test_verify_sample_moves_it_only_on_a_change():
    sample = SampleFactory.create(status="agreed", status_changed_at=LONG_AGO)
    ProposalFactory.create(sample=sample, emotion="awe")
    verify_sample(sample=sample)
    assert stamp(sample.external_id) == ("agreed", LONG_AGO)
    ProposalFactory.create(sample=sample, emotion="fear")
    verify_sample(sample=sample)
    status, changed = stamp(sample.external_id)
    assert status == "disputed" and changed > LONG_AGO


def pipeline_verify(sample: Sample) -> None:
    """What the verify stage's write does: the votes read, the row gathered, then flushed."""
    votes, latest = votes_and_verdict(sample_id=sample.pk)
    writes = RowWrites()
    verdict = (latest.verdict, latest.emotion)
    store_verification(
        sample=sample, current_status="disputed", votes=votes, verdict=verdict, writes=writes
    )
    writes.flush()


def test_pipeline_verify_moves_it_only_on_a_change():
    sample = SampleFactory.create(status="disputed", status_changed_at=LONG_AGO)
    ProposalFactory.create(sample=sample, emotion="awe")
    ProposalFactory.create(sample=sample, emotion="fear")
    pipeline_verify(sample)
    assert stamp(sample.external_id) == ("disputed", LONG_AGO)
    sample.proposals.filter(emotion="fear").update(emotion="awe")
    pipeline_verify(sample)
    status, changed = stamp(sample.external_id)
    assert status == "agreed" and changed > LONG_AGO

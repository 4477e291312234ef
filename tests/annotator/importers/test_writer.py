"""Re-importing a sample rewrites its proposals with the one field list
(annotator.proposal_fields), as a pipeline run does."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.models import Proposal
from annotator.services.importing import import_samples_file
from tests.annotator.importers.helpers import proposal, record, write_jsonl

pytestmark = pytest.mark.django_db


def _import(tmp_path: Path, images_root: Path, emotion: str) -> None:
    line = record("s1", "a.jpg", proposals=[proposal("m1", emotion)])
    path = write_jsonl(tmp_path / f"{emotion}.jsonl", line)
    import_samples_file(path=path, dataset_name="emo", images_root=images_root)


def test_reimport_replaces_the_prompt_version_and_keeps_a_classifier_distribution(
    tmp_path, images_root
):
    _import(tmp_path, images_root, "awe")
    # As a pipeline run leaves the row: its prompt's version, a classifier's distribution.
    Proposal.objects.update(prompt_version="v7", distribution={"awe": 0.9, "fear": 0.1})

    _import(tmp_path, images_root, "fear")

    row = Proposal.objects.get()
    assert (row.emotion, row.prompt_version) == ("fear", "")
    assert row.distribution == {"awe": 0.9, "fear": 0.1}

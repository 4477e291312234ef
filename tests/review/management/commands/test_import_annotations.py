"""manage.py import_annotations: prints a summary, or every problem and exits with an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotator.services.taxonomies import EMONET_FACE_40, read_taxonomy_file, save_taxonomy
from review.models import Annotation, BinaryVote
from tests.factories import DatasetFactory, SampleFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "emonet_face"


def test_emonet_binary_with_placeholder_samples(capsys):
    save_taxonomy(name=EMONET_FACE_40, spec=read_taxonomy_file(path=FIXTURES / "guide.json"))
    call_command(
        "import_annotations",
        str(FIXTURES / "binary_slice.csv"),
        "--format",
        "emonet-binary",
        "--dataset",
        "emonet",
        "--create-samples",
    )
    out = capsys.readouterr().out
    assert "488 votes on 160 samples: 488 created" in out
    assert "'Hopelessness' -> 'Helplessness'" in out
    assert BinaryVote.objects.count() == 488


def test_long_format_is_the_default(tmp_path: Path, capsys):
    SampleFactory(dataset=DatasetFactory(name="emo"), external_id="s1")
    path = tmp_path / "long.csv"
    path.write_text("sample_id,annotator,value\ns1,ann-a,sadness\n")
    call_command("import_annotations", str(path), "--dataset", "emo")
    assert Annotation.objects.get().emotion == "sadness"
    assert "1 answers on 1 samples" in capsys.readouterr().out


def test_problems_become_a_command_error_with_lines(tmp_path: Path):
    SampleFactory(dataset=DatasetFactory(name="emo"), external_id="s1")
    path = tmp_path / "bad.csv"
    path.write_text("sample_id,annotator,value\ns1,ann-a,sadness\ns2,ann-a,joy\ns3,ann-b,awe\n")
    with pytest.raises(CommandError) as failed:
        call_command("import_annotations", str(path), "--dataset", "emo")
    message = str(failed.value)
    assert "2 problems; nothing was imported:" in message
    assert "bad.csv:3: value: 'joy' is not in taxonomy mikels8" in message
    assert "bad.csv:3: sample_id: no sample 's2'" not in message  # the line was already wrong
    assert "bad.csv:4: sample_id: no sample 's3' in the dataset" in message
    assert not Annotation.objects.exists()

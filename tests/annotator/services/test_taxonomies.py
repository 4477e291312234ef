"""Taxonomies: EmoNet-Face's guide.json, label files, label matching, safe replacement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.models import Sample, Taxonomy
from annotator.services.importing import ImportFailed
from annotator.services.taxonomies import (
    EMONET_FACE_40,
    LabelResolver,
    TaxonomySpec,
    labels_from_lines,
    mapping_from_lines,
    mapping_to_lines,
    read_taxonomy_file,
    save_taxonomy,
    spec_problems,
)
from tests.factories import DatasetFactory, ProposalFactory, SampleFactory

GUIDE = Path(__file__).resolve().parents[2] / "fixtures" / "emonet_face" / "guide.json"


def test_guide_json_gives_40_labels_in_order_with_synonyms_and_groups():
    spec = read_taxonomy_file(path=GUIDE)
    assert len(spec.labels) == 40
    assert spec.labels[:3] == ["Amusement", "Elation", "Pleasure/Ecstasy"]
    assert spec.synonyms["Helplessness"][:2] == ["helplessness", "hopelessness"]
    # guide.json lists 'serenity' twice for Contentment; it is kept once.
    assert spec.synonyms["Contentment"].count("serenity") == 1
    assert len(spec.groups) == 7
    grouped = [label for members in spec.groups.values() for label in members]
    assert sorted(grouped) == sorted(spec.labels)
    assert spec_problems(spec) == []


@pytest.mark.django_db
def test_load_taxonomy_command_saves_and_replaces(capsys):
    call_command("load_taxonomy", str(GUIDE))
    taxonomy = Taxonomy.objects.get(name=EMONET_FACE_40)
    assert len(taxonomy.labels) == 40
    assert taxonomy.groups["Cognitive States and Processes"] == ["Concentration", "Confusion"]
    assert "40 labels" in capsys.readouterr().out
    call_command("load_taxonomy", str(GUIDE), "--description", "EmoNet-Face")
    assert Taxonomy.objects.filter(name=EMONET_FACE_40).count() == 1
    assert Taxonomy.objects.get(name=EMONET_FACE_40).description == "EmoNet-Face"


@pytest.mark.django_db
def test_a_text_file_of_labels_makes_a_custom_taxonomy(tmp_path: Path):
    path = tmp_path / "valence.txt"
    path.write_text("# valence\npositive\n\nnegative\nneutral\n")
    call_command("load_taxonomy", str(path))
    assert Taxonomy.objects.get(name="valence").labels == ["positive", "negative", "neutral"]


def test_bad_guide_json_names_the_line_or_field(tmp_path: Path):
    broken = tmp_path / "guide.json"
    broken.write_text('{"options": {\n  "labels": [}\n}')
    with pytest.raises(ImportFailed) as failed:
        read_taxonomy_file(path=broken)
    assert failed.value.issues[0].line == 2
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"options": {"labels": {"Awe": "wonder"}}}))
    with pytest.raises(ImportFailed, match=r"options\.labels\.Awe: must be a list of strings"):
        read_taxonomy_file(path=wrong)


@pytest.mark.django_db
def test_command_reports_problems_of_the_labels(tmp_path: Path):
    path = tmp_path / "dupes.txt"
    path.write_text("Awe\nawe\n")
    with pytest.raises(CommandError, match="repeats 'Awe'"):
        call_command("load_taxonomy", str(path))
    assert not Taxonomy.objects.filter(name="dupes").exists()


def test_spec_problems_lists_each_problem():
    spec = TaxonomySpec(
        labels=["joy", " joy", "x" * 65],
        synonyms={"anger": ["rage"]},
        groups={"warm": ["joy", "pride"]},
    )
    problems = spec_problems(spec)
    assert any("surrounding spaces" in p for p in problems)
    assert any("longer than 64" in p for p in problems)
    assert any("'anger' is not one of the labels" in p for p in problems)
    assert any("unknown labels ['pride']" in p for p in problems)
    assert spec_problems(TaxonomySpec(labels=[])) == ["a taxonomy needs at least one label"]


@pytest.mark.django_db
def test_replacing_never_drops_a_label_in_use():
    taxonomy = save_taxonomy(name="tiny", spec=TaxonomySpec(labels=["calm", "tense", "odd"]))
    dataset = DatasetFactory(taxonomy=taxonomy)
    ProposalFactory(sample=SampleFactory(dataset=dataset, suggested_emotion=""), emotion="tense")
    with pytest.raises(ValueError, match="in use cannot be removed: tense"):
        save_taxonomy(name="tiny", spec=TaxonomySpec(labels=["calm"]))
    saved = save_taxonomy(name="tiny", spec=TaxonomySpec(labels=["tense", "calm", "new"]))
    assert saved.pk == taxonomy.pk
    assert saved.labels == ["tense", "calm", "new"]


def test_resolver_matches_label_case_then_unambiguous_synonym():
    taxonomy = Taxonomy(
        name="t",
        labels=["Amusement", "Elation", "Helplessness"],
        synonyms={
            "Amusement": ["laughter", "mirth"],
            "Elation": ["laughter", "joy"],
            "Helplessness": ["hopelessness"],
        },
    )
    resolver = LabelResolver(taxonomy)
    assert resolver.resolve("amusement").label == "Amusement"
    match = resolver.resolve("Hopelessness")
    assert (match.label, match.via_synonym) == ("Helplessness", True)
    assert "ambiguous" in resolver.resolve("laughter").problem
    assert "is not in taxonomy t" in resolver.resolve("boredom").problem


def test_line_editors_round_trip():
    text = "Warm: joy, pride\nCold: fear\n\n# comment\n"
    mapping = mapping_from_lines(text)
    assert mapping == {"Warm": ["joy", "pride"], "Cold": ["fear"]}
    assert mapping_from_lines(mapping_to_lines(mapping)) == mapping
    with pytest.raises(ValueError, match="line 1"):
        mapping_from_lines("no colon here")
    assert labels_from_lines(" a \n\n#x\nb") == ["a", "b"]


@pytest.mark.django_db
def test_admin_defines_a_custom_taxonomy_with_a_labels_textarea(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:annotator_taxonomy_add")
    assert b'name="labels_text"' in client.get(add).content
    response = client.post(
        add,
        {
            "name": "valence3",
            "description": "three-way valence",
            "labels_text": "positive\nnegative\n\nneutral\n",
            "synonyms_text": "positive: good, nice",
            "groups_text": "Polar: positive, negative",
        },
    )
    assert response.status_code == 302
    taxonomy = Taxonomy.objects.get(name="valence3")
    assert taxonomy.labels == ["positive", "negative", "neutral"]
    assert taxonomy.synonyms == {"positive": ["good", "nice"]}
    assert taxonomy.groups == {"Polar": ["positive", "negative"]}
    change = client.get(reverse("admin:annotator_taxonomy_change", args=[taxonomy.pk]))
    assert b"positive\nnegative\nneutral</textarea>" in change.content


@pytest.mark.django_db
def test_admin_form_reports_bad_labels_and_labels_in_use(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:annotator_taxonomy_add")
    bad = client.post(add, {"name": "dupes", "labels_text": "Joy\njoy", "groups_text": "x"})
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "expected &#x27;Name: value, value&#x27;" in text
    assert not Taxonomy.objects.filter(name="dupes").exists()
    taxonomy = save_taxonomy(name="tiny", spec=TaxonomySpec(labels=["calm", "tense"]))
    ProposalFactory(
        sample=SampleFactory(dataset=DatasetFactory(taxonomy=taxonomy)), emotion="tense"
    )
    change = reverse("admin:annotator_taxonomy_change", args=[taxonomy.pk])
    response = client.post(change, {"description": "", "labels_text": "calm"})
    assert "labels in use cannot be removed: tense" in response.content.decode()
    assert Taxonomy.objects.get(name="tiny").labels == ["calm", "tense"]


@pytest.mark.django_db
def test_sample_admin_edits_only_a_checked_gold_label(client, admin_user):
    client.force_login(admin_user)
    sample = cast(Sample, SampleFactory(gold_emotion=""))
    url = reverse("admin:annotator_sample_change", args=[sample.pk])
    wrong = client.post(url, {"gold_emotion": "joy"})
    assert "is not in the taxonomy" in wrong.content.decode()
    assert client.post(url, {"gold_emotion": "Fear"}).status_code == 302
    sample.refresh_from_db()
    assert sample.gold_emotion == "fear"
    assert client.get(reverse("admin:annotator_sample_add")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["taxonomy", "dataset", "sample", "proposal", "criticverdict"])
def test_admin_lists_render(client, admin_user, model):
    ProposalFactory()
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:annotator_{model}_changelist")).status_code == 200

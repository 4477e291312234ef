"""The label map beside every export: ids in taxonomy order, synonyms and groups, role ids,
and the same ids as the Parquet export's emotion_id and its `datasets` ClassLabel."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotator.models import Taxonomy
from review.services.export_labelmap import ROLE_CATEGORY_IDS, label_map_bytes
from review.services.export_parquet import write_parquet
from tests import factories


@pytest.fixture
def dataset(db):
    taxonomy = Taxonomy.objects.create(
        name="tiny",
        labels=["joy", "fear", "awe"],
        synonyms={"joy": ["happiness"], "awe": ["wonder", "amazement"]},
        groups={"positive": ["joy", "awe"], "negative": ["fear"]},
        description="three labels",
    )
    return factories.DatasetFactory(name="tiny-set", taxonomy=taxonomy)


def test_labels_have_ids_in_taxonomy_order_with_synonyms_and_groups(dataset):
    data = json.loads(label_map_bytes(dataset=dataset))
    assert data["taxonomy"] == {"name": "tiny", "description": "three labels"}
    assert data["id_base"] == 0
    assert data["labels"] == [
        {"id": 0, "name": "joy", "synonyms": ["happiness"], "groups": ["positive"]},
        {"id": 1, "name": "fear", "synonyms": [], "groups": ["negative"]},
        {"id": 2, "name": "awe", "synonyms": ["wonder", "amazement"], "groups": ["positive"]},
    ]
    assert data["groups"] == {"positive": ["joy", "awe"], "negative": ["fear"]}
    assert data["roles"] == [
        {"id": 1, "name": "background"},
        {"id": 2, "name": "attribute"},
        {"id": 3, "name": "subject"},
    ]


def test_role_ids_are_the_coco_exports_category_ids():
    coco = pytest.importorskip("review.services.export_coco")
    assert coco.CATEGORY_IDS == ROLE_CATEGORY_IDS


def test_is_utf8_json_ending_in_a_newline(dataset):
    dataset.taxonomy.labels = ["joie", "peur", "émerveillement"]
    dataset.taxonomy.save()
    raw = label_map_bytes(dataset=dataset)
    assert raw.endswith(b"}\n")
    assert "émerveillement".encode() in raw  # not \u escapes: people read the file


def test_parquet_emotion_ids_mean_what_the_map_says(dataset, tmp_path: Path):
    sample = factories.SampleFactory(dataset=dataset, status="agreed", suggested_emotion="awe")
    factories.ProposalFactory(sample=sample, model_name="m", emotion="awe")
    write_parquet(dataset=dataset, scope="all", path=tmp_path / "x.parquet")
    (row,) = pq.read_table(tmp_path / "x.parquet").to_pylist()
    names = {
        label["id"]: label["name"]
        for label in json.loads(label_map_bytes(dataset=dataset))["labels"]
    }
    assert names[row["emotion_id"]] == row["emotion"] == "awe"

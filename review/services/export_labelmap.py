"""The label map written beside every export: the taxonomy's labels with integer ids, their
synonyms and groups, and the B-A-S role ids of the COCO categories (docs/formats.md,
"Label map").

Ids follow the order of Taxonomy.labels from 0, as `datasets`' ClassLabel numbers names (the
Parquet column emotion_id and its ClassLabel use the same ids). An admin may reorder or add
labels later: the map written with an export is the one that export's ids mean.
"""

from __future__ import annotations

import json
from typing import Any

from annotator.models import Dataset

LABEL_MAP_FORMAT = "emoreview-label-map"
LABEL_MAP_VERSION = 1
# COCO category ids of the grounded elements (review.services.export_coco uses these).
ROLE_CATEGORY_IDS = {"background": 1, "attribute": 2, "subject": 3}


def label_map(*, dataset: Dataset) -> dict[str, Any]:
    """The label map as a JSON-ready dict."""
    taxonomy = dataset.taxonomy
    synonyms: dict[str, list[str]] = taxonomy.synonyms or {}
    groups: dict[str, list[str]] = taxonomy.groups or {}
    groups_of = {
        label: [name for name, members in groups.items() if label in members]
        for label in taxonomy.labels
    }
    return {
        "format": LABEL_MAP_FORMAT,
        "version": LABEL_MAP_VERSION,
        "dataset": dataset.name,
        "taxonomy": {"name": taxonomy.name, "description": taxonomy.description or None},
        "id_base": 0,
        "labels": [
            {
                "id": index,
                "name": label,
                "synonyms": list(synonyms.get(label, [])),
                "groups": groups_of[label],
            }
            for index, label in enumerate(taxonomy.labels)
        ],
        "groups": {name: list(members) for name, members in groups.items()},
        "roles": [{"id": i, "name": role} for role, i in ROLE_CATEGORY_IDS.items()],
    }


def label_map_bytes(*, dataset: Dataset) -> bytes:
    """The label map as UTF-8 JSON (indented: people read it too), ending in a newline."""
    text = json.dumps(label_map(dataset=dataset), ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")

"""The Parquet export's Arrow schema and the Hugging Face `datasets` features it declares.

Columns (docs/formats.md, "Parquet"): the label and who decided it, the image's size, hash and
licence, `regions` as a list of structs, `DES` as a fixed-size list of 1024 float32, one struct
column per model (`model_<name>`), the latest critic verdict, the final label's notes, the soft
labels (`label_source`, `posterior` as a fixed-size list of K float32, `posterior_entropy`) and,
with --embed-images, `image` in `datasets`' Image layout.

The file's schema metadata carries the `datasets` features under the "huggingface" key, in
the pre-4.0 vocabulary (Value, Sequence with a length, dicts, one-element lists, ClassLabel,
Image) that `datasets` 4 and 5 still read (the tests load it with the installed one; 2.21
read it too, checked by hand):
`emotion_id` loads as a ClassLabel with the taxonomy's names and `image` as an Image that
decodes to PIL. pyarrow is imported inside functions only, so pages that
never export Parquet don't load it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

DES_DIMENSIONS = 1024
MODEL_PREFIX = "model_"
IMAGE_COLUMN = "image"
POSTERIOR_COLUMN = "posterior"
LABEL_SOURCE_COLUMN = "label_source"
HF_METADATA_KEY = b"huggingface"
# Per-model struct fields (each a proposal's own answer, a ProposalRow attribute), in order.
MODEL_TEXT_FIELDS = ("emotion", "background", "attribute", "subject", "description")


def model_column(name: str) -> str:
    return f"{MODEL_PREFIX}{name}"


def mask_type() -> Any:
    """COCO RLE as a struct: size [height, width] and the compressed counts string."""
    import pyarrow as pa

    return pa.struct([
        pa.field("size", pa.list_(pa.int32(), 2)),
        pa.field("counts", pa.string()),
    ])  # fmt: skip


def region_type() -> Any:
    """One grounded B-A-S element: box in pixels [x1, y1, x2, y2] and divided by the image's
    width and height (0-1), where it came from, and its mask when it has one."""
    import pyarrow as pa

    return pa.struct([
        pa.field("role", pa.string()),
        pa.field("phrase", pa.string()),
        pa.field("box", pa.list_(pa.float64(), 4)),
        pa.field("box_normalized", pa.list_(pa.float64(), 4)),
        pa.field("origin", pa.string()),
        pa.field("model_name", pa.string()),
        pa.field("segmenter", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("mask", mask_type()),
    ])  # fmt: skip


def model_type() -> Any:
    import pyarrow as pa

    return pa.struct([
        *(pa.field(name, pa.string()) for name in MODEL_TEXT_FIELDS),
        pa.field("confidence", pa.float64()),
        pa.field("prompt_version", pa.string()),
    ])  # fmt: skip


def image_type() -> Any:
    """`datasets`' Image storage: the file's bytes and its path under the images root."""
    import pyarrow as pa

    return pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])


def _base_fields() -> list[Any]:
    import pyarrow as pa

    text = pa.string()
    return [
        pa.field("sample_id", pa.int64(), nullable=False),
        pa.field("external_id", text, nullable=False),
        pa.field("image_path", text, nullable=False),
        pa.field("source", text),
        pa.field("status", text, nullable=False),
        pa.field("emotion", text),
        pa.field("emotion_id", pa.int64()),  # index in the label map; null when no label
        pa.field("confidence", pa.float64()),
        pa.field("background", text),
        pa.field("attribute", text),
        pa.field("subject", text),
        pa.field("description", text),
        pa.field("decided_by", text),
        pa.field("annotator", text),
        pa.field("decided_at", pa.timestamp("us", tz="UTC")),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("content_hash", text),
        pa.field("licence", text),
        pa.field("regions", pa.list_(region_type())),
        pa.field("DES", pa.list_(pa.float32(), DES_DIMENSIONS)),
    ]


def parquet_schema(
    *, model_names: Sequence[str], labels: Sequence[str], embed_images: bool = False
) -> Any:
    """The export's schema, with the `datasets` features in its metadata."""
    import pyarrow as pa

    fields = _base_fields()
    fields += [pa.field(model_column(name), model_type()) for name in model_names]
    fields += [
        pa.field(name, pa.string())
        for name in ("critic_verdict", "critic_emotion", "critic_reasoning", "critic_model")
    ]
    fields.append(pa.field("notes", pa.string()))
    fields += soft_label_fields(labels=labels)
    if embed_images:
        fields.append(pa.field(IMAGE_COLUMN, image_type()))
    schema = pa.schema(fields)
    info = {"info": {"features": hf_features(schema=schema, labels=labels)}}
    return schema.with_metadata({HF_METADATA_KEY: json.dumps(info).encode()})


def soft_label_fields(*, labels: Sequence[str]) -> list[Any]:
    """label_source (person, consensus, models), the posterior as K float32 in the taxonomy's
    order (the label map's ids; null without one) and its entropy in bits."""
    import pyarrow as pa

    return [
        pa.field(LABEL_SOURCE_COLUMN, pa.string()),
        pa.field(POSTERIOR_COLUMN, pa.list_(pa.float32(), max(len(labels), 1))),
        pa.field("posterior_entropy", pa.float64()),
    ]


def hf_features(*, schema: Any, labels: Sequence[str]) -> dict[str, Any]:
    """Features.to_dict() for `schema`: the Arrow types as `datasets` names them, with
    emotion_id a ClassLabel and image an Image."""
    features = {field.name: hf_feature(field.type) for field in schema}
    features["emotion_id"] = {"names": list(labels), "_type": "ClassLabel"}
    if IMAGE_COLUMN in features:
        features[IMAGE_COLUMN] = {"_type": "Image"}
    return features


def hf_feature(kind: Any) -> Any:
    """One Arrow type as a `datasets` feature dict (a struct is a dict, a list of structs a
    one-element list, any other list a Sequence, with its length when fixed)."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return {kind.field(i).name: hf_feature(kind.field(i).type) for i in range(kind.num_fields)}
    if pa.types.is_fixed_size_list(kind):
        inner = hf_feature(kind.value_type)
        return {"feature": inner, "length": kind.list_size, "_type": "Sequence"}
    if pa.types.is_list(kind):
        if pa.types.is_struct(kind.value_type):
            return [hf_feature(kind.value_type)]
        return {"feature": hf_feature(kind.value_type), "_type": "Sequence"}
    return {"dtype": _value_dtype(kind), "_type": "Value"}


def _value_dtype(kind: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return f"timestamp[{kind.unit}, tz={kind.tz}]" if kind.tz else f"timestamp[{kind.unit}]"
    return {"float": "float32", "double": "float64"}.get(str(kind), str(kind))

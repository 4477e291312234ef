"""The ground stage with a tiny random-weight Grounding DINO: phrases become boxes, boxes masks."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")
pytest.importorskip("torch")
pytest.importorskip("groundingdino")

from annotator.lib.rle import mask_bbox
from annotator.models import Region, StageResult
from annotator.pipeline.config import load_pipeline_config
from annotator.services.pipeline_runs import run_pipeline_in_process, start_pipeline_run
from tests.support.openai_server import OpenAIServer
from tests.support.pipeline_runs import ScriptedModels, make_pipeline_dataset, write_config

# groundingdino, timm and transformers warn about their own deprecated calls.
pytestmark = [
    pytest.mark.ml,
    pytest.mark.slow,  # builds a tiny Grounding DINO and runs it (28 s of CPU)
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning"),
]


@pytest.fixture(scope="module")
def tiny_grounding(tmp_path_factory):
    from tests.support.tiny_grounding import make_tiny_grounding

    # Thresholds 0: random weights score low, and every phrase should get its best box.
    return make_tiny_grounding(
        tmp_path_factory.mktemp("grounding"), box_threshold=0.0, text_threshold=0.0
    )


def test_phrases_are_grounded_and_masked(tmp_path, tiny_grounding):
    dataset = make_pipeline_dataset(tmp_path / "images", count=2)
    grounding: dict[str, str | float | int] = {
        "config_path": str(tiny_grounding.config_path),
        "checkpoint": str(tiny_grounding.checkpoint),
        "text_encoder": str(tiny_grounding.text_encoder),
        "box_threshold": 0.0,
        "text_threshold": 0.0,
        "device": "cpu",
        "image_short_side": 128,
    }
    with OpenAIServer(default=ScriptedModels()) as server:
        path = write_config(tmp_path / "p.toml", base_url=server.base_url, grounding=grounding)
        started = start_pipeline_run(
            dataset=dataset, config=load_pipeline_config(path=path), stages="annotate,ground"
        )
        run_pipeline_in_process(started=started)

    unit = StageResult.objects.filter(stage="ground").order_by("id")[0]
    assert unit.model_name == "groundingdino+grabcut" and unit.status == "done"
    assert unit.output["grounder"] == "groundingdino"
    model_regions = Region.objects.filter(origin="model", sample=unit.sample)
    found = {(r.role, r.phrase, r.model_name) for r in model_regions}
    assert found == {
        ("subject", "person", "groundingdino"),
        ("background", "snow-covered plain", "groundingdino"),
    }
    for region in model_regions:
        assert region.box is not None and region.mask is not None and region.score is not None
        x1, y1, x2, y2 = region.box
        assert 0 <= x1 < x2 <= unit.sample.width and 0 <= y1 < y2 <= unit.sample.height
        assert region.segmenter == "grabcut" and 0 <= region.score <= 1
        assert region.mask["size"] == [unit.sample.height, unit.sample.width]
        x, y, w, h = mask_bbox(region.mask)  # a random box may hold no foreground: (0, 0, 0, 0)
        assert w == 0 or (x1 - 1 <= x and x + w <= x2 + 1)
        assert h == 0 or (y1 - 1 <= y and y + h <= y2 + 1)
    # Imported boxes are people's inputs to the annotation, left as they were.
    assert Region.objects.filter(origin="import", mask__isnull=False).count() == 0

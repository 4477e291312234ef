"""Open-vocabulary boxes for the triplet's phrases (subject, background) with Grounding DINO.

`GroundingDinoGrounder` uses groundingdino-py's own code: the model is built from its Python
config file (groundingdino.models.build_model), the checkpoint's "model" state dict is loaded,
images go through its preprocessing and boxes come back as (cx, cy, w, h) fractions, converted
here to [x1, y1, x2, y2] pixels. Each detection is attributed to the prompt phrase whose tokens
score highest; it is kept when that score exceeds both thresholds. torch and groundingdino are
imported only when a grounder is built.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from annotator.pipeline.config import GroundingConfig
from annotator.pipeline.errors import PipelineConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    phrase: str  # one of the phrases asked for, lower-cased
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given
    score: float  # 0-1


class Grounder(Protocol):
    def detect(self, *, image: np.ndarray, phrases: list[str]) -> list[Detection]: ...


def best_per_phrase(detections: list[Detection]) -> dict[str, Detection]:
    best: dict[str, Detection] = {}
    for detection in detections:
        if detection.phrase not in best or detection.score > best[detection.phrase].score:
            best[detection.phrase] = detection
    return best


def _resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class GroundingDinoGrounder:
    def __init__(self, *, config: GroundingConfig) -> None:
        if config.config_path is None or config.checkpoint is None:
            raise PipelineConfigError(["grounding: config_path and checkpoint are required"])
        self.config = config
        self._lock = threading.Lock()  # one forward pass at a time per model
        self.model, self.device = self._load(config)
        self.tokenizer = self.model.tokenizer

    @staticmethod
    def _load(config: GroundingConfig) -> tuple[Any, str]:
        from annotator.adapters.torch_compat import ensure_torchvision_ops

        _check_paths(config)
        ensure_torchvision_ops()
        import torch
        from groundingdino.models import build_model
        from groundingdino.util.misc import clean_state_dict
        from groundingdino.util.slconfig import SLConfig

        args = SLConfig.fromfile(str(config.config_path))
        if config.text_encoder is not None:
            args.text_encoder_type = str(config.text_encoder)
        elif not _is_dir(args.text_encoder_type):
            # The stock config names "bert-base-uncased" on the hub, which run time cannot reach.
            raise PipelineConfigError(
                ["grounding.text_encoder: set it to a local bert-base-uncased folder"]
            )
        checkpoint = _load_checkpoint(torch, config)  # before the (slow) build: fail fast
        state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise PipelineConfigError([f"{config.checkpoint}: no state dict under 'model'"])
        device = _resolve_device(config.device)
        args.device = device
        model = build_model(args)
        result = model.load_state_dict(clean_state_dict(state), strict=False)
        if result.missing_keys or result.unexpected_keys:
            logger.warning(
                "Grounding DINO checkpoint %s: %d missing, %d unexpected keys",
                config.checkpoint,
                len(result.missing_keys),
                len(result.unexpected_keys),
            )
        return model.eval().to(device), device

    def detect(self, *, image: np.ndarray, phrases: list[str]) -> list[Detection]:
        """`image`: H x W x 3 RGB uint8. Detections sorted by score, best first."""
        wanted = list(dict.fromkeys(p.strip().lower() for p in phrases if p and p.strip()))
        if not wanted:
            return []
        caption = " . ".join(wanted) + " ."
        spans = self._phrase_spans(caption, wanted)
        logits, boxes = self._forward(image, caption)
        height, width = image.shape[:2]
        detections = []
        for query in range(logits.shape[0]):
            scores = [float(logits[query, start:end].max()) for start, end in spans]
            best = int(np.argmax(scores))
            score = scores[best]
            if score > self.config.box_threshold and score > self.config.text_threshold:
                box = _cxcywh_to_xyxy(boxes[query], width=width, height=height)
                detections.append(Detection(wanted[best], box, round(score, 6)))
        return sorted(detections, key=lambda d: -d.score)

    def _phrase_spans(self, caption: str, phrases: list[str]) -> list[tuple[int, int]]:
        """Token positions of each phrase in `[CLS] p1 . p2 . [SEP]`, checked on the tokenizer."""
        ids = self.tokenizer(caption)["input_ids"]
        dot = self.tokenizer.convert_tokens_to_ids(".")
        spans, start = [], 1
        for phrase in phrases:
            end = start + len(self.tokenizer.tokenize(phrase))
            if end >= len(ids) or ids[end] != dot:
                raise ValueError(f"cannot locate phrase {phrase!r} in caption {caption!r}")
            spans.append((start, end))
            start = end + 1
        max_len = int(self.model.max_text_len)
        if spans[-1][1] >= max_len:
            raise ValueError(f"phrases too long: the caption exceeds {max_len} tokens")
        return spans

    def _forward(self, image: np.ndarray, caption: str) -> tuple[np.ndarray, np.ndarray]:
        import groundingdino.datasets.transforms as T
        import torch
        from PIL import Image

        transform = T.Compose(
            [
                T.RandomResize([self.config.image_short_side], max_size=1333),  # one size
                T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )
        tensor, _ = transform(Image.fromarray(image).convert("RGB"), None)
        with self._lock, torch.no_grad():
            outputs = self.model(tensor[None].to(self.device), captions=[caption])
        logits = outputs["pred_logits"].sigmoid()[0].float().cpu().numpy()  # (queries, tokens)
        boxes = outputs["pred_boxes"][0].float().cpu().numpy()  # (queries, 4) cx, cy, w, h
        return logits, boxes


def _cxcywh_to_xyxy(
    box: np.ndarray, *, width: int, height: int
) -> tuple[float, float, float, float]:
    """Fractions (cx, cy, w, h) to pixels (x1, y1, x2, y2), clamped to the image."""
    cx, cy, w, h = (float(v) for v in box)

    def clamp(value: float, high: int) -> float:
        return round(min(max(value, 0.0), float(high)), 2)

    return (
        clamp((cx - w / 2) * width, width),
        clamp((cy - h / 2) * height, height),
        clamp((cx + w / 2) * width, width),
        clamp((cy + h / 2) * height, height),
    )


def _check_paths(config: GroundingConfig) -> None:
    for key in ("config_path", "checkpoint", "text_encoder"):
        path = getattr(config, key)
        if path is not None and not path.exists():
            raise PipelineConfigError([f"grounding.{key}: {path} does not exist"])


def _load_checkpoint(torch: Any, config: GroundingConfig) -> Any:
    """weights_only: a checkpoint is data, never code to unpickle."""
    import pickle

    try:
        return torch.load(str(config.checkpoint), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise PipelineConfigError(
            [
                f"{config.checkpoint}: holds more than tensors and is not unpickled; re-save its "
                "weights once on a trusted machine (docs/pipeline.md, Grounding DINO weights)"
            ]
        ) from exc


def _is_dir(value: Any) -> bool:
    from pathlib import Path

    return isinstance(value, str) and Path(value).is_dir()


_cache: dict[GroundingConfig, GroundingDinoGrounder] = {}
_cache_lock = threading.Lock()


def get_grounder(config: GroundingConfig) -> Grounder | None:
    """The process's Grounding DINO for this config, loaded once; None when not configured."""
    if not config.enabled:
        return None
    with _cache_lock:
        if config not in _cache:
            _cache[config] = GroundingDinoGrounder(config=config)
        return _cache[config]

"""Segmenters: turn a box and clicks on an image into candidate masks.

One Protocol, a registry, and a choice by settings.SEGMENTER: "auto" is "sam" when SAM_CHECKPOINT
is set, else "grabcut"; "sam" runs its prompt decoder as settings.SAM_DECODER says (by default
onnxruntime on CPU, torch on GPU); "sam-onnx" is SAM with its decoder in onnxruntime always.
This module imports neither torch nor cv2: each factory imports its adapter module when first
called, so only the process that segments loads the model stack.

    segmenter = get_segmenter()
    segmenter.prepare(image=rgb, image_key=sample.content_hash)  # prefetch: encode or restore
    candidates = segmenter.segment(image=rgb, image_key=sample.content_hash, prompt=Prompt(...))
    candidates[0].mask  # the one to show; the rest are alternatives, best first
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Prompt:
    """Clicks in image pixels (x, y); labels 1 = add, 0 = remove; box as (x1, y1, x2, y2).
    `hint`: the element's grounding box (a detector's), for segmenters that need a region to
    start from when the person drew none (GrabCut); SAM takes the clicks alone."""

    points: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    hint: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels):
            raise ValueError(f"{len(self.points)} points but {len(self.labels)} labels")
        if any(label not in (0, 1) for label in self.labels):
            raise ValueError(f"labels must be 1 (add) or 0 (remove), got {self.labels}")
        if not self.points and self.box is None:
            raise ValueError("a prompt needs a box or at least one click")


@dataclass(frozen=True)
class MaskCandidate:
    mask: np.ndarray  # bool, HxW like the image
    # The segmenter's own quality estimate (SAM: predicted IoU; GrabCut: the share of the clicks
    # the mask obeys, 1.0 but where clicks contradict: see score_is_informative).
    score: float


# Segmenters whose score is the share of the clicks the mask obeys (GrabCut's `_agreement`).
CLICK_AGREEMENT_SCORES = frozenset({"grabcut"})


def score_is_informative(*, segmenter: str, clicks: int, score: float) -> bool:
    """Whether a stored score says something about its mask. SAM's predicted IoU always does.
    A click-agreement score is 1.0 by construction (GrabCut keeps each click as a certain
    seed; without clicks there is none to keep): only a lower one, where clicks contradict
    each other, tells the person something."""
    if segmenter not in CLICK_AGREEMENT_SCORES:
        return True
    return clicks > 0 and score < 1.0


def check_image(image: np.ndarray) -> None:
    """Segmenters take HxWx3 uint8 RGB; anything else is a caller's mistake, said plainly."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be HxWx3 uint8 RGB, got {image.shape} {image.dtype}")


class Segmenter(Protocol):
    name: str  # stored with each mask (Region.segmenter): "sam-vit_b", "grabcut", ...
    needs_embedding: bool  # True when prepare() does expensive work worth prefetching

    def prepare(self, *, image: np.ndarray, image_key: str) -> bool:
        """Make the next segment() on this image fast. True when nothing had to be computed."""
        ...

    def is_prepared(self, *, image_key: str) -> bool:
        """Whether segment() on this image can start at once (False: it must encode first)."""
        ...

    def segment(
        self, *, image: np.ndarray, image_key: str, prompt: Prompt, multimask: bool = True
    ) -> list[MaskCandidate]:
        """Candidate masks, the recommended one first; with multimask=False only that one."""
        ...


SegmenterFactory = Callable[[], Segmenter]

_factories: dict[str, SegmenterFactory] = {}
_needs_embedding: dict[str, bool] = {}
_instances: dict[str, tuple[tuple[object, ...], Segmenter]] = {}
_lock = threading.Lock()


def register_segmenter(
    name: str, factory: SegmenterFactory, *, needs_embedding: bool | None = None
) -> None:
    """Make `name` a valid SEGMENTER; the factory reads its own settings when called.
    `needs_embedding`: what its instances' `needs_embedding` says, known without building one
    (the web process decides from it whether to send prefetch tasks, and never loads SAM); by
    default the factory's own attribute, when the factory is the segmenter's class."""
    if needs_embedding is None:
        needs_embedding = bool(getattr(factory, "needs_embedding", True))
    with _lock:
        _factories[name] = factory
        _needs_embedding[name] = needs_embedding
        _instances.pop(name, None)


def segmenter_needs_embedding(name: str | None = None) -> bool:
    """Whether the segmenter settings choose has an embedding worth prefetching (SAM: yes;
    GrabCut: no). An unknown name says yes: the workers report the configuration error."""
    return _needs_embedding.get(resolve_segmenter_name(name), True)


def _settings_fingerprint() -> tuple[object, ...]:
    # A settings change (tests, a reload) builds a new instance instead of serving a stale one.
    return (
        settings.SAM_CHECKPOINT,
        settings.SAM_MODEL_TYPE,
        settings.SAM_DEVICE,
        settings.SAM_DECODER,
        settings.EMBEDDING_CACHE_URL,
        settings.EMBEDDING_CACHE_MAX_BYTES,
        settings.DATA_DIR,
    )


def resolve_segmenter_name(name: str | None = None) -> str:
    chosen = name or settings.SEGMENTER
    if chosen == "auto":
        return "sam" if settings.SAM_CHECKPOINT else "grabcut"
    return chosen


def get_segmenter(name: str | None = None) -> Segmenter:
    """The segmenter settings choose (or `name`), built once per process and configuration."""
    chosen = resolve_segmenter_name(name)
    fingerprint = _settings_fingerprint()
    with _lock:
        if chosen not in _factories:
            known = ", ".join(sorted(["auto", *_factories]))
            raise ImproperlyConfigured(f"SEGMENTER={chosen!r} is not one of: {known}")
        cached = _instances.get(chosen)
        if cached is None or cached[0] != fingerprint:
            # Building SAM takes seconds; holding the lock keeps two threads from doing it twice.
            cached = (fingerprint, _factories[chosen]())
            _instances[chosen] = cached
        return cached[1]


def _build_grabcut() -> Segmenter:
    from annotator.adapters.segmenters.grabcut import GrabCutSegmenter

    return GrabCutSegmenter()


def _build_sam() -> Segmenter:
    from annotator.adapters.segmenters.sam import SamSegmenter

    return SamSegmenter.from_settings()


def _build_sam_onnx() -> Segmenter:
    from annotator.adapters.segmenters.sam import SamSegmenter

    return SamSegmenter.from_settings(onnx=True)


register_segmenter("grabcut", _build_grabcut, needs_embedding=False)
register_segmenter("sam", _build_sam, needs_embedding=True)
# SAM with its decoder in onnxruntime
register_segmenter("sam-onnx", _build_sam_onnx, needs_embedding=True)

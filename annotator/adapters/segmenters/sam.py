"""Segment Anything (SamPredictor) behind the Segmenter protocol.

The image encoder is the expensive part (vit_b: ~25 s per image on a 2-core CPU), the prompt
decoder ~0.1 s. So an image is encoded once: its embedding goes to the shared EmbeddingCache as
float16, and any worker restores it into the predictor (features, original_size, input_size,
is_image_set) instead of encoding again. The predictor keeps the last image, so consecutive
clicks on one image touch neither the encoder nor the cache.

Which masks come back follows SAM's own interactive demo (the select_masks rule of its ONNX
model): a prompt of one click, or of a box alone, is ambiguous, so the three multimask outputs
are the candidates, best predicted IoU first. With more clicks, or a box and clicks, SAM
recommends its single-mask output: that comes first, the two best multimask outputs follow as
alternatives. Three masks either way, as SamPredictor.predict makes. The decoder is a plain
function (predictor, prompt) -> low-resolution logits and predicted IoUs of all four mask
tokens (torch here, onnxruntime in onnx_decoder.py); only the tokens kept are upscaled to the
image, a millisecond each at 768x512.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from annotator.adapters.segmenters import MaskCandidate, Prompt, check_image
from annotator.adapters.torch_compat import ensure_torchvision_ops
from annotator.lib.embedding_cache import EmbeddingCache, embedding_key, get_embedding_cache

ensure_torchvision_ops()

import torch  # noqa: E402
from segment_anything import SamPredictor, sam_model_registry  # noqa: E402
from segment_anything.modeling import Sam  # noqa: E402


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_sam_model(*, model_type: str, checkpoint: Path | None, device: str) -> Sam:
    """segment-anything's own builder and checkpoint loading; checkpoint=None: random weights."""
    if model_type not in sam_model_registry:
        known = ", ".join(sorted(k for k in sam_model_registry if k != "default"))
        raise ImproperlyConfigured(f"SAM_MODEL_TYPE={model_type!r}: use one of {known}")
    if checkpoint is not None and not checkpoint.is_file():
        raise ImproperlyConfigured(
            f"SAM_CHECKPOINT={checkpoint}: no such file (where to get one: docs/ml-stack.md)"
        )
    try:
        model = sam_model_registry[model_type](checkpoint=checkpoint)
    except RuntimeError as exc:  # load_state_dict: missing keys or size mismatch
        first_line = str(exc).splitlines()[0]
        raise ImproperlyConfigured(
            f"SAM_CHECKPOINT={checkpoint} does not fit SAM_MODEL_TYPE={model_type} "
            f"(sam_vit_b_*.pth needs vit_b, and so on): {first_line}"
        ) from exc
    return model.to(resolve_device(device)).eval()


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def decoder_for(requested: str, *, device: str) -> str:
    """ "torch" or "onnx" for SAM_DECODER=`requested` on SAM_DEVICE=`device`.

    "auto" is onnx on a CPU when onnxruntime is installed: there it decodes faster than torch
    and holds up better when the worker shares its cores (docs/performance.md); on a GPU torch.
    """
    if requested not in ("auto", "torch", "onnx"):
        raise ImproperlyConfigured(f"SAM_DECODER={requested!r}: use auto, torch or onnx")
    if requested != "auto":
        return requested
    on_cpu = resolve_device(device).type == "cpu"
    return "onnx" if on_cpu and onnxruntime_installed() else "torch"


# (predictor holding an image, prompt) -> low-resolution mask logits (1x4xhxw, on the model's
# device) and predicted IoUs (4,) of all mask tokens; token 0 is SAM's single-mask output, the
# others its multimask outputs.
Decoder = Callable[[SamPredictor, Prompt], tuple[torch.Tensor, np.ndarray]]


@torch.inference_mode()
def decode_with_torch(predictor: SamPredictor, prompt: Prompt) -> tuple[torch.Tensor, np.ndarray]:
    """SamPredictor.predict_torch up to the upscaling, all four mask tokens kept."""
    model = predictor.model
    points = boxes = None
    if prompt.points:
        coords = predictor.transform.apply_coords(
            np.asarray(prompt.points, dtype=np.float64), predictor.original_size
        )
        points = (
            torch.as_tensor(coords, dtype=torch.float, device=model.device)[None],
            torch.as_tensor(prompt.labels, dtype=torch.int, device=model.device)[None],
        )
    if prompt.box is not None:
        box = predictor.transform.apply_boxes(
            np.asarray(prompt.box, dtype=np.float64), predictor.original_size
        )
        boxes = torch.as_tensor(box, dtype=torch.float, device=model.device)
    sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=None)
    low_res, iou = model.mask_decoder.predict_masks(
        image_embeddings=predictor.features,
        image_pe=model.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
    )
    return low_res, iou[0].cpu().numpy()


@torch.inference_mode()
def upscale_masks(predictor: SamPredictor, low_res: torch.Tensor, tokens: list[int]) -> np.ndarray:
    """The `tokens`' masks at the image's size (bool KxHxW), exactly as SamPredictor makes them."""
    model = predictor.model
    size, original = predictor.input_size, predictor.original_size
    masks = model.postprocess_masks(low_res[:, tokens], size, original)
    return (masks[0] > model.mask_threshold).cpu().numpy()


def kept_tokens(prompt: Prompt, scores: np.ndarray, *, multimask: bool) -> list[int]:
    """The mask tokens to show, recommended first (see the module docstring)."""
    others = sorted((1, 2, 3), key=lambda token: -float(scores[token]))  # stable on ties
    tokens = others if _is_ambiguous(prompt) else [0, *others[:2]]
    return tokens if multimask else tokens[:1]


def _is_ambiguous(prompt: Prompt) -> bool:
    return (len(prompt.points) == 1 and prompt.box is None) or (
        not prompt.points and prompt.box is not None
    )


class SamSegmenter:
    needs_embedding = True

    def __init__(
        self,
        model: Sam,
        *,
        name: str,
        cache: EmbeddingCache | None,
        weights_id: str | None = None,
        cache_dtype: type[np.floating] = np.float16,
        decoder: Decoder = decode_with_torch,
    ) -> None:
        """`weights_id` names the weights in cache keys (default: `name`)."""
        self.name = name
        self.weights_id = weights_id or name
        self.model = model
        self._predictor = SamPredictor(model)
        self._cache = cache
        self._decoder = decoder
        self._cache_dtype = cache_dtype
        self._current: str | None = None  # the image_key whose features the predictor holds
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(
        cls,
        *,
        model_type: str,
        checkpoint: Path | None,
        device: str,
        cache: EmbeddingCache | None,
        onnx_dir: Path | None = None,
    ) -> SamSegmenter:
        """With `onnx_dir`, the decoder runs in onnxruntime, exported there on first use."""
        model = build_sam_model(model_type=model_type, checkpoint=checkpoint, device=device)
        name = f"sam-{model_type}"
        weights_id = f"{name}:{checkpoint.stem if checkpoint is not None else 'random'}"
        if onnx_dir is None:
            return cls(model, name=name, cache=cache, weights_id=weights_id)
        from annotator.adapters.segmenters.onnx_decoder import OnnxDecoder

        path = onnx_dir / f"{weights_id.replace(':', '-')}.onnx"
        decoder = OnnxDecoder.exported(model, path=path)
        return cls(model, name=f"{name}-onnx", cache=cache, weights_id=weights_id, decoder=decoder)

    @classmethod
    def from_settings(cls, *, onnx: bool | None = None) -> SamSegmenter:
        """onnx=None: the decoder settings.SAM_DECODER chooses for SAM_DEVICE."""
        if settings.SAM_CHECKPOINT is None:
            raise ImproperlyConfigured(
                "SEGMENTER=sam (or sam-onnx) needs SAM_CHECKPOINT (see docs/ml-stack.md)"
            )
        if onnx is None:
            onnx = decoder_for(settings.SAM_DECODER, device=settings.SAM_DEVICE) == "onnx"
        return cls.from_checkpoint(
            model_type=settings.SAM_MODEL_TYPE,
            checkpoint=settings.SAM_CHECKPOINT,
            device=settings.SAM_DEVICE,
            cache=get_embedding_cache(),
            onnx_dir=settings.DATA_DIR / "onnx" if onnx else None,
        )

    def prepare(self, *, image: np.ndarray, image_key: str) -> bool:
        with self._lock:
            if self._current == image_key:
                return True
        features, warm = self._features(image, image_key)
        with self._lock:
            self._load(features, image_key, image.shape[:2])
        return warm

    def is_prepared(self, *, image_key: str) -> bool:
        with self._lock:
            if self._current == image_key:
                return True
        key = embedding_key(content_hash=image_key, model_name=self.weights_id)
        return self._cache is not None and self._cache.contains(key)

    def segment(
        self, *, image: np.ndarray, image_key: str, prompt: Prompt, multimask: bool = True
    ) -> list[MaskCandidate]:
        with self._lock:
            if self._current == image_key:
                return self._decode(prompt, multimask)
        # Encoding runs outside the lock: clicks on the image already loaded carry on meanwhile.
        features, _ = self._features(image, image_key)
        with self._lock:
            self._load(features, image_key, image.shape[:2])
            return self._decode(prompt, multimask)

    def _features(self, image: np.ndarray, image_key: str) -> tuple[torch.Tensor, bool]:
        """The image's embedding on the model's device, and whether the cache had it."""
        check_image(image)
        key = embedding_key(content_hash=image_key, model_name=self.weights_id)
        cached = self._cache.get(key) if self._cache is not None else None
        encoder = self.model.prompt_encoder
        expected = (1, encoder.embed_dim, *encoder.image_embedding_size)
        if cached is not None and tuple(cached.shape) == expected:
            restored = torch.from_numpy(cached).to(device=self.model.device, dtype=torch.float32)
            return restored, True
        # A predictor of its own, so the shared one keeps serving the current image.
        encoding = SamPredictor(self.model)
        encoding.set_image(image)
        features = encoding.get_image_embedding()
        if self._cache is not None:
            self._cache.put(key, features.cpu().numpy().astype(self._cache_dtype))
        return features, False

    def _load(self, features: torch.Tensor, image_key: str, size: tuple[int, ...]) -> None:
        predictor = self._predictor
        height, width = size[0], size[1]
        predictor.reset_image()
        predictor.features = features
        predictor.original_size = (height, width)
        predictor.input_size = predictor.transform.get_preprocess_shape(
            height, width, predictor.transform.target_length
        )
        predictor.is_image_set = True
        self._current = image_key

    def _decode(self, prompt: Prompt, multimask: bool) -> list[MaskCandidate]:
        low_res, scores = self._decoder(self._predictor, prompt)
        tokens = kept_tokens(prompt, scores, multimask=multimask)
        masks = upscale_masks(self._predictor, low_res, tokens)
        return [
            MaskCandidate(mask=mask, score=float(scores[token]))
            for mask, token in zip(masks, tokens, strict=True)
        ]

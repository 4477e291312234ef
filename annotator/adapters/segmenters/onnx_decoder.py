"""SAM's prompt decoder run by onnxruntime (SEGMENTER=sam-onnx); the encoder stays in torch.

Exported once per weights with segment_anything's own SamOnnxModel (all four mask tokens kept:
return_single_mask=False), opset 17, by torch.onnx.export(..., dynamo=False): the default dynamo
exporter fails on this model. Its mask upscaling is left out of the graph: traced, it turns the
example image's size into constants, and every image of another aspect ratio gets masks cropped
wrongly. The low-resolution masks are upscaled by Sam.postprocess_masks as in the torch path
(sam.upscale_masks).
The file is written under a temporary name and renamed into place, so workers exporting at the
same time never load half a file. bench/sam_decoder.py measures speed and agreement.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from annotator.adapters.segmenters import Prompt
from annotator.adapters.torch_compat import ensure_torchvision_ops

ensure_torchvision_ops()

import torch  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402
from segment_anything.modeling import Sam  # noqa: E402
from segment_anything.utils.onnx import SamOnnxModel  # noqa: E402

INPUTS = [
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
]


class _DecoderGraph(SamOnnxModel):
    def mask_postprocessing(self, masks: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        return masks  # upscaled outside the graph (see the module docstring)


def export_decoder(model: Sam, *, path: Path) -> None:
    encoder = model.prompt_encoder
    embed_h, embed_w = encoder.image_embedding_size
    mask_h, mask_w = encoder.mask_input_size
    dummy = (
        torch.zeros(1, encoder.embed_dim, embed_h, embed_w),
        torch.zeros(1, 3, 2),
        torch.ones(1, 3),
        torch.zeros(1, 1, mask_h, mask_w),
        torch.zeros(1),
        torch.tensor([480.0, 640.0]),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            torch.onnx.export(
                _DecoderGraph(model.cpu(), return_single_mask=False),
                dummy,
                tmp,
                input_names=INPUTS,
                output_names=["masks", "iou_predictions", "low_res_masks"],
                dynamic_axes={"point_coords": {1: "points"}, "point_labels": {1: "points"}},
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class OnnxDecoder:
    """A `Decoder` for SamSegmenter: (predictor, prompt) -> low-resolution logits and predicted
    IoUs of all four mask tokens."""

    def __init__(self, session: Any, *, mask_input_size: tuple[int, int]) -> None:
        self._session = session
        self._inputs = {node.name for node in session.get_inputs()}  # the exporter drops unused
        self._no_mask = np.zeros((1, 1, *mask_input_size), np.float32)

    @classmethod
    def exported(cls, model: Sam, *, path: Path) -> OnnxDecoder:
        """The decoder of `model`, exported to `path` unless a file is already there."""
        import onnxruntime

        device = model.device
        if not path.is_file():
            export_decoder(model, path=path)
            model.to(device)  # the export ran on the CPU
        available = onnxruntime.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = onnxruntime.SessionOptions()
        # No busy-waiting for the next run: by default idle threads spin on for a while and take
        # the cores from the web process and other workers on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        return cls(session, mask_input_size=model.prompt_encoder.mask_input_size)

    def __call__(self, predictor: SamPredictor, prompt: Prompt) -> tuple[torch.Tensor, np.ndarray]:
        coords, labels = _points(predictor, prompt)
        height, width = predictor.original_size
        feeds = {
            "image_embeddings": predictor.features.detach().float().cpu().numpy(),
            "point_coords": coords,
            "point_labels": labels,
            "mask_input": self._no_mask,
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([height, width], np.float32),
        }
        low_res, scores, _ = self._session.run(
            None, {name: value for name, value in feeds.items() if name in self._inputs}
        )
        return torch.from_numpy(low_res).to(predictor.model.device), scores[0]


def _points(predictor: SamPredictor, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
    """Clicks, then the box as two corners labelled 2 and 3, or a padding point labelled -1:
    the encoding SamOnnxModel expects (as SAM's prompt encoder builds it)."""
    coords = [list(point) for point in prompt.points]
    labels = [float(label) for label in prompt.labels]
    if prompt.box is not None:
        x1, y1, x2, y2 = prompt.box
        coords += [[x1, y1], [x2, y2]]
        labels += [2.0, 3.0]
    else:
        coords.append([0.0, 0.0])
        labels.append(-1.0)
    scaled = predictor.transform.apply_coords(
        np.asarray(coords, np.float64), predictor.original_size
    )
    return scaled[None].astype(np.float32), np.asarray(labels, np.float32)[None]

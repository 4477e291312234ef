"""Make torchvision importable on a CPU-only torch.

The torchvision wheel that matches torch 2.13.0 is a CUDA build whose compiled `_C` extension
needs libtorch_cuda.so. On a CPU-only torch it fails to load, and `import torchvision` then dies
in its meta registrations with "operator torchvision::nms does not exist" (so do
segment_anything, groundingdino and transformers, which import it). When — and only when — the
native extension cannot load, we define `torchvision::nms` and `torchvision::qnms` with a
pure-torch CPU kernel so that torchvision's own registrations find them. Everything else in
torchvision that the adapters use (resize, transforms, box ops, nms) then works. Where the real
ops load (a CUDA machine, a CPU build of torchvision) this does nothing.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {"checked": False, "fallback": False, "library": None}


def _native_ops_load() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to patch
    package = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(package.glob("_C*.so")) + sorted(package.glob("_C*.pyd"))
    if not candidates:
        return False
    import torch

    try:
        torch.ops.load_library(str(candidates[0]))
    except (OSError, RuntimeError):
        return False
    return True


def _nms(dets: Any, scores: Any, iou_threshold: float) -> Any:
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=dets.device)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    lt = torch.max(dets[:, None, :2], dets[None, :, :2])
    rb = torch.min(dets[:, None, 2:], dets[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    iou = inter / (areas[:, None] + areas[None, :] - inter).clamp(min=1e-12)
    order = torch.argsort(scores, descending=True, stable=True)
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool, device=dets.device)
    keep = []
    for index in order.tolist():
        if suppressed[index]:
            continue
        keep.append(index)
        suppressed |= iou[index] > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def _register_fallback_ops() -> Any:
    import torch

    library = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        library.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.impl(name, _nms, "CompositeExplicitAutograd")
    return library


def _mark_ops_available() -> None:
    # torchvision.ops.nms asks extension._has_ops() before calling the operator; with our kernels
    # registered the answer is yes for nms (ops we do not provide still fail, naming the op).
    import torchvision.extension

    torchvision.extension._has_ops = lambda: True  # type: ignore[attr-defined]


def ensure_torchvision_ops() -> bool:
    """Call before importing torchvision (or anything that does). True when the fallback is on."""
    with _lock:
        if not _state["checked"]:
            _state["checked"] = True
            if not _native_ops_load():
                _state["library"] = _register_fallback_ops()
                _state["fallback"] = True
                _mark_ops_available()
        return bool(_state["fallback"])

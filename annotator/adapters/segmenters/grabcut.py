"""OpenCV GrabCut behind the Segmenter protocol: masks without model weights.

The fallback when no SAM checkpoint is configured, so that the demo works. What may be
foreground: the person's box; without one, the element's grounding box grown to take in the
add-clicks; without that, a padded box around the add-clicks, or the whole image less a margin.
Everything outside it is background. Add-clicks become discs of certain foreground,
remove-clicks discs of certain background, and GrabCut refines from that mask. Large images are
segmented at reduced size and the mask scaled back.
"""

from __future__ import annotations

import contextlib

import numpy as np

from annotator.adapters.segmenters import MaskCandidate, Prompt, check_image

WORK_SIDE = 400  # long side GrabCut works at; ~0.1-0.3 s a call at 5 iterations
ITERATIONS = 5
MARGIN = 0.02  # of the long side: kept as background when no box is given
CLICK_PADDING = 0.25  # of the long side, around the add-clicks when no box is given
HINT_PADDING = 0.02  # of the long side, around the grounding box and the add-clicks in it
DISC_RADIUS = 0.015  # of the long side, for each click


class GrabCutSegmenter:
    name = "grabcut"
    needs_embedding = False

    def prepare(self, *, image: np.ndarray, image_key: str) -> bool:
        return True  # nothing to precompute

    def is_prepared(self, *, image_key: str) -> bool:
        return True

    def segment(
        self, *, image: np.ndarray, image_key: str, prompt: Prompt, multimask: bool = True
    ) -> list[MaskCandidate]:
        import cv2

        check_image(image)
        height, width = image.shape[:2]
        scale = min(1.0, WORK_SIDE / max(height, width))
        small = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        seeds = _seed_mask(small.shape[:2], prompt, scale)
        background = np.zeros((1, 65), np.float64)
        foreground = np.zeros((1, 65), np.float64)
        # Too few pixels to model (a few-pixel image or box) raises: the seeds are the answer.
        with contextlib.suppress(cv2.error):
            no_rect = (0, 0, 0, 0)  # the seed mask says it all
            cv2.grabCut(
                np.ascontiguousarray(small),
                seeds,
                no_rect,
                background,
                foreground,
                ITERATIONS,
                cv2.GC_INIT_WITH_MASK,
            )
        mask = np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD))
        if scale < 1.0:
            # Bilinear on 0/1 then a 0.5 threshold: smoother edges than nearest-neighbour.
            upscaled = cv2.resize(
                mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
            )
            mask = upscaled >= 0.5
        return [MaskCandidate(mask=mask, score=_agreement(mask, prompt))]


def _region(shape: tuple[int, ...], prompt: Prompt, scale: float) -> tuple[int, int, int, int]:
    """The working-scale rectangle (x1, y1, x2, y2, exclusive) that may hold foreground."""
    height, width = shape[0], shape[1]
    long_side = max(height, width)
    adds = [p for p, label in zip(prompt.points, prompt.labels, strict=True) if label == 1]
    if prompt.box is not None:
        x1, y1, x2, y2 = (v * scale for v in prompt.box)
    elif prompt.hint is not None:
        # The subject's box, not a quarter of the image around the click: GrabCut otherwise
        # spills over sky and ground that look like the object's colours.
        pad = HINT_PADDING * long_side
        xs = [prompt.hint[0], prompt.hint[2], *(x for x, _ in adds)]
        ys = [prompt.hint[1], prompt.hint[3], *(y for _, y in adds)]
        x1, y1 = min(xs) * scale - pad, min(ys) * scale - pad
        x2, y2 = max(xs) * scale + pad, max(ys) * scale + pad
    elif adds:
        pad = CLICK_PADDING * long_side
        xs, ys = [x * scale for x, _ in adds], [y * scale for _, y in adds]
        x1, y1, x2, y2 = min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    else:
        x1 = y1 = MARGIN * long_side
        x2, y2 = width - x1, height - y1
    left, top = int(np.clip(np.floor(x1), 0, width - 1)), int(np.clip(np.floor(y1), 0, height - 1))
    right = int(np.clip(np.ceil(x2), left + 1, width))
    bottom = int(np.clip(np.ceil(y2), top + 1, height))
    return left, top, right, bottom


def _seed_mask(shape: tuple[int, ...], prompt: Prompt, scale: float) -> np.ndarray:
    import cv2

    height, width = shape[0], shape[1]
    seeds = np.full((height, width), cv2.GC_BGD, np.uint8)
    left, top, right, bottom = _region(shape, prompt, scale)
    seeds[top:bottom, left:right] = cv2.GC_PR_FGD
    if not (seeds == cv2.GC_BGD).any():
        # A box over the whole image leaves no background to learn from: let the border be
        # probably background.
        seeds[[0, -1], :] = cv2.GC_PR_BGD
        seeds[:, [0, -1]] = cv2.GC_PR_BGD
    radius = max(1, round(DISC_RADIUS * max(height, width)))
    for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
        centre = (round(x * scale), round(y * scale))
        cv2.circle(seeds, centre, radius, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)
    if not np.isin(seeds, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        seeds[height // 2, width // 2] = cv2.GC_PR_FGD  # only remove-clicks: GrabCut needs both
    return seeds


def _agreement(mask: np.ndarray, prompt: Prompt) -> float:
    """The share of clicks the mask obeys: 1.0 without clicks, and with them unless they
    contradict each other (each is a certain seed), so the page shows only a lower one
    (score_is_informative). It says nothing of the mask's size."""
    if not prompt.points:
        return 1.0
    height, width = mask.shape
    agree = 0
    for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
        inside = bool(mask[min(max(int(y), 0), height - 1), min(max(int(x), 0), width - 1)])
        agree += inside == (label == 1)
    return agree / len(prompt.points)

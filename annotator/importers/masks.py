"""Masks that come with an annotation: image files named by `mask_path`, and inline COCO RLE
(`masks`, what the JSONL export writes). Read from the line first (`read_masks`, no disk), then
checked against the image once its size is known (`check_masks`), which gives the regions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from annotator.importers.fields import (
    Box,
    FieldBox,
    check_box_inside,
    read_box,
    read_relative_path,
    read_text,
)
from annotator.importers.images import ImageInfo, ImageProblem, locate_image
from annotator.importers.issues import LineReport, json_type, show
from annotator.lib.rle import Rle, checked_rle, encode_mask
from annotator.models import Region, Sample

ROLES = [role.value for role in Region.Role]
DEFAULT_ROLE = Region.Role.SUBJECT.value
PATH_MAX = int(Sample._meta.get_field("image_path").max_length or 0)
PHRASE_MAX = int(Region._meta.get_field("phrase").max_length or 0)
# Pillow modes with one value per pixel; nonzero is inside the mask.
SINGLE_CHANNEL = {"1", "L", "P", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}


@dataclass(frozen=True)
class ParsedMask:
    """A mask as the line gives it: a file (`path`) or an inline RLE (`rle`, optional `box`)."""

    field: str  # where it was read, for messages: "mask_path", "proposals[1].masks[0]"
    role: str
    phrase: str
    path: str = ""
    rle: Rle | None = None
    box: Box | None = None


@dataclass(frozen=True)
class ImportedMask:
    """A mask ready to store as a Region: its box is the mask's or the one given."""

    role: str
    phrase: str
    box: Box | None
    rle: Rle


def read_masks(
    obj: dict[str, object], *, prefix: str, phrases: dict[str, str], report: LineReport
) -> tuple[ParsedMask, ...]:
    """`mask_path` and `masks` of one annotation; `phrases` names each role's phrase (the
    annotation's background, attribute, subject) for a mask file's region."""
    masks = _read_mask_path(obj.get("mask_path"), prefix + "mask_path", phrases, report)
    return tuple(masks + _read_inline(obj.get("masks"), prefix + "masks", report))


def _read_mask_path(
    value: object, field: str, phrases: dict[str, str], report: LineReport
) -> list[ParsedMask]:
    """A path (the subject's mask) or {role: path} for masks of other roles."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = [(field, DEFAULT_ROLE, value)]
    elif isinstance(value, dict):
        unknown = sorted(set(value) - set(ROLES))
        if unknown:
            report.error(field, f"{show(unknown[0])} is not a role ({', '.join(ROLES)})")
            return []
        items = [(f"{field}.{role}", role, path) for role, path in value.items()]
    else:
        report.error(field, f"must be a path or {{role: path}}, not {json_type(value)}")
        return []
    masks = []
    for where, role, path in items:
        text = read_relative_path(path, field=where, report=report, max_length=PATH_MAX)
        if text:
            masks.append(ParsedMask(where, role, phrases.get(role, ""), path=text))
    return masks


def _read_inline(value: object, field: str, report: LineReport) -> list[ParsedMask]:
    if value is None:
        return []
    if not isinstance(value, list):
        report.error(field, f"must be an array of masks, not {json_type(value)}")
        return []
    masks = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            report.error(where, f"must be an object, not {json_type(item)}")
            continue
        mask = _read_one_inline(item, where, report)
        if mask is not None:
            masks.append(mask)
    return masks


def _read_one_inline(item: dict[str, object], where: str, report: LineReport) -> ParsedMask | None:
    count = len(report.issues)
    role = item.get("role", DEFAULT_ROLE)
    if role not in ROLES:
        report.error(f"{where}.role", f"{show(role)} is not a role ({', '.join(ROLES)})")
    phrase = read_text(
        item.get("phrase"), field=f"{where}.phrase", report=report, max_length=PHRASE_MAX
    )
    box = None
    if item.get("box") is not None:
        box = read_box(item["box"], field=f"{where}.box", report=report)
    rle = None
    if "mask" not in item:
        report.error(f"{where}.mask", "missing")
    else:
        try:
            rle = checked_rle(item["mask"])
        except ValueError as exc:
            report.error(f"{where}.mask", str(exc))
    if len(report.issues) > count or rle is None:
        return None
    return ParsedMask(where, str(role), phrase, rle=rle, box=box)


def check_masks(
    masks: tuple[ParsedMask, ...], *, image: ImageInfo, root: Path, report: LineReport
) -> list[ImportedMask]:
    """Each mask against the image: an inline one's size and box, a file's size and pixels."""
    checked = []
    for mask in masks:
        found = (
            _check_inline(mask, image, report)
            if mask.rle is not None
            else _read_file(mask, image, root, report)
        )
        if found is not None:
            checked.append(found)
    return checked


def _check_inline(mask: ParsedMask, image: ImageInfo, report: LineReport) -> ImportedMask | None:
    assert mask.rle is not None
    height, width = mask.rle["size"]
    if (height, width) != (image.height, image.width):
        report.error(
            f"{mask.field}.mask",
            f"size [{height}, {width}] is not the image's [height, width] "
            f"[{image.height}, {image.width}]",
        )
        return None
    if mask.box is not None:
        before = len(report.issues)
        item = FieldBox(f"{mask.field}.box", mask.box)
        check_box_inside(item, width=image.width, height=image.height, report=report)
        if len(report.issues) > before:
            return None
    return ImportedMask(mask.role, mask.phrase, mask.box, mask.rle)


def _read_file(
    mask: ParsedMask, image: ImageInfo, root: Path, report: LineReport
) -> ImportedMask | None:
    try:
        pixels = _mask_pixels(locate_image(root, mask.path), image)
    except ImageProblem as exc:
        report.error(mask.field, f"{mask.path!r} {exc}")
        return None
    rows, columns = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if not len(rows):
        report.error(mask.field, f"{mask.path!r} has no pixel inside the mask (all zero)")
        return None
    box = Box(float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1))
    return ImportedMask(mask.role, mask.phrase, box, encode_mask(pixels))


def _mask_pixels(path: Path, image: ImageInfo) -> np.ndarray:
    """The file's nonzero pixels as a bool HxW array; its size is checked from the header,
    before decoding, so a mask is never larger than the image it belongs to."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as mask:
                if mask.size != (image.width, image.height):
                    size = f"{mask.size[0]}x{mask.size[1]}"
                    raise ImageProblem(f"is {size}; the image is {image.width}x{image.height}")
                if mask.mode not in SINGLE_CHANNEL:
                    raise ImageProblem(
                        f"has {len(mask.getbands())} channels ({mask.mode}); a mask has one "
                        "(nonzero = inside)"
                    )
                return np.asarray(mask) != 0
    except ImageProblem:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageProblem("is too large") from exc
    except Exception as exc:  # Pillow: UnidentifiedImageError, OSError, SyntaxError, ...
        raise ImageProblem(f"is not a mask Pillow can read: {exc}") from exc

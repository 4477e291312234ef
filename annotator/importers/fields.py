"""Readers for one JSON value each. They report problems to a LineReport instead of raising."""

from __future__ import annotations

import math
import re
import struct
from pathlib import PurePosixPath, PureWindowsPath
from typing import NamedTuple

import numpy as np

from annotator.importers.issues import LineReport, json_type, show
from annotator.importers.storable import text_problem
from annotator.taxonomy import normalise_label

DES_SIZE = 1024
DES_FORMAT = f"<{DES_SIZE}f"
CONFIDENCE_MAX = 10.0


class Box(NamedTuple):
    x1: float
    y1: float
    x2: float
    y2: float


class FieldBox(NamedTuple):
    """A box and the field it was read from, so a later bounds check can name the field."""

    field: str
    box: Box


def read_text(
    value: object, *, field: str, report: LineReport, max_length: int | None = None
) -> str:
    """A string field; null or absent reads as ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        report.error(field, f"must be a string, not {json_type(value)}")
        return ""
    text = value.strip()
    if max_length is not None and len(text) > max_length:
        report.error(field, f"is longer than {max_length} characters ({len(text)})")
        return ""
    return text


def is_blank(value: object) -> bool:
    """Absent, null or only spaces: what a required field reports as missing."""
    return value is None or (isinstance(value, str) and not value.strip())


def read_required_text(
    value: object, *, field: str, report: LineReport, max_length: int | None = None
) -> str:
    """A string field that must be present and not blank."""
    if is_blank(value):
        report.error(field, "missing")
        return ""
    return read_text(value, field=field, report=report, max_length=max_length)


def read_relative_path(value: object, *, field: str, report: LineReport, max_length: int) -> str:
    """A required path under the images root (image_path, mask_path), normalised; refuses
    absolute paths and `..` before touching the disk."""
    text = read_required_text(value, field=field, report=report, max_length=max_length)
    if not text:
        return ""
    if _plain_path(text) and not text_problem(text):
        return text  # what the checks below would return, without building two path objects
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if text_problem(text):  # already reported by parse_record's walk; never touch the disk
        pass
    elif posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("\\"):
        report.error(field, f"{text!r} is absolute; give a path relative to the images root")
    elif ".." in posix.parts or ".." in windows.parts:
        report.error(field, f"{text!r} contains '..'; it must stay inside the images root")
    else:
        return str(posix)
    return ""


def _plain_path(text: str) -> bool:
    """A relative POSIX path already in normal form: no drive, backslash, `.`/`..` segment,
    empty segment or trailing slash (anything else takes the full checks)."""
    return (
        not text.startswith(("/", "."))
        and not text.endswith("/")
        and "\\" not in text
        and ":" not in text
        and "//" not in text
        and "/." not in text
    )


def read_number(value: object, *, field: str, report: LineReport) -> float | None:
    """A finite number; numeric strings ("7.5") are accepted, as model outputs often carry them."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        report.error(field, f"must be a number, not {json_type(value)}")
        return None
    try:
        number = float(value)
    except ValueError:
        report.error(field, f"{show(value)} is not a number")
        return None
    except OverflowError:  # an integer with hundreds of digits
        report.error(field, f"{show(value)} is out of range")
        return None
    if not math.isfinite(number):
        report.error(field, f"{show(value)} is not a finite number")
        return None
    return number


def read_confidence(value: object, *, field: str, report: LineReport) -> float | None:
    if value is None:
        return None
    number = read_number(value, field=field, report=report)
    if number is not None and not 0.0 <= number <= CONFIDENCE_MAX:
        report.error(field, f"{show(value)} is outside 0-10")
        return None
    return number


def read_label(
    value: object,
    *,
    field: str,
    report: LineReport,
    labels: list[str],
    taxonomy: str,
    required: bool = False,
) -> str:
    """The taxonomy's spelling of an emotion name (matched case-insensitively); "" if absent."""
    reader = read_required_text if required else read_text
    text = reader(value, field=field, report=report)
    if not text:
        return ""
    label = normalise_label(text, labels)
    if label is None:
        report.error(field, f"{show(text)} is not in taxonomy {taxonomy} ({', '.join(labels)})")
        return ""
    return label


def read_des(value: object, *, field: str, report: LineReport, plain: bool = False) -> bytes | None:
    """A 1024-d vector as 1024 little-endian float32 values (4 KiB). `plain`: the line's
    numbers are known finite and bool-free (LineHints.plain_numbers); packing checks the rest."""
    if value is None:
        return None
    if not isinstance(value, list):
        report.error(field, f"must be an array of {DES_SIZE} numbers, not {json_type(value)}")
        return None
    if len(value) != DES_SIZE:
        report.error(field, f"has {len(value)} values, expected {DES_SIZE}")
        return None
    packed = _pack_des(value, plain=plain)
    if packed is not None:
        return packed
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | float) or not _finite(item):
            report.error(field, f"value {index} is {show(item)}, not a finite number")
            return None
    try:
        return struct.pack(DES_FORMAT, *value)
    except OverflowError:
        report.error(field, "has a value outside the float32 range")
        return None


def _pack_des(value: list[object], *, plain: bool = False) -> bytes | None:
    """The fast way for a list of plain finite numbers inside the float32 range; None sends
    anything else through the checks that name the value. struct.pack refuses what is not a
    number but takes a bool as 0.0 or 1.0, so only values packed as exactly that are looked at."""
    try:
        packed = struct.pack(DES_FORMAT, *value)
    except (struct.error, OverflowError):  # not a number, or outside the float32 range
        return None
    if plain:
        return packed
    vector = np.frombuffer(packed, dtype="<f4")
    if not np.isfinite(vector).all():
        return None
    for index in np.flatnonzero((vector == 0.0) | (vector == 1.0)).tolist():
        if type(value[index]) is bool:
            return None
    return packed


def read_boxes(value: object, *, field: str, report: LineReport) -> list[FieldBox]:
    """Boxes as one {x1,y1,x2,y2} or [x1,y1,x2,y2], or a list of those; null reads as none."""
    if value is None:
        return []
    if isinstance(value, dict) or (
        isinstance(value, list) and value and not isinstance(value[0], dict | list)
    ):
        box = read_box(value, field=field, report=report)
        return [FieldBox(field, box)] if box else []
    if not isinstance(value, list):
        report.error(field, f"must be a box or a list of boxes, not {json_type(value)}")
        return []
    boxes = []
    for index, item in enumerate(value):
        box = read_box(item, field=f"{field}[{index}]", report=report)
        if box:
            boxes.append(FieldBox(f"{field}[{index}]", box))
    return boxes


def read_box(value: object, *, field: str, report: LineReport) -> Box | None:
    """One box, {x1, y1, x2, y2} or [x1, y1, x2, y2]: finite, x1 < x2, y1 < y2."""
    if isinstance(value, dict) and {"x1", "y1", "x2", "y2"} <= value.keys():
        corners = [value["x1"], value["y1"], value["x2"], value["y2"]]
    elif isinstance(value, list) and len(value) == 4:
        corners = list(value)
    else:
        report.error(
            field, f"{show(value)} is not a box: use {{x1, y1, x2, y2}} or [x1, y1, x2, y2]"
        )
        return None
    numbers = []
    for corner in corners:
        kind = type(corner)  # JSON numbers are exactly int or float; a bool is neither
        if kind is float:
            numbers.append(corner)
        elif kind is int:
            numbers.append(float(corner) if _finite(corner) else math.inf)
        else:
            report.error(field, f"{show(value)} has a corner that is not a number")
            return None
    box = Box(*numbers)
    if not (
        math.isfinite(box.x1)
        and math.isfinite(box.y1)
        and math.isfinite(box.x2)
        and math.isfinite(box.y2)
    ):
        report.error(field, f"{show(value)} has a corner that is not a finite number")
        return None
    if box.x2 <= box.x1 or box.y2 <= box.y1:
        report.error(field, f"box {_show_box(box)} is inverted or empty (needs x1 < x2, y1 < y2)")
        return None
    return box


def _finite(number: int | float) -> bool:
    """math.isfinite, but False for an integer too large for a float (JSON allows 4300 digits)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def check_box_inside(item: FieldBox, *, width: int, height: int, report: LineReport) -> None:
    box = item.box
    if box.x1 < 0 or box.y1 < 0 or box.x2 > width or box.y2 > height:
        report.error(item.field, f"box {_show_box(box)} lies outside the {width}x{height} image")


def _show_box(box: Box) -> str:
    return "[" + ", ".join(f"{n:g}" for n in box) + "]"


# Background - Attribute - Subject. Tried in order; the first rule giving exactly three non-empty
# parts wins. Spaced dashes come first because phrases carry hyphens ("snow-covered plain").
_BAS_SEPARATORS = [
    re.compile(r"\s+[-\u2013\u2014]\s+"),
    re.compile(r"[\u2013\u2014]"),
    re.compile("-"),
]


def split_bas(value: object, *, field: str, report: LineReport) -> tuple[str, str, str] | None:
    """Split a "B-A-S" value into (background, attribute, subject); None if absent or bad."""
    if value is None or value == "":
        return None
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value]
        if all(parts):
            return parts[0], parts[1], parts[2]
    elif isinstance(value, str):
        for separator in _BAS_SEPARATORS:
            parts = [p.strip() for p in separator.split(value.strip())]
            if len(parts) == 3 and all(parts):
                return parts[0], parts[1], parts[2]
    report.error(
        field,
        f"{show(value)} does not split into Background - Attribute - Subject "
        "(three non-empty parts separated by ' - ')",
    )
    return None

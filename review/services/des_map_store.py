"""How a DES map's points are stored and sent.

Stored (DesMap.points): int32 sample ids, then float32 x, then float32 y, little-endian, in id
order: the projection as computed, 12 bytes a point.

Sent (the page's binary endpoint): uint32 n, then uint16 x, uint16 y, int32 ids, then the
samples' external ids (UTF-8, one a line, in the same order: the hover names a sample as people
know it). The coordinates are scaled by one factor (the larger extent) so the map keeps its
aspect, and rounded to 1/65535 of that extent: finer than a pixel at any zoom the page allows,
8 bytes a point (1.75 MB at 219K) plus the names. Selections are made on these same rounded
values, so the server counts what the page drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

QUANT_MAX = 65535

IdArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]
QuantArray = npt.NDArray[np.uint16]


@dataclass(frozen=True)
class MapPoints:
    ids: IdArray
    x: FloatArray
    y: FloatArray

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def pack_points(points: MapPoints) -> bytes:
    return b"".join(
        (
            points.ids.astype("<i4").tobytes(),
            points.x.astype("<f4").tobytes(),
            points.y.astype("<f4").tobytes(),
        )
    )


def unpack_points(data: bytes | memoryview | None) -> MapPoints:
    raw = bytes(data or b"")
    n = len(raw) // 12
    ids = np.frombuffer(raw, dtype="<i4", count=n).astype(np.int32)
    x = np.frombuffer(raw, dtype="<f4", count=n, offset=4 * n).astype(np.float32)
    y = np.frombuffer(raw, dtype="<f4", count=n, offset=8 * n).astype(np.float32)
    return MapPoints(ids=ids, x=x, y=y)


def quantized(points: MapPoints) -> tuple[QuantArray, QuantArray]:
    """x and y as uint16 over one common scale (see the module docstring)."""
    if not len(points):
        return np.zeros(0, np.uint16), np.zeros(0, np.uint16)
    x, y = points.x.astype(np.float64), points.y.astype(np.float64)
    x0, y0 = float(x.min()), float(y.min())
    extent = max(float(x.max()) - x0, float(y.max()) - y0) or 1.0
    scale = QUANT_MAX / extent
    qx = np.rint((x - x0) * scale).clip(0, QUANT_MAX).astype(np.uint16)
    qy = np.rint((y - y0) * scale).clip(0, QUANT_MAX).astype(np.uint16)
    return qx, qy


def wire_bytes(points: MapPoints, names: list[str]) -> bytes:
    """What the page reads (little-endian; see the module docstring). `names`: each point's
    external id, in the points' order."""
    qx, qy = quantized(points)
    lines = "\n".join(" ".join(name.splitlines()) for name in names)
    return b"".join(
        (
            np.array([len(points)], dtype="<u4").tobytes(),
            qx.astype("<u2").tobytes(),
            qy.astype("<u2").tobytes(),
            points.ids.astype("<i4").tobytes(),
            lines.encode(),
        )
    )


def inside_polygon(
    *, qx: QuantArray, qy: QuantArray, polygon: list[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    """Which points lie inside the polygon (even-odd rule; a box is a 4-point polygon), in
    the sent coordinates. Vectorised per edge: 219K points x 500 edges in about a second."""
    px, py = qx.astype(np.float64), qy.astype(np.float64)
    inside = np.zeros(px.shape[0], dtype=bool)
    if len(polygon) < 3:
        return inside
    xs0, ys0 = min(p[0] for p in polygon), min(p[1] for p in polygon)
    xs1, ys1 = max(p[0] for p in polygon), max(p[1] for p in polygon)
    near = np.flatnonzero((px >= xs0) & (px <= xs1) & (py >= ys0) & (py <= ys1))
    bx, by = px[near], py[near]
    hit = np.zeros(near.shape[0], dtype=bool)
    for (ax, ay), (cx, cy) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if ay == cy:
            continue  # a horizontal edge never crosses the ray
        crosses = (ay > by) != (cy > by)
        at_x = ax + (by - ay) * (cx - ax) / (cy - ay)
        hit ^= crosses & (bx < at_x)
    inside[near] = hit
    return inside

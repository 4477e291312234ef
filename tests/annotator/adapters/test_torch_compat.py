from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from annotator.adapters.torch_compat import _nms, ensure_torchvision_ops  # noqa: E402


def test_torchvision_imports_and_nms_runs_after_the_compat_step():
    ensure_torchvision_ops()
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert torchvision.ops.nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert torchvision.ops.batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [
        0,
        1,
        2,
    ]


def test_fallback_nms_matches_a_reference_on_random_boxes():
    generator = torch.Generator().manual_seed(0)
    xy = torch.rand((200, 2), generator=generator) * 100
    wh = torch.rand((200, 2), generator=generator) * 30 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = torch.rand(200, generator=generator)
    keep = _nms(boxes, scores, 0.3).tolist()
    # Reference: greedy suppression written out longhand.
    order = sorted(range(200), key=lambda i: -float(scores[i]))
    expected: list[int] = []
    for i in order:
        ok = True
        for j in expected:
            a, b = boxes[i], boxes[j]
            iw = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
            ih = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
            inter = iw * ih
            area = lambda r: float((r[2] - r[0]) * (r[3] - r[1]))  # noqa: E731
            if inter / (area(a) + area(b) - inter) > 0.3:
                ok = False
                break
        if ok:
            expected.append(i)
    assert keep == expected

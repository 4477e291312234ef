from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from annotator.importers.images import (
    ImageInfo,
    ImageProblem,
    check_images_root,
    locate_image,
    probe_image,
)


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    # probe_image sets Pillow's global limit; put it back for whoever opens images next.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def test_probe_reads_size_and_hashes_the_bytes(images_root: Path):
    path = images_root / "c.png"
    info = probe_image(path, max_pixels=1_000_000)
    assert info == ImageInfo(64, 48, hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_file_pillow_cannot_read_is_a_problem(tmp_path: Path):
    path = tmp_path / "fake.jpg"
    path.write_text("not really a jpeg")
    with pytest.raises(ImageProblem, match="is not an image Pillow can read"):
        probe_image(path, max_pixels=1_000_000)


@pytest.mark.parametrize("max_pixels", [64 * 48 - 1, (64 * 48) // 2 - 1])
def test_decompression_bomb_warning_and_error_are_both_refused(images_root: Path, max_pixels):
    with pytest.raises(ImageProblem, match="is too large"):
        probe_image(images_root / "a.jpg", max_pixels=max_pixels)


def test_pillow_global_guard_is_left_alone(images_root: Path):
    # It binds every Image.open of the process: an import in a web process that also runs
    # mask tasks (no broker) must not lower it for images imported under an earlier limit.
    before = Image.MAX_IMAGE_PIXELS
    probe_image(images_root / "a.jpg", max_pixels=12345)
    assert before == Image.MAX_IMAGE_PIXELS


def test_an_image_over_twice_pillows_own_limit_is_refused_with_its_size(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's error above 2,000
    Image.new("RGB", (64, 48)).save(tmp_path / "x.png")
    with pytest.raises(ImageProblem, match=r"^is too large: 3,072 pixels; the limit is 5,000 "):
        probe_image(tmp_path / "x.png", max_pixels=5000)


def test_locate_refuses_symlinks_that_lead_outside_the_root(images_root: Path, tmp_path: Path):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(outside)
    (images_root / "link.png").symlink_to(outside)
    (images_root / "linkdir").symlink_to(tmp_path)
    with pytest.raises(ImageProblem, match="leads outside the images root"):
        locate_image(images_root, "link.png")
    with pytest.raises(ImageProblem, match="leads outside the images root"):
        locate_image(images_root, "linkdir/secret.png")


def test_locate_follows_symlinks_that_stay_inside(images_root: Path):
    (images_root / "alias.jpg").symlink_to(images_root / "a.jpg")
    assert locate_image(images_root, "alias.jpg") == (images_root / "a.jpg").resolve()


def test_locate_reports_missing_files_and_directories(images_root: Path):
    (images_root / "sub").mkdir()
    with pytest.raises(ImageProblem, match="does not exist under the images root"):
        locate_image(images_root, "nope.jpg")
    with pytest.raises(ImageProblem, match="is not a file"):
        locate_image(images_root, "sub")


def test_images_root_must_be_an_allowed_directory(tmp_path: Path):
    allowed = tmp_path / "allowed"
    (allowed / "set1").mkdir(parents=True)
    assert check_images_root(allowed / "set1", allowed=[allowed]) is None
    assert "is not inside an allowed import root" in str(
        check_images_root(tmp_path / "elsewhere", allowed=[allowed])
    )
    # A symlink inside an allowed root that points elsewhere does not make elsewhere allowed.
    (allowed / "escape").symlink_to(tmp_path)
    assert "is not inside an allowed import root" in str(
        check_images_root(allowed / "escape", allowed=[allowed])
    )
    assert "is not a directory" in str(check_images_root(allowed / "missing", allowed=[allowed]))

"""resized_images: equal to cv2's area resize, cached as a memmap that is reused while valid and rebuilt when
the source or the size changes, and never half-written."""
import json

import cv2
import numpy as np
import pytest

from common.vision import resized
from common.vision.resized import resized_images


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (7, 30, 34), dtype=np.uint8)


def expected(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) for image in images])


def fail_on_call(monkeypatch, call: int) -> None:
    """Make the ``call``-th image resize (1-based) raise, as a build killed part-way."""
    real, calls = cv2.resize, []

    def resize(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(resized.cv2, "resize", resize)


@pytest.mark.parametrize("cached", [True, False])
def test_equals_cv2_area_resize_per_image(tmp_path, images, cached):
    out = resized_images(images, 16, tmp_path if cached else None)
    assert out.dtype == np.uint8 and out.shape == (7, 16, 16)
    np.testing.assert_array_equal(out, expected(images, 16))
    assert isinstance(out, np.memmap) == cached
    assert [p.name for p in sorted(tmp_path.iterdir())] == (["resized-16.json", "resized-16.npy"] if cached else [])
    sidecar = json.loads((tmp_path / "resized-16.json").read_text()) if cached else {}
    assert not cached or sidecar["source_shape"] == [7, 30, 34]


def test_images_at_the_size_come_back_as_they_are(tmp_path, images):
    square = images[:, :30, :30]
    assert resized_images(square, 30, tmp_path) is square
    assert list(tmp_path.iterdir()) == []


def test_second_call_reuses_the_file(tmp_path, images, monkeypatch):
    resized_images(images, 16, tmp_path, progress=True)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    truth = expected(images, 16)
    fail_on_call(monkeypatch, 1)  # any resize now would raise
    np.testing.assert_array_equal(resized_images(images, 16, tmp_path), truth)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps


def test_changed_source_is_rebuilt(tmp_path, images):
    resized_images(images, 16, tmp_path)
    changed = images.copy()
    changed[3] = 255 - changed[3]
    np.testing.assert_array_equal(resized_images(changed, 16, tmp_path), expected(changed, 16))
    fewer = images[:5]
    np.testing.assert_array_equal(resized_images(fewer, 16, tmp_path), expected(fewer, 16))


def test_another_size_is_another_file(tmp_path, images):
    small = resized_images(images, 16, tmp_path)
    large = resized_images(images, 24, tmp_path)
    np.testing.assert_array_equal(large, expected(images, 24))
    np.testing.assert_array_equal(small, expected(images, 16))
    assert {p.name for p in tmp_path.iterdir()} >= {"resized-16.npy", "resized-24.npy"}
    np.testing.assert_array_equal(resized_images(images, 16, tmp_path), expected(images, 16))


def test_killed_build_leaves_nothing_taken_for_valid(tmp_path, images, monkeypatch):
    with monkeypatch.context() as patch:
        fail_on_call(patch, 4)
        with pytest.raises(RuntimeError, match="killed"):
            resized_images(images, 16, tmp_path)
    assert list(tmp_path.iterdir()) == []
    np.testing.assert_array_equal(resized_images(images, 16, tmp_path), expected(images, 16))


def test_rebuild_killed_before_its_sidecar_leaves_no_file_taken_for_the_old_source(tmp_path, images, monkeypatch):
    resized_images(images, 16, tmp_path)
    changed = images[::-1].copy()

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:  # the new array is in place, its sidecar not yet written
        patch.setattr(resized, "atomic_write_json", killed)
        with pytest.raises(RuntimeError, match="killed"):
            resized_images(changed, 16, tmp_path)
    np.testing.assert_array_equal(resized_images(images, 16, tmp_path), expected(images, 16))
    np.testing.assert_array_equal(resized_images(changed, 16, tmp_path), expected(changed, 16))


def test_bad_input_is_refused(tmp_path, images):
    with pytest.raises(ValueError, match="expected uint8 images"):
        resized_images(images.astype(np.float32), 16, tmp_path)
    with pytest.raises(ValueError, match="size must be positive"):
        resized_images(images, 0, tmp_path)

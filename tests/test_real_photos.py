"""A phone's rotated JPEG and a Display-P3 PNG come back upright and in the right colours,
judged against Pillow's own handling of the originals."""

import io

import numpy as np
from PIL import Image, ImageCms, ImageOps

import vqcodec

from . import images

RED, BLUE = (200, 60, 50), (50, 70, 190)


def test_rotated_jpeg_comes_back_upright(tmp_path):
    path = tmp_path / "portrait.jpg"
    path.write_bytes(images.rotated_jpeg(images.halves(64, 32, RED, BLUE)))
    shown = ImageOps.exif_transpose(Image.open(path)).convert("RGB")  # what viewers show
    out = vqcodec.decompress(vqcodec.compress(path))
    assert out.size == shown.size == (32, 64)
    decoded, expected = np.asarray(out, float), np.asarray(shown, float)
    top, bottom = (slice(4, 28), slice(4, 28)), (slice(36, 60), slice(4, 28))
    assert np.abs(expected[top] - RED).max() < 8 and np.abs(expected[bottom] - BLUE).max() < 8
    for region, right, wrong in ((top, RED, BLUE), (bottom, BLUE, RED)):  # clockwise: left on top
        mean = decoded[region].mean(axis=(0, 1))
        assert np.abs(mean - right).max() < 30 < np.abs(mean - wrong).max(), mean


def test_display_p3_png_keeps_its_colours(tmp_path):
    p3 = images.display_p3_profile()
    original = Image.new("RGB", (48, 32), (200, 100, 60))
    path = tmp_path / "p3.png"
    path.write_bytes(images.encoded(original, "PNG", icc_profile=p3))
    srgb = ImageCms.profileToProfile(
        original, ImageCms.ImageCmsProfile(io.BytesIO(p3)), ImageCms.createProfile("sRGB")
    )
    target = np.asarray(srgb, float).mean(axis=(0, 1))  # (215, 93, 47)
    shift = target - np.asarray(original, float).mean(axis=(0, 1))
    assert np.abs(shift).max() > 10  # the profile matters for this colour

    decoded = np.asarray(vqcodec.decompress(vqcodec.compress(path)), float).mean(axis=(0, 1))
    assert np.abs(decoded - target).max() < 4, (decoded, target)
    moved = decoded - np.asarray(original, float).mean(axis=(0, 1))
    assert np.all(np.sign(moved) == np.sign(shift))  # every channel moves Pillow's way

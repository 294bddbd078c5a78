"""The input policy: which modes are coded how, and which inputs are refused (and how)."""

import numpy as np
import pytest
from PIL import Image

from vqcodec.errors import ImageInputError
from vqcodec.format.bitstream import COLOUR_GRAY, COLOUR_RGB
from vqcodec.io.image_io import to_image, to_rgb

from .conftest import photo
from .images import png_header


def test_rgb_and_gray_modes():
    rgb = photo(10, 12)
    arr, colour = to_rgb(Image.fromarray(rgb))
    assert colour == COLOUR_RGB and np.array_equal(arr, rgb)
    gray = Image.fromarray(rgb).convert("L")
    arr, colour = to_rgb(gray)
    assert colour == COLOUR_GRAY and arr.shape == (10, 12, 3)
    assert np.array_equal(arr[..., 0], np.asarray(gray)) and np.array_equal(
        arr[..., 0], arr[..., 2]
    )
    assert to_rgb(gray.convert("1"))[1] == COLOUR_GRAY
    assert to_image(arr, COLOUR_GRAY).mode == "L"


def test_palette_is_coded_as_rgb():
    im = Image.fromarray(photo(10, 12)).convert("P")
    arr, colour = to_rgb(im)
    assert colour == COLOUR_RGB and np.array_equal(arr, np.asarray(im.convert("RGB")))


def test_opaque_alpha_is_dropped_transparent_alpha_is_refused_unless_asked():
    rgba = Image.fromarray(photo(10, 12)).convert("RGBA")
    arr, _ = to_rgb(rgba)
    assert np.array_equal(arr, np.asarray(rgba.convert("RGB")))
    rgba.putpixel((0, 0), (1, 2, 3, 0))
    with pytest.raises(ImageInputError, match="transparency"):
        to_rgb(rgba)
    arr, _ = to_rgb(rgba, drop_alpha=True)
    assert tuple(arr[0, 0]) == (1, 2, 3)
    la = Image.fromarray(photo(10, 12)).convert("LA")
    assert to_rgb(la)[1] == COLOUR_GRAY


@pytest.mark.parametrize("mode", ["I", "F", "CMYK"])
def test_unsupported_modes_are_refused(mode):
    with pytest.raises(ImageInputError, match="unsupported image mode"):
        to_rgb(Image.new(mode, (4, 4)))


@pytest.mark.parametrize(
    "arr",
    [np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)],
)
def test_bad_arrays_are_refused(arr):
    with pytest.raises(ImageInputError):
        to_rgb(arr)


def test_file_errors(tmp_path):
    with pytest.raises(ImageInputError, match="no such file"):
        to_rgb(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(ImageInputError, match="not an image"):
        to_rgb(text)
    good = tmp_path / "good.png"
    Image.fromarray(photo(64, 64)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        to_rgb(truncated)
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(20000, 20000))
    with pytest.raises(ImageInputError, match="limit"):
        to_rgb(huge)
    with pytest.raises(ImageInputError, match="folder"):
        to_rgb(tmp_path)

"""Mutated image files: the image reader either codes them or raises `ImageInputError`, never
any other exception (Pillow raises a dozen types on damaged data) and never a warning."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vqcodec.errors import VQCodecError
from vqcodec.io.image_io import to_rgb

from . import images
from .conftest import photo


def _seeds() -> list[bytes]:
    rgb = Image.fromarray(photo(12, 10, seed=5))
    exif = Image.Exif()
    exif[images.ORIENTATION] = 6
    return [
        images.encoded(rgb, "PNG"),
        images.encoded(rgb, "PNG", icc_profile=images.display_p3_profile()),
        images.encoded(rgb.convert("P"), "PNG", transparency=0),
        images.png_16bit(np.arange(30, dtype=np.uint16).reshape(5, 6) * 2000),
        images.encoded(rgb, "JPEG", quality=80, exif=exif.tobytes()),
        images.encoded(rgb.convert("P"), "GIF"),
        images.animated("GIF", n=2),
        images.encoded(rgb, "PPM"),
        images.encoded(rgb.convert("L"), "PPM"),
        images.encoded(rgb, "TIFF"),
        images.encoded(rgb, "TIFF", compression="tiff_deflate"),
        images.encoded(rgb, "BMP"),
        images.encoded(rgb, "WEBP", quality=50),
    ]


SEEDS = _seeds()

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.sampled_from([0, 0x7F, 0x80, 0xFF])),
)


def _mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, value in steps:
        pos %= max(len(out), 1)
        if kind == "flip" and out:
            out[pos] ^= value
        elif kind == "set" and out:
            out[pos] = value
        elif kind == "cut":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = bytes([value]) * (1 + value % 7)
    return bytes(out)


@settings(max_examples=200, deadline=None)
@given(seed=st.sampled_from(range(len(SEEDS))), steps=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_images_raise_only_vqcodec_errors(seed, steps):
    data = _mutate(SEEDS[seed], steps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would print a second line in the CLI
        try:
            arr, _ = to_rgb(data)
        except VQCodecError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3

"""End-to-end coding with the shipped default level: indices, pixels, sizes, modes, inputs."""

import numpy as np
import pytest
import torch
from PIL import Image

import vqcodec
from vqcodec import zoo
from vqcodec.api import decode_indices, load_codec
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.io.image_io import to_rgb
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse

from .conftest import SAMPLE, coded_maps, photo


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (8, 8), (33, 17), (513, 769)])
def test_decoded_indices_equal_the_encoders(shape):
    rgb = photo(*shape, seed=sum(shape))
    codec = load_codec()
    maps = coded_maps(codec, rgb)
    compressed, expected = analyse(
        rgb, COLOUR_RGB, codec, DEFAULT_TILE, codec.entry.rate_weights
    ).file(Settings(None))
    data = vqcodec.compress(rgb, refine_step=0)
    assert data == compressed.data
    _, _, decoded = decode_indices(data)
    assert all(torch.equal(d, m) for d, m in zip(decoded, maps, strict=True))
    image = vqcodec.decompress(data)
    assert (image.height, image.width) == shape and image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), expected)


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (33, 17), (513, 769)])
def test_the_decoder_shows_the_encoders_refined_image(shape):
    """With a refinement layer (the default level has one), over stripes and partial blocks."""
    rgb = photo(*shape, seed=sum(shape))
    codec, step = load_codec(), zoo.default_preset().refine_step
    found = analyse(rgb, COLOUR_RGB, codec, DEFAULT_TILE, codec.entry.rate_weights)
    compressed, refined = found.file(Settings(step))
    assert step is not None and compressed.data == vqcodec.compress(rgb)
    np.testing.assert_array_equal(np.asarray(vqcodec.decompress(compressed.data)), refined)


def test_grayscale_roundtrip():
    gray = np.asarray(Image.fromarray(photo(40, 56)).convert("L"))
    data = vqcodec.compress(gray)
    assert vqcodec.info(data)["colour"] == "grayscale"
    out = vqcodec.decompress(data)
    assert out.mode == "L" and out.size == (56, 40)
    codec = load_codec()
    rgb, _ = to_rgb(gray)
    _, _, decoded = decode_indices(data)
    assert all(torch.equal(d, m) for d, m in zip(decoded, coded_maps(codec, rgb), strict=True))


def test_path_pil_and_array_inputs_give_the_same_file():
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"))
    from_path = vqcodec.compress(SAMPLE)
    assert vqcodec.compress(Image.open(SAMPLE)) == from_path
    assert vqcodec.compress(rgb) == from_path


def test_compression_is_deterministic_and_reconstruction_is_close(sample_rgb):
    first = vqcodec.compress_image(sample_rgb)
    assert vqcodec.compress(sample_rgb) == first.data
    out = np.asarray(vqcodec.decompress(first.data)).astype(np.float64)
    mse = np.mean((out - sample_rgb) ** 2)
    assert 10 * np.log10(255**2 / mse) > 22  # a trained model, not noise
    assert first.bpp < 1.0  # the prior compresses below the raw 0.70 bpp of the indices + header
    assert 8 * first.payload_bytes <= first.ideal_bits * 1.001 + 64 * first.streams

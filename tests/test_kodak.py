"""Kodak-wide checks (slow: run with `pytest -m slow`; needs ../shared/data/kodak)."""

import pytest

import vqcodec
from vqcodec import zoo
from vqcodec.training.data import list_images

from .conftest import KODAK

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not KODAK.is_dir(), reason="Kodak images not available"),
]


@pytest.mark.parametrize("model", zoo.ladder())
def test_coding_efficiency_on_all_kodak_images(model):
    """Payload bits <= ideal bits (sum of -log2 p) x 1.001 + 64 per stream (each tile's stream
    ends with its range coder's flush), for every image."""
    for path in list_images(KODAK):
        result = vqcodec.compress_image(path, model=model)
        bound = result.ideal_bits * 1.001 + 64 * result.streams
        assert 8 * result.payload_bytes <= bound, path.name

"""Kodak-wide checks (slow: run with `pytest -m slow`; needs ../shared/data/kodak)."""

import pytest

import vqcodec
from vqcodec import zoo
from vqcodec.data import list_images

from .conftest import KODAK

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not KODAK.is_dir(), reason="Kodak images not available"),
]


@pytest.mark.parametrize("model", zoo.ladder())
def test_coding_efficiency_on_all_kodak_images(model):
    """Payload bits <= ideal bits (float64 sum of -log2 p) x 1.001 + 64, for every image."""
    for path in list_images(KODAK):
        result = vqcodec.compress_image(path, model=model)
        assert 8 * result.payload_bytes <= result.ideal_bits * 1.001 + 64, path.name

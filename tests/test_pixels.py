"""The pixel guarantee: indices are exact everywhere; pixels come from the float synthesis
network and are within one level of the same maps' synthesis in one piece, on one thread.

(Measured before format 2: a file decoded with different thread counts differed by one level in
about 8 pixels of a Kodak image. Windowed synthesis must not add seams.)
"""

import contextlib

import numpy as np
import pytest
import torch

from vqcodec.api import load_codec
from vqcodec.model import codec as codec_module

from .conftest import photo


@pytest.fixture(scope="module")
def maps_and_reference():
    codec = load_codec()
    rgb = photo(200, 328, seed=5)
    maps = codec.analyse(rgb)
    with torch_threads(1):
        reference = codec.synthesize(maps, 328, 200)
    return codec, maps, reference


@contextlib.contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _within_one_level(a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1
    return float((diff > 0).mean())


@pytest.mark.parametrize("threads", [1, 2])
def test_pixels_within_one_level_at_any_thread_count(maps_and_reference, threads):
    codec, maps, reference = maps_and_reference
    with torch_threads(threads):
        pixels = codec.synthesize(maps, 328, 200)
    assert _within_one_level(pixels, reference) < 1e-3


def test_windowed_analysis_gives_the_indices_of_one_piece(maps_and_reference, monkeypatch):
    codec, maps, _ = maps_and_reference
    monkeypatch.setattr(codec_module, "WINDOW_PX", 64)
    windowed = codec.analyse(photo(200, 328, seed=5))
    assert all(torch.equal(a, b) for a, b in zip(windowed, maps, strict=True))


def test_windowed_synthesis_leaves_no_seam(maps_and_reference, monkeypatch):
    """Small windows (many seams) give the pixels of one window, to within one level."""
    codec, maps, reference = maps_and_reference
    monkeypatch.setattr(codec_module, "WINDOW_PX", 64)
    with torch_threads(1):
        pixels = codec.synthesize(maps, 328, 200)
    assert _within_one_level(pixels, reference) < 1e-3

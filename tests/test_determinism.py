"""The determinism contract: the decoder computes bit-identical probabilities to the encoder's,
for both priors of the shipped model, over many map sizes."""

import numpy as np
import pytest
import torch

from vqcodec.api import load_codec
from vqcodec.coding.entropy import decode_map, encode_map, single_thread

from .conftest import photo


def _rows(prior, idx, cond):
    enc_rows, dec_rows = [], []
    encoded = encode_map(prior, idx, cond, hook=enc_rows.append)
    decoded = decode_map(prior, encoded.words, *idx.shape, cond, hook=dec_rows.append)
    return enc_rows, dec_rows, decoded


@pytest.mark.parametrize(
    "shape", [(8, 8), (8, 16), (16, 8), (24, 40), (7 * 8, 13 * 8), (1, 1), (13, 7), (100, 36)]
)
def test_probabilities_are_bit_identical(shape):
    codec = load_codec()
    h, w = shape
    idx_top, idx_bottom = codec.analyse(photo(max(h, 1), max(w, 1), seed=h * w))
    for prior, idx, cond in [(codec.model.prior_top, idx_top, None),
                             (codec.model.prior_bottom, idx_bottom, idx_top)]:  # fmt: skip
        enc_rows, dec_rows, decoded = _rows(prior, idx, cond)
        assert torch.equal(decoded, idx)
        assert len(enc_rows) == len(dec_rows)
        for a, b in zip(enc_rows, dec_rows, strict=True):
            assert a.tobytes() == b.tobytes()


def test_thread_count_does_not_change_the_probabilities():
    """The prior path pins itself to one thread, so callers' settings cannot change the bits."""
    codec = load_codec()
    idx_top, idx_bottom = codec.analyse(photo(64, 96, seed=5))
    runs = []
    for threads in (1, 2):
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            rows = []
            encode_map(codec.model.prior_bottom, idx_bottom, idx_top, hook=rows.append)
            runs.append(np.concatenate(rows))
        finally:
            torch.set_num_threads(before)
    assert runs[0].tobytes() == runs[1].tobytes()
    with single_thread():
        assert torch.get_num_threads() == 1


def test_concurrent_python_threads_get_identical_files():
    """Library users may code from a thread pool; every file must still be exactly right."""
    from concurrent.futures import ThreadPoolExecutor

    import vqcodec

    images = [photo(48, 64, seed=s) for s in range(4)]
    serial = [vqcodec.compress(im) for im in images]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(vqcodec.compress, images))
        decoded = list(pool.map(vqcodec.decompress, parallel))
    assert parallel == serial
    for data, image in zip(serial, decoded, strict=True):
        assert np.array_equal(np.asarray(image), np.asarray(vqcodec.decompress(data)))

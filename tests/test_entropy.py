import numpy as np
import pytest
import torch

from vqcodec.coding.entropy import (
    bytes_to_words,
    decode_map,
    encode_map,
    probability_rows,
    words_to_bytes,
)
from vqcodec.model.config import PriorConfig
from vqcodec.model.prior import PixelCNN


def test_probability_rows_are_contiguous_normalised_float32():
    logits = torch.randn(7, 300) * 30
    probs, p64 = probability_rows(logits)
    assert probs.dtype == np.float32 and probs.flags["C_CONTIGUOUS"]
    assert np.all(probs >= 0)
    np.testing.assert_allclose(p64.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(probs.sum(1, dtype=np.float64), 1.0, atol=1e-5)


@pytest.mark.parametrize("words", [[], [0], [1, 0], [0xFFFFFFFF, 0x100, 0]])
def test_words_bytes_roundtrip(words):
    w = np.array(words, dtype=np.uint32)
    back = bytes_to_words(words_to_bytes(w))
    np.testing.assert_array_equal(np.trim_zeros(back, "b"), np.trim_zeros(w, "b"))


@pytest.mark.parametrize("cond", [False, True])
def test_map_roundtrip_and_overhead(cond):
    torch.manual_seed(0)
    cfg = PriorConfig(codes=64, embed_dim=8, channels=16, layers=2, kernel=3,
                      cond_codes=32 if cond else 0, cond_channels=8)  # fmt: skip
    net = PixelCNN(cfg).eval()
    idx = torch.randint(0, 64, (9, 14))
    top = torch.randint(0, 32, (5, 7)) if cond else None
    enc = encode_map(net, idx, top)
    assert torch.equal(decode_map(net, enc.words, 9, 14, top), idx)
    bits = 8 * len(words_to_bytes(enc.words))
    assert bits <= enc.ideal_bits * 1.001 + 64

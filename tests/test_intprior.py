"""The integer prior: the fast torch path against the numpy conformance reference, row for row,
and the pieces that make it exact (float32 guard, frequency policy, Triton kernel parity)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vqcodec.coding import intprior_ref
from vqcodec.coding.entropy import decode_tiles, encode_tiles
from vqcodec.coding.int_stepper import teacher_forced_bits
from vqcodec.coding.intprior import FREQ_TOTAL, IntPriorTorch, frequencies
from vqcodec.model.config import PriorConfig
from vqcodec.model.prior import PixelCNN
from vqcodec.model.quantize import calibrate, quantize_prior


def tiny_priors(seed: int = 0):
    torch.manual_seed(seed)
    top = PixelCNN(PriorConfig(codes=12, embed_dim=8, channels=16, layers=2)).eval()
    bottom = PixelCNN(PriorConfig(codes=20, embed_dim=8, channels=16, layers=2, cond_codes=12,
                                  cond_channels=8)).eval()  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    maps = [(torch.randint(0, 12, (6, 7), generator=gen), torch.randint(0, 20, (12, 14),
             generator=gen)) for _ in range(3)]  # fmt: skip
    q_top = quantize_prior(top, calibrate(top, [(t, None) for t, _ in maps]))
    q_bottom = quantize_prior(bottom, calibrate(bottom, [(b, t) for t, b in maps]))
    return q_top, q_bottom, maps


@pytest.fixture(scope="module")
def priors():
    return tiny_priors()


def stepper_rows(prior, tiles, conds):
    """Every frequency row of the lockstep schedule, placed at its tile position."""
    net = IntPriorTorch(prior)
    out = [np.zeros((*t.shape, prior.cfg.codes), np.int64) for t in tiles]

    def hook(front, freqs):
        for b in range(len(tiles)):
            mine = (front.tile == b).numpy()
            out[b][front.rows[mine].numpy(), front.cols[mine].numpy()] = freqs.long().numpy()[mine]

    encoded = encode_tiles(net, tiles, conds, hook)
    return out, encoded


def test_rows_equal_the_reference_for_tiles_of_several_shapes(priors):
    q_top, q_bottom, maps = priors
    top, bottom = maps[0]
    tiles_top = [top[:4, :4], top[:4, 4:], top[4:, :]]  # three shapes, in lockstep
    tiles_bottom = [bottom[:8, :8], bottom[:8, 8:], bottom[8:, :]]
    for prior, tiles, conds in ((q_top, tiles_top, None), (q_bottom, tiles_bottom, tiles_top)):
        rows, encoded = stepper_rows(prior, tiles, conds)
        for b, tile in enumerate(tiles):
            cond = None if conds is None else conds[b].numpy()
            expected = intprior_ref.frequency_rows(prior, tile.numpy(), cond)
            np.testing.assert_array_equal(rows[b], expected)
        shapes = [tuple(t.shape) for t in tiles]
        decoded = decode_tiles(IntPriorTorch(prior), [e.words for e in encoded], shapes, conds)
        assert all(torch.equal(d, t) for d, t in zip(decoded, tiles, strict=True))


def test_teacher_forced_pass_pays_the_coders_bits(priors):
    _, q_bottom, maps = priors
    top, bottom = maps[1]
    _, encoded = stepper_rows(q_bottom, [bottom], [top])
    bits = teacher_forced_bits(IntPriorTorch(q_bottom), [bottom], [top])
    assert bits == pytest.approx(encoded[0].ideal_bits, rel=1e-12)


def test_rows_stay_exact_when_float32_matmul_may_round(priors, monkeypatch):
    """Under a reduced-precision float32 matmul setting the fast path switches to float64."""
    q_top, _, maps = priors
    expected, _ = stepper_rows(q_top, [maps[2][0]], None)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        rows, _ = stepper_rows(q_top, [maps[2][0]], None)
    finally:
        torch.set_float32_matmul_precision(before)
    np.testing.assert_array_equal(rows[0], expected[0])


@pytest.mark.parametrize("seed", range(5))
def test_frequency_policy_matches_the_reference_on_hard_rows(priors, seed):
    """Ties at the maximum, huge gaps, one dominant symbol: each symbol >= 1, sum 2^23."""
    q_top, _, _ = priors
    rng = np.random.default_rng(seed)
    logits = rng.integers(-3000, 3000, size=(64, 257))
    logits[::3, 5] = logits[::3, 9] = logits[::3].max() + 10  # ties for the maximum
    logits[1::4] = 0  # a flat row
    logits[2::5, 17] = 10**6  # one certain symbol
    expected = intprior_ref.frequencies(logits, q_top["exp"])
    got = frequencies(torch.from_numpy(logits).float(), torch.from_numpy(q_top["exp"]).double())
    np.testing.assert_array_equal(got.long().numpy(), expected)
    assert (expected >= 1).all() and (expected.sum(axis=1) == FREQ_TOTAL).all()


def test_triton_gather_gemm_matches_the_torch_reference_under_the_interpreter():
    pytest.importorskip("triton")
    import os

    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("needs TRITON_INTERPRET=1 set before the kernel module is imported")
    from vqcodec.kernels._int_gemm_triton import gather_gemm_triton
    from vqcodec.kernels.int_gemm import gather_gemm_ref

    gen = torch.Generator().manual_seed(0)
    buf = torch.randint(-127, 128, (300, 40), generator=gen, dtype=torch.int8)
    taps = torch.randint(0, 300, (37, 5), generator=gen)
    weight = torch.randint(-127, 128, (5 * 40, 70), generator=gen, dtype=torch.int8)
    got = gather_gemm_triton(buf, taps, weight)
    assert got.dtype == torch.int32
    assert torch.equal(got.long(), gather_gemm_ref(buf, taps, weight.float()).long())

"""Triton kernel: the gather-GEMM step of the integer prior, with exact int8 x int8 -> int32 sums.

Each program owns BLOCK_N positions x BLOCK_CO output channels. For every kept tap it gathers the
positions' int8 activations (rows of the padded activation buffer named by the tap index) and
accumulates their product with that tap's int8 weight slice in int32 (`tl.dot` on integers): the
sum is exact, in any order, so a GPU computes the very integers the CPU and the numpy reference
do. No autotuning; fixed block sizes.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _gather_gemm_kernel(
    buf_ptr,
    idx_ptr,
    w_ptr,
    out_ptr,
    N,
    TAPS,
    CIN,
    COUT,
    BLOCK_N: tl.constexpr,
    BLOCK_CI: tl.constexpr,
    BLOCK_CO: tl.constexpr,
):
    p = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    co = tl.program_id(1) * BLOCK_CO + tl.arange(0, BLOCK_CO)
    p_ok = p < N
    co_ok = co < COUT
    acc = tl.zeros([BLOCK_N, BLOCK_CO], tl.int32)
    for t in range(TAPS):
        row = tl.load(idx_ptr + p * TAPS + t, mask=p_ok, other=0)
        for c0 in range(0, CIN, BLOCK_CI):
            ci = c0 + tl.arange(0, BLOCK_CI)
            ci_ok = ci < CIN
            a = tl.load(
                buf_ptr + row[:, None] * CIN + ci[None, :],
                mask=p_ok[:, None] & ci_ok[None, :],
                other=0,
            ).to(tl.int8)
            w = tl.load(
                w_ptr + (t * CIN + ci[:, None]) * COUT + co[None, :],
                mask=ci_ok[:, None] & co_ok[None, :],
                other=0,
            )
            acc += tl.dot(a, w, out_dtype=tl.int32)
    tl.store(out_ptr + p[:, None] * COUT + co[None, :], acc, mask=p_ok[:, None] & co_ok[None, :])


BLOCK_N, BLOCK_CI, BLOCK_CO = 32, 128, 128  # few, large instances: also fast interpreted


def gather_gemm_triton(
    buf: torch.Tensor, taps: torch.Tensor, weight_i8: torch.Tensor
) -> torch.Tensor:
    """buf (rows, CIN) int-valued float32, taps (n, TAPS) row indices, weight (TAPS * CIN, COUT)
    int8 -> (n, COUT) int32 exact sums."""
    n, ntaps = taps.shape
    cin = buf.shape[1]
    cout = weight_i8.shape[1]
    out = torch.empty(n, cout, dtype=torch.int32, device=buf.device)
    if n == 0:
        return out
    grid = (triton.cdiv(n, BLOCK_N), triton.cdiv(cout, BLOCK_CO))
    _gather_gemm_kernel[grid](
        buf.contiguous(),
        taps.contiguous(),
        weight_i8.contiguous(),
        out,
        n,
        ntaps,
        cin,
        cout,
        BLOCK_N=BLOCK_N,
        BLOCK_CI=BLOCK_CI,
        BLOCK_CO=BLOCK_CO,
    )
    return out

"""Triton kernel: a masked (causal) convolution that computes only the taps the mask keeps.

Implicit GEMM in channels-last layout: each program owns BLOCK_P output pixels x BLOCK_CO output
channels and accumulates, for every kept tap (dy, dx), the product of the shifted input tile
(BLOCK_P x BLOCK_CI, zero outside the image) with that tap's (CIN x COUT) weight slice. A 3 x 3
type-B mask keeps 5 of 9 taps, a 5 x 5 one 13 of 25: the dense convolution's multiplications by
zero are never done. fp32 accumulation, IEEE tl.dot, fixed block sizes (no autotuning).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _masked_conv_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    out_ptr,
    dy_ptr,
    dx_ptr,
    NPIX,
    H,
    W,
    CIN,
    COUT,
    TAPS,
    HAS_BIAS: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_CI: tl.constexpr,
    BLOCK_CO: tl.constexpr,
):
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)  # flat (b, y, x)
    co = tl.program_id(1) * BLOCK_CO + tl.arange(0, BLOCK_CO)
    p_ok = p < NPIX
    co_ok = co < COUT
    img = p // (H * W)
    y = (p // W) % H
    x = p % W
    acc = tl.zeros([BLOCK_P, BLOCK_CO], tl.float32)
    for t in range(TAPS):
        ys = y + tl.load(dy_ptr + t)
        xs = x + tl.load(dx_ptr + t)
        inside = p_ok & (ys >= 0) & (ys < H) & (xs >= 0) & (xs < W)
        base = ((img * H + ys) * W + xs) * CIN
        for c0 in range(0, CIN, BLOCK_CI):
            ci = c0 + tl.arange(0, BLOCK_CI)
            ci_ok = ci < CIN
            a = tl.load(
                x_ptr + base[:, None] + ci[None, :],
                mask=inside[:, None] & ci_ok[None, :],
                other=0.0,
            ).to(tl.float32)
            w = tl.load(
                w_ptr + (t * CIN + ci[:, None]) * COUT + co[None, :],
                mask=ci_ok[:, None] & co_ok[None, :],
                other=0.0,
            ).to(tl.float32)
            acc += tl.dot(a, w, input_precision="ieee")
    if HAS_BIAS:
        acc += tl.load(b_ptr + co, mask=co_ok, other=0.0).to(tl.float32)[None, :]
    tl.store(out_ptr + p[:, None] * COUT + co[None, :], acc, mask=p_ok[:, None] & co_ok[None, :])


BLOCK_P, BLOCK_CI, BLOCK_CO = 64, 32, 64


def masked_conv2d_triton(
    x: torch.Tensor,
    tap_weight: torch.Tensor,
    bias: torch.Tensor | None,
    taps: list[tuple[int, int]],
) -> torch.Tensor:
    """x (B, CIN, H, W), tap_weight (TAPS * CIN, COUT) -> (B, COUT, H, W) fp32 (channels-last)."""
    b, cin, h, w = x.shape
    cout = tap_weight.shape[1]
    x_nhwc = x.permute(0, 2, 3, 1).contiguous()
    out = torch.empty(b, h, w, cout, dtype=torch.float32, device=x.device)
    dy = torch.tensor([t[0] for t in taps], dtype=torch.int32, device=x.device)
    dx = torch.tensor([t[1] for t in taps], dtype=torch.int32, device=x.device)
    npix = b * h * w
    grid = (triton.cdiv(npix, BLOCK_P), triton.cdiv(cout, BLOCK_CO))
    _masked_conv_kernel[grid](
        x_nhwc,
        tap_weight.contiguous(),
        bias if bias is not None else tap_weight,
        out,
        dy,
        dx,
        npix,
        h,
        w,
        cin,
        cout,
        len(taps),
        HAS_BIAS=bias is not None,
        BLOCK_P=BLOCK_P,
        BLOCK_CI=BLOCK_CI,
        BLOCK_CO=BLOCK_CO,
    )
    return out.permute(0, 3, 1, 2)

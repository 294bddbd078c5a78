"""Triton kernel: fused squared distance + argmin over a codebook, never building N x K.

Each program takes BLOCK_N input rows, walks the codebook in BLOCK_K tiles (and D in BLOCK_D
slices), keeps a running (min distance, index) pair per row. Distances are ||c||^2 - 2 z.c in
fp32 (inputs of any float dtype are upcast after loading; tl.dot in IEEE fp32, not TF32).
Ties go to the lowest index: within a tile by taking the smallest index among equal minima,
across tiles by replacing only on a strictly smaller distance.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _vq_nearest_kernel(
    z_ptr,
    cb_ptr,
    cnorm_ptr,
    out_ptr,
    N,
    K,
    D,
    stride_z,
    stride_cb,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    best = tl.full([BLOCK_N], float("inf"), tl.float32)
    best_idx = tl.zeros([BLOCK_N], tl.int32)
    for k0 in range(0, K, BLOCK_K):
        cols = k0 + tl.arange(0, BLOCK_K)
        col_ok = cols < K
        acc = tl.zeros([BLOCK_N, BLOCK_K], tl.float32)
        for d0 in range(0, D, BLOCK_D):
            ds = d0 + tl.arange(0, BLOCK_D)
            d_ok = ds < D
            z = tl.load(
                z_ptr + rows[:, None] * stride_z + ds[None, :],
                mask=row_ok[:, None] & d_ok[None, :],
                other=0.0,
            ).to(tl.float32)
            c = tl.load(
                cb_ptr + cols[:, None] * stride_cb + ds[None, :],
                mask=col_ok[:, None] & d_ok[None, :],
                other=0.0,
            ).to(tl.float32)
            acc += tl.dot(z, tl.trans(c), input_precision="ieee")
        cnorm = tl.load(cnorm_ptr + cols, mask=col_ok, other=float("inf"))
        dist = cnorm[None, :] - 2.0 * acc
        tile_min = tl.min(dist, axis=1)
        candidates = tl.where(dist == tile_min[:, None], cols[None, :], K)
        tile_idx = tl.min(candidates, axis=1)
        better = tile_min < best
        best = tl.where(better, tile_min, best)
        best_idx = tl.where(better, tile_idx, best_idx)
    tl.store(out_ptr + rows, best_idx, mask=row_ok)


BLOCK_N, BLOCK_K, BLOCK_D = 64, 64, 32  # fixed launch configuration (no autotuning)


def vq_nearest_triton(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, D) x (K, D) -> (N,) int64; O(N) extra memory."""
    z = z.contiguous()
    codebook = codebook.contiguous()
    n, d = z.shape
    k = codebook.shape[0]
    cnorm = codebook.float().pow(2).sum(1).contiguous()
    out = torch.empty(n, dtype=torch.int32, device=z.device)
    if n == 0:
        return out.long()
    grid = (triton.cdiv(n, BLOCK_N),)
    _vq_nearest_kernel[grid](
        z,
        codebook,
        cnorm,
        out,
        n,
        k,
        d,
        z.stride(0),
        codebook.stride(0),
        BLOCK_N=BLOCK_N,
        BLOCK_K=BLOCK_K,
        BLOCK_D=BLOCK_D,
    )
    return out.long()

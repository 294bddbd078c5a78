"""Nearest-codeword search: index of the closest codebook row for every input vector."""

from __future__ import annotations

import torch

from vqcodec.kernels.backend import use_triton

# Rows per chunk of the reference: bounds the N x K distance block it materializes.
_CHUNK_ROWS = 8192


def vq_nearest_ref(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Torch reference: argmin_k ||z_n - c_k||^2, ties to the lowest index.

    z: (N, D), codebook: (K, D) -> (N,) int64. Uses ||c||^2 - 2 z.c (||z||^2 does not change the
    argmin) in fp32, in chunks of rows so memory stays O(chunk * K).
    """
    if z.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=z.device)
    z = z.float()
    codebook = codebook.float()
    c_sq = codebook.pow(2).sum(1)  # (K,)
    out = torch.empty(z.shape[0], dtype=torch.long, device=z.device)
    for start in range(0, z.shape[0], _CHUNK_ROWS):
        block = z[start : start + _CHUNK_ROWS]
        dist = torch.addmm(c_sq.unsqueeze(0), block, codebook.t(), alpha=-2.0)  # (n, K)
        out[start : start + _CHUNK_ROWS] = dist.argmin(1)
    return out


def vq_nearest(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Dispatcher used by the VQ layer in training and encoding (policy: kernels.backend)."""
    if use_triton(z):
        from vqcodec.kernels._vq_nearest_triton import vq_nearest_triton

        return vq_nearest_triton(z, codebook)
    return vq_nearest_ref(z, codebook)

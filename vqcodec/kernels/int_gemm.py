"""The integer prior's gather-GEMM: torch reference and dispatcher (Triton on CUDA or when forced).

out[p] = sum over taps t of buf[taps[p, t]] @ W[t]: the masked layer of `vqcodec.int_stepper` at
one wavefront. The torch form multiplies integer-valued floats (exact below 2^24 in float32, 2^53
in float64, as `vqcodec.intprior` checks per layer); the Triton form multiplies int8 into int32.
Both give the same integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vqcodec.kernels.backend import use_triton

if TYPE_CHECKING:
    from vqcodec.intprior import TorchLinear


def gather_gemm_ref(buf: torch.Tensor, taps: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Torch reference: gather the tap rows, one GEMM in the weight's (exact) dtype -> int64."""
    x = buf.index_select(0, taps.reshape(-1)).view(taps.shape[0], -1)
    return (x.to(weight.dtype) @ weight).to(torch.int64)


def gather_gemm(buf: torch.Tensor, taps: torch.Tensor, lin: TorchLinear) -> torch.Tensor:
    """int64 (n, COUT) accumulators of the layer `lin` at the gathered positions."""
    if use_triton(buf):
        from vqcodec.kernels._int_gemm_triton import gather_gemm_triton

        w8 = lin.weight.to(torch.int8)
        return gather_gemm_triton(buf, taps, w8).to(torch.int64)
    return gather_gemm_ref(buf, taps, lin.weight)

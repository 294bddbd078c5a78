"""The integer prior's masked layer at one wavefront: the gather-GEMM, torch and Triton forms.

out[p] = requant(sum over taps t of buf[taps[p, t]] @ W[t]): the masked layers of
`vqcodec.coding.int_stepper`. The torch form multiplies integer-valued floats (exact below 2^24 in
float32, 2^53 in float64, as `vqcodec.coding.intprior` checks per layer); the Triton form multiplies
int8 into int32. Both give the same integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vqcodec.kernels.backend import use_triton

if TYPE_CHECKING:
    from vqcodec.coding.intprior import TorchLinear


def gather_gemm_ref(buf: torch.Tensor, taps: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Torch reference of the kernel: gather the int8 tap rows, one GEMM in the weight's dtype."""
    x = buf.index_select(0, taps.reshape(-1)).view(taps.shape[0], -1)
    return x.to(weight.dtype) @ weight


def masked_layer(buf: torch.Tensor, taps: torch.Tensor, lin: TorchLinear) -> torch.Tensor:
    """The requantized output (n, COUT) of layer `lin` at the gathered positions of the int8
    buffer: Triton's kernel on CUDA (or when forced), else one torch addmm."""
    if use_triton(buf):
        from vqcodec.kernels._int_gemm_triton import gather_gemm_triton

        return lin.requant(gather_gemm_triton(buf, taps, lin.weight_i8))
    x = buf.index_select(0, taps.reshape(-1)).view(taps.shape[0], -1)
    return lin.apply(x)

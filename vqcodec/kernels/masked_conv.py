"""Masked (causal) convolution: the torch reference, and the dispatcher the priors use."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vqcodec.kernels.backend import use_triton


def kept_taps(mask: torch.Tensor) -> list[tuple[int, int]]:
    """(dy, dx) offsets from the kernel centre of the mask's non-zero entries, row-major."""
    c = mask.shape[0] // 2
    return [(int(y) - c, int(x) - c) for y, x in mask.nonzero().tolist()]


def tap_matrix(weight: torch.Tensor, taps: list[tuple[int, int]]) -> torch.Tensor:
    """(COUT, CIN, k, k) -> (TAPS * CIN, COUT): row (t, ci) holds weight[:, ci, tap t]."""
    c = weight.shape[-1] // 2
    rows = [weight[:, :, c + dy, c + dx] for dy, dx in taps]  # (COUT, CIN) each
    return torch.stack(rows, 0).transpose(1, 2).reshape(-1, weight.shape[0])


def masked_conv2d_ref(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor
) -> torch.Tensor:
    """Torch reference: a dense 'same' convolution with the masked-out weights zeroed."""
    return F.conv2d(x, weight * mask, bias, padding=weight.shape[-1] // 2)


class _MaskedConvTriton(torch.autograd.Function):
    """Forward: the Triton kernel. Backward: torch's convolution gradients with the masked
    weight (documented choice: the backward is not the hot path of coding)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mask):  # type: ignore[override]
        from vqcodec.kernels._masked_conv_triton import masked_conv2d_triton

        taps = kept_taps(mask)
        ctx.save_for_backward(x, weight, mask)
        ctx.has_bias = bias is not None
        return masked_conv2d_triton(x, tap_matrix(weight, taps), bias, taps)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, weight, mask = ctx.saved_tensors
        pad = weight.shape[-1] // 2
        grad = grad.contiguous()
        gx = torch.nn.grad.conv2d_input(x.shape, weight * mask, grad, padding=pad)
        gw = torch.nn.grad.conv2d_weight(x, weight.shape, grad, padding=pad) * mask
        gb = grad.sum((0, 2, 3)) if ctx.has_bias else None
        return gx, gw, gb, None


def masked_conv2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor
) -> torch.Tensor:
    """Dispatcher: Triton kernel on CUDA (or when forced), torch reference otherwise."""
    if use_triton(x):
        return _MaskedConvTriton.apply(x, weight, bias, mask)
    return masked_conv2d_ref(x, weight, bias, mask)

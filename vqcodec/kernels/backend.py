"""Kernel backend choice: VQCODEC_KERNELS=auto|torch|triton (or `set_backend`, the CLI's --kernels).

auto: Triton for CUDA tensors when triton imports, torch otherwise (silent fallback).
torch: always the torch reference.
triton: always Triton; a clear KernelUnavailableError when it cannot run (no triton, or a CPU
tensor without TRITON_INTERPRET=1). Nothing here touches CUDA or triton at import time.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache

import torch

from vqcodec.errors import VQCodecError

BACKENDS = ("auto", "torch", "triton")
_override: str | None = None


class KernelUnavailableError(VQCodecError):
    """An explicit request for Triton kernels that cannot be met on this machine."""


def set_backend(name: str | None) -> None:
    """Force a backend for this process (None: back to $VQCODEC_KERNELS / auto)."""
    if name is not None and name not in BACKENDS:
        raise ValueError(f"unknown kernel backend {name!r}; choose from {', '.join(BACKENDS)}")
    global _override
    _override = name


def requested() -> str:
    name = _override or os.environ.get("VQCODEC_KERNELS", "auto")
    if name not in BACKENDS:
        raise KernelUnavailableError(
            f"VQCODEC_KERNELS={name!r} is not one of {', '.join(BACKENDS)}"
        )
    return name


@cache
def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def use_triton(tensor: torch.Tensor) -> bool:
    """Whether the op on `tensor` should run the Triton kernel."""
    choice = requested()
    if choice == "torch":
        return False
    runnable = triton_installed() and (tensor.is_cuda or interpreting())
    if choice == "triton" and not runnable:
        why = "triton is not installed" if not triton_installed() else "the tensor is on the CPU"
        raise KernelUnavailableError(
            f"Triton kernels were requested but cannot run: {why} "
            "(use a CUDA device, set TRITON_INTERPRET=1, or --kernels torch)"
        )
    return runnable and (choice == "triton" or tensor.is_cuda)

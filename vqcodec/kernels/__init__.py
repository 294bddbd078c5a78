"""Compute kernels: a torch reference for every op, and a Triton kernel used on CUDA.

One file per op: `<op>.py` holds `<op>_ref` (torch) and the `<op>` dispatcher;
`_<op>_triton.py` holds the kernel. Importing this package never imports triton: the kernel
modules load lazily, only when the dispatcher picks them (see `backend`).
"""

from vqcodec.kernels.backend import KernelUnavailableError, set_backend
from vqcodec.kernels.masked_conv import masked_conv2d, masked_conv2d_ref
from vqcodec.kernels.vq_nearest import vq_nearest, vq_nearest_ref

__all__ = [
    "KernelUnavailableError",
    "masked_conv2d",
    "masked_conv2d_ref",
    "set_backend",
    "vq_nearest",
    "vq_nearest_ref",
]

"""Compute kernels: a torch reference for every op, and a Triton kernel used on CUDA.

Importing this package never imports triton; the Triton modules are loaded lazily by the
dispatchers, and only when a CUDA tensor asks for them.
"""

from vqcodec.kernels.vq_nearest import vq_nearest, vq_nearest_ref

__all__ = ["vq_nearest", "vq_nearest_ref"]

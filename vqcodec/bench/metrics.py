"""Distortion measures shared by the codec's rate search and the benchmarks."""

from __future__ import annotations

import math

import numpy as np


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all RGB samples of two uint8 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)

"""Rate-aware index choice (entropy-constrained VQ) at encode time.

The nearest codeword is the cheapest in distortion, not in bits. Wavefront by wavefront, the
encoder knows the probability the integer prior gives every codeword at every position (the
prior only reads earlier positions), so it can pick

    k = argmin_k  |z - e_k|^2 / s  +  rate_weight * (-log2 p_k)

where z is the encoder's latent, e_k the codewords and s the mean squared distance from a latent
to its nearest codeword over the map (so `rate_weight` is in units of "mean quantization error
per bit" and means about the same for every model and level). The decoder is unchanged: it
decodes whatever indices were coded. rate_weight = 0 is the nearest codeword (up to ties).
[Chou, Lookabaugh and Gray, "Entropy-constrained vector quantization", 1989; NVTC (Feng et al.,
CVPR 2023) chooses indices this way.]
"""

from __future__ import annotations

import torch

from vqcodec.coding.int_stepper import Front
from vqcodec.coding.intprior import FREQ_BITS


def nearest_error(latents: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, D) latents -> (N,) squared distance to the nearest codeword."""
    return torch.cdist(latents, codebook).amin(1).square()


class RateAwareChoice:
    """The encoder's choice of indices at each front, from the latents of one tile group."""

    def __init__(
        self, latents: torch.Tensor, codebook: torch.Tensor, rate_weight: float, scale: float
    ) -> None:
        """`latents`: (N, D) in the tile group's plain order; `scale`: the distance unit."""
        self.latents = latents
        self.codebook_t = codebook.t().contiguous()
        self.codebook_sq = codebook.square().sum(1)
        self.bit_cost = rate_weight * scale  # |z - e|^2 per bit

    def __call__(self, front: Front, freqs: torch.Tensor) -> torch.Tensor:
        """Frequency rows (n, K) of the front -> the (n,) chosen indices."""
        z = self.latents[front.plain]
        # |z - e|^2 up to |z|^2, the same for every k
        cost = torch.addmm(self.codebook_sq[None], z, self.codebook_t, alpha=-2.0)
        if self.bit_cost:
            bits = FREQ_BITS - freqs.to(torch.float32).log2()
            cost.add_(bits, alpha=self.bit_cost)
        return cost.argmin(1)


class RateAware:
    """Rate-aware choice over one whole map: its latents (H, W, D) and codebook."""

    def __init__(self, latents: torch.Tensor, codebook: torch.Tensor, rate_weight: float) -> None:
        self.latents, self.codebook, self.rate_weight = latents, codebook, rate_weight
        flat = latents.reshape(-1, latents.shape[-1])
        self.scale = max(float(nearest_error(flat, codebook).mean()), 1e-12)

    def choice(self, rects: list[tuple[int, int, int, int]]) -> RateAwareChoice:
        """The choice for a group of tiles (their rects (r0, r1, c0, c1) in the map)."""
        d = self.latents.shape[-1]
        part = torch.cat([self.latents[r0:r1, c0:c1].reshape(-1, d) for r0, r1, c0, c1 in rects])
        return RateAwareChoice(part, self.codebook, self.rate_weight, self.scale)

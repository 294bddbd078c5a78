"""Entropy-coding tiles: the code maps cut into independent rectangles (format 2).

A tile is a square of `tile` codes of the coarsest map (and of `tile * 2^k` codes of map k, the
maps being listed coarsest first, each twice the size of the one before). Each tile of each map is
range-coded on its own, with a prior that sees only that tile (its border is a map border, zero
padded), and the prior of map k is conditioned on the same tile of map k - 1. So tiles decode
independently: in parallel, in bounded memory. Tile 0 means one tile covering the whole maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Rect = tuple[int, int, int, int]  # rows [r0, r1), cols [c0, c1)


@dataclass(frozen=True)
class TileGrid:
    coarse_shape: tuple[int, int]  # (H, W) of the coarsest map
    levels: int  # number of maps
    tile: int  # coarsest-map codes per tile side; 0 = a single tile

    def _edges(self, length: int) -> list[tuple[int, int]]:
        step = self.tile or length
        return [(a, min(a + step, length)) for a in range(0, length, step)]

    def rects(self) -> list[list[Rect]]:
        """For each tile (raster order), its rectangle in each map (coarsest first)."""
        h, w = self.coarse_shape
        out = []
        for r0, r1 in self._edges(h):
            for c0, c1 in self._edges(w):
                out.append([(r0 << k, r1 << k, c0 << k, c1 << k) for k in range(self.levels)])
        return out

    def __len__(self) -> int:
        return len(self._edges(self.coarse_shape[0])) * len(self._edges(self.coarse_shape[1]))


def crop(m: torch.Tensor, rect: Rect) -> torch.Tensor:
    r0, r1, c0, c1 = rect
    return m[r0:r1, c0:c1]

"""Entropy-coding tiles: the code maps cut into independent rectangles (format 2).

A tile is a square of `tile` codes of the coarsest map (and of `tile * 2^k` codes of map k, the
maps being listed coarsest first, each twice the size of the one before). Each tile of each map is
range-coded on its own, with a prior that sees only that tile (its border is a map border, zero
padded), and the prior of map k is conditioned on the same tile of map k - 1. So tiles decode
independently: in parallel, in bounded memory. Tile 0 means one tile covering the whole maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vqcodec.format.bitstream import MAX_TILE_CODES

if TYPE_CHECKING:
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


def map_sizes(width: int, height: int, stride: int, levels: int = 2) -> list[tuple[int, int]]:
    """(H, W) of every code map, coarsest first, for an image of the given original size; map
    k has stride `stride * 2^(levels - 1 - k)`."""
    coarse = stride << (levels - 1)
    top_h, top_w = -(-height // coarse), -(-width // coarse)
    return [(top_h << k, top_w << k) for k in range(levels)]


def tiling_problem(
    shapes: list[tuple[int, int]], tile: int, tiles: int | None = None
) -> str | None:
    """Why maps of these shapes cannot be coded in tiles of `tile` codes (and, given, in
    `tiles` tiles), or None: every tile's finest map holds at most MAX_TILE_CODES codes, so the
    prior's memory is bounded whatever tiling a file claims. Checked before any decoding."""
    grid = TileGrid(shapes[0], len(shapes), tile)
    h, w = shapes[-1]
    side = tile << (len(shapes) - 1)
    biggest = min(h, side) * min(w, side) if tile else h * w
    if biggest > MAX_TILE_CODES:
        return (
            f"a tile of {biggest} codes (at most {MAX_TILE_CODES}; "
            f"tiles of {tile or 'one'} for maps of {w}x{h})"
        )
    if tiles is not None and tiles != len(grid):
        return f"{tiles} tiles where its size and tiling make {len(grid)}"
    return None


def crop(m: torch.Tensor, rect: Rect) -> torch.Tensor:
    r0, r1, c0, c1 = rect
    return m[r0:r1, c0:c1]

"""Fast evaluation of the integer prior: several tiles in lockstep, one wavefront at a time.

Every tile is an independent map with its own zero-padded activation buffers (like
`vqcodec.prior.PixelCNNStepper`); all tiles walk their own wavefront schedule, and step t
computes wavefront t of every tile in one gather + GEMM per layer. Results do not depend on how
tiles are grouped: the arithmetic is exact integer arithmetic (`vqcodec.intprior`), so batching,
thread count and instruction set cannot change a single value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vqcodec.intprior import PRE_MAX, PRE_MIN, IntPriorTorch, frequencies, gelu_table
from vqcodec.kernels.int_gemm import gather_gemm


@dataclass(frozen=True)
class Front:
    """The positions of one lockstep step, ordered by tile, then row."""

    tile: torch.Tensor  # (n,) tile number
    rows: torch.Tensor  # (n,) row within the tile
    cols: torch.Tensor  # (n,) column within the tile
    at: torch.Tensor  # (n,) index in the padded activation buffers
    taps_a: torch.Tensor  # (n, taps of mask A) buffer indices the first layer reads
    taps_b: torch.Tensor  # (n, taps of mask B) buffer indices the residual layers read
    plain: torch.Tensor  # (n,) row in the conditioning features (tile-major raster order)
    counts: list[int]  # positions per tile, in tile order (zeros included)


class TileLayout:
    """Where each tile's positions live in the shared padded buffers and conditioning rows."""

    def __init__(self, shapes: list[tuple[int, int]], reach: int, taps_a, taps_b) -> None:
        self.shapes, self.r = shapes, reach
        self.taps_a, self.taps_b = taps_a, taps_b
        widths = [w + 2 * reach for _, w in shapes]
        sizes = [(h + reach) * wp for (h, _), wp in zip(shapes, widths, strict=True)]
        self.padded_width = torch.tensor(widths)
        self.base = torch.tensor([0, *sizes[:-1]]).cumsum(0)
        self.size = sum(sizes)
        plains = [h * w for h, w in shapes]
        self.plain_base = torch.tensor([0, *plains[:-1]]).cumsum(0)
        self.plain_size = sum(plains)

    def front(self, tile: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> Front:
        r = self.r
        wp = self.padded_width[tile]
        at = self.base[tile] + (rows + r) * wp + cols + r

        def taps(offsets) -> torch.Tensor:
            dy = torch.tensor([o[0] for o in offsets])
            dx = torch.tensor([o[1] for o in offsets])
            return at[:, None] + dy[None, :] * wp[:, None] + dx[None, :]

        widths = torch.tensor([w for _, w in self.shapes])
        plain = self.plain_base[tile] + rows * widths[tile] + cols
        counts = torch.bincount(tile, minlength=len(self.shapes)).tolist()
        return Front(tile, rows, cols, at, taps(self.taps_a), taps(self.taps_b), plain, counts)

    def lockstep(self, slope: int) -> list[Front]:
        """The steps of the wavefront schedule run on all tiles at once: step t holds wavefront t
        (positions with col + slope * row = t) of every tile."""
        parts = []
        for b, (h, w) in enumerate(self.shapes):
            rows = torch.arange(h).repeat_interleave(w)
            cols = torch.arange(w).repeat(h)
            parts.append((torch.full_like(rows, b), rows, cols))
        tile, rows, cols = (torch.cat(p) for p in zip(*parts, strict=True))
        t = cols + slope * rows
        order = torch.argsort((t * len(self.shapes) + tile) * (max(h for h, _ in self.shapes) + 1)
                              + rows)  # fmt: skip
        tile, rows, cols, t = tile[order], rows[order], cols[order], t[order]
        counts = torch.bincount(t).tolist()
        fronts = zip(tile.split(counts), rows.split(counts), cols.split(counts), strict=True)
        return [self.front(*f) for f in fronts if len(f[0])]

    def everything(self) -> Front:
        """All positions of all tiles as one step: the teacher-forced pass (symbols known)."""
        parts = [
            (
                torch.full((h * w,), b),
                torch.arange(h).repeat_interleave(w),
                torch.arange(w).repeat(h),
            )
            for b, (h, w) in enumerate(self.shapes)
        ]
        return self.front(*(torch.cat(p) for p in zip(*parts, strict=True)))


class IntStepper:
    """Cached evaluation of an `IntPriorTorch` over tiles; `step(front)` -> int64 frequency rows."""

    def __init__(
        self,
        net: IntPriorTorch,
        shapes: list[tuple[int, int]],
        conds: list[torch.Tensor] | None = None,
    ) -> None:
        cfg = net.cfg
        self.net, self.cfg = net, cfg
        self.layout = TileLayout(shapes, cfg.reach, net.taps_a, net.taps_b)
        dev = net.device
        self.emb_buf = torch.zeros(self.layout.size, cfg.embed_dim, device=dev)
        self.act_bufs = [
            torch.zeros(self.layout.size, cfg.channels, device=dev) for _ in range(cfg.layers)
        ]
        self.cond: list[torch.Tensor] | None = None
        if cfg.cond_codes:
            if conds is None:
                raise ValueError("the conditional prior needs the coarser map of every tile")
            per_tile = [net.condition(c, h, w) for c, (h, w) in zip(conds, shapes, strict=True)]
            self.cond = [torch.cat(parts) for parts in zip(*per_tile, strict=True)]

    def fronts(self) -> list[Front]:
        return self.layout.lockstep(self.cfg.reach + 1)

    def set_symbols(self, front: Front, symbols: torch.Tensor) -> None:
        """Make decoded (or known) symbols visible to later steps."""
        self.emb_buf.index_copy_(0, front.at.to(self.net.device), self.net.embed[symbols])

    @torch.no_grad()
    def logits(self, front: Front) -> torch.Tensor:
        lin, lut, dev = self.net.lin, self.net.lut, self.net.device
        at, plain = front.at.to(dev), front.plain.to(dev)
        taps_b = front.taps_b.to(dev)

        def cond(layer: int) -> torch.Tensor | int:
            return 0 if self.cond is None else self.cond[layer].index_select(0, plain)

        x = lin["first"].requant(gather_gemm(self.emb_buf, front.taps_a.to(dev), lin["first"]))
        x = (x + cond(0)).clamp_(PRE_MIN, PRE_MAX)
        for layer, buf in enumerate(self.act_bufs):
            buf.index_copy_(0, at, gelu_table(x, lut[f"lut.conv{layer}"]))
            h = lin[f"conv{layer}"].requant(gather_gemm(buf, taps_b, lin[f"conv{layer}"]))
            g = gelu_table((h + cond(layer + 1)).clamp_(PRE_MIN, PRE_MAX), lut[f"lut.mix{layer}"])
            x = (x + lin[f"mix{layer}"].apply(g)).clamp_(PRE_MIN, PRE_MAX)
        y = lin["head1"].apply(gelu_table(x, lut["lut.head1"])).clamp_(PRE_MIN, PRE_MAX)
        return lin["head2"].apply(gelu_table(y, lut["lut.head2"]))

    def step(self, front: Front) -> torch.Tensor:
        """int64 frequency rows (n, K) at the front's positions (each sums to 2^23)."""
        return frequencies(self.logits(front), self.net.exp)

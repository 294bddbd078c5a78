"""Fast evaluation of the integer prior: several tiles in lockstep, one wavefront at a time.

Every tile is an independent map with its own zero-padded activation buffers (like
`vqcodec.model.prior.PixelCNNStepper`); all tiles walk their own wavefront schedule, and step t
computes wavefront t of every tile in one gather + GEMM per layer. Results do not depend on how
tiles are grouped: the arithmetic is exact integer arithmetic (`coding.intprior`), so batching,
thread count and instruction set cannot change a single value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from vqcodec.coding.intprior import (
    FREQ_BITS,
    TABLE_OFFSET,
    U_MAX,
    U_MIN,
    IntPriorTorch,
    frequencies,
    gelu_table,
)
from vqcodec.kernels.int_gemm import masked_layer


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
    start: int = 0  # where the front's positions begin in its schedule's order


HEAD_CHUNK_VALUES = 1 << 21  # teacher-forced frequency rows per block, in values (16 MB)


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

    def _positions(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tile, row, col) of every position, tile-major raster order (the plain order)."""
        parts = [
            (
                torch.full((h * w,), b),
                torch.arange(h).repeat_interleave(w),
                torch.arange(w).repeat(h),
            )
            for b, (h, w) in enumerate(self.shapes)
        ]
        tile, rows, cols = (torch.cat(p) for p in zip(*parts, strict=True))
        return tile, rows, cols

    def lockstep(self, slope: int) -> list[Front]:
        """The steps of the wavefront schedule run on all tiles at once: step t holds wavefront t
        (positions with col + slope * row = t) of every tile, by tile, then row."""
        tile, rows, cols = self._positions()
        t = cols + slope * rows
        tallest = max(h for h, _ in self.shapes)
        order = torch.argsort((t * len(self.shapes) + tile) * (tallest + 1) + rows)
        tile, rows, cols, t = tile[order], rows[order], cols[order], t[order]
        counts = torch.bincount(t).tolist()
        fronts = zip(tile.split(counts), rows.split(counts), cols.split(counts), strict=True)
        out, start = [], 0
        for f in fronts:
            if len(f[0]):
                out.append(replace(self.front(*f), start=start))
                start += len(f[0])
        return out

    def everything(self) -> Front:
        """All positions of all tiles as one step: the teacher-forced pass (symbols known)."""
        return self.front(*self._positions())


def _conditions(
    net: IntPriorTorch,
    conds: list[torch.Tensor],
    shapes: list[tuple[int, int]],
    order: torch.Tensor,
) -> list[torch.Tensor]:
    """Per-layer conditioning rows of all tiles, in the order `order` of the layout's plain rows
    (tile-major). Tiles of one shape share a batch of the conditioning network; the rows are put
    in order before the last layer, which has the fewest channels to move."""
    per_tile: list[torch.Tensor | None] = [None] * len(shapes)
    by_shape: dict[tuple, list[int]] = {}
    for b, (cond, shape) in enumerate(zip(conds, shapes, strict=True)):
        by_shape.setdefault((tuple(cond.shape), shape), []).append(b)
    for (_, (h, w)), tiles in by_shape.items():
        hidden = net.cond_hidden(torch.stack([conds[b] for b in tiles]), h, w)
        for i, b in enumerate(tiles):
            per_tile[b] = hidden[i]
    return net.cond_out(torch.cat(per_tile).index_select(0, order))


class IntStepper:
    """Cached evaluation of an `IntPriorTorch` over tiles; `step(front)` -> frequency rows.

    Runs under torch.inference_mode (measured: half the per-op overhead of no_grad on the small
    tensors of one wavefront)."""

    @torch.inference_mode()
    def __init__(
        self,
        net: IntPriorTorch,
        shapes: list[tuple[int, int]],
        conds: list[torch.Tensor] | None = None,
        teacher_forced: bool = False,
    ) -> None:
        """`conds`: for a conditional prior, the same tile of the coarser map, for each tile."""
        cfg = net.cfg
        self.net, self.cfg = net, cfg
        self.layout = TileLayout(shapes, cfg.reach, net.taps_a, net.taps_b)
        # the schedule: the lockstep wavefronts, or one step over everything (symbols known)
        self.schedule = (
            [self.layout.everything()] if teacher_forced else self.layout.lockstep(cfg.reach + 1)
        )
        dev = net.device
        size, i8 = self.layout.size, torch.int8
        self.emb_buf = torch.zeros(size, cfg.embed_dim, dtype=i8, device=dev)
        self.act_bufs = [
            torch.zeros(size, cfg.channels, dtype=i8, device=dev) for _ in range(cfg.layers)
        ]
        names = [(f"conv{i}", f"mix{i}", f"lut.conv{i}", f"lut.mix{i}") for i in range(cfg.layers)]
        self.blocks = [
            (net.lin[c], net.lin[m], net.lut[lc], net.lut[lm], buf)
            for (c, m, lc, lm), buf in zip(names, self.act_bufs, strict=True)
        ]
        self.cond: list[torch.Tensor] | None = None
        if cfg.cond_codes:
            if conds is None:
                raise ValueError("the conditional prior needs the coarser map of every tile")
            # conditioning rows in schedule order: each step adds a contiguous slice
            order = torch.cat([f.plain for f in self.schedule]).to(dev)
            self.cond = _conditions(net, conds, shapes, order)

    @torch.inference_mode()
    def set_symbols(self, front: Front, symbols: torch.Tensor) -> None:
        """Make decoded (or known) symbols visible to later steps."""
        self.emb_buf.index_copy_(0, front.at.to(self.net.device), self.net.embed[symbols])

    @torch.inference_mode()
    def trunk(self, front: Front) -> torch.Tensor:
        """The residual stream (n, C) after the last masked layer at the front's positions.
        Pre-activations are carried in the offset form u = v + 2^15 of `vqcodec.coding.intprior`
        (clamped to [0, 2^16))."""
        lin, dev = self.net.lin, self.net.device
        at, taps_b = front.at.to(dev), front.taps_b.to(dev)
        cond = [None] * (self.cfg.layers + 1) if self.cond is None else self.cond
        span = slice(front.start, front.start + len(front.at))

        def plus_cond(x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
            """+ the conditioning rows, which carry the table offset (or just the offset)."""
            return x.add_(TABLE_OFFSET) if rows is None else x.add_(rows[span])

        u = masked_layer(self.emb_buf, front.taps_a.to(dev), lin["first"])
        u = plus_cond(u, cond[0]).clamp_(U_MIN, U_MAX)
        for (conv, mix, lut_conv, lut_mix, buf), c in zip(self.blocks, cond[1:], strict=True):
            buf.index_copy_(0, at, gelu_table(u, lut_conv))
            h = plus_cond(masked_layer(buf, taps_b, conv), c).clamp_(U_MIN, U_MAX)
            u = u.add_(mix.apply(gelu_table(h, lut_mix))).clamp_(U_MIN, U_MAX)
        return u

    def head(self, u: torch.Tensor) -> torch.Tensor:
        """Residual stream rows (n, C) -> frequency rows (n, K), integer-valued float64, each
        summing to 2^23. Position by position: rows may be taken in any chunks."""
        lin, lut = self.net.lin, self.net.lut
        y = lin["head1"].apply(gelu_table(u, lut["lut.head1"])).add_(TABLE_OFFSET)
        y = y.clamp_(U_MIN, U_MAX)
        return frequencies(lin["head2"].apply(gelu_table(y, lut["lut.head2"])), self.net.exp)

    @torch.inference_mode()
    def step(self, front: Front) -> torch.Tensor:
        """Frequency rows (n, K) at the front's positions."""
        return self.head(self.trunk(front))


@torch.inference_mode()
def teacher_forced_bits(
    net: IntPriorTorch,
    tiles: list[torch.Tensor],
    conds: list[torch.Tensor] | None = None,
) -> float:
    """-sum log2 p of the (h, w) index maps `tiles` under the integer prior, every position in
    one pass (the rate the range coder pays, up to its own overhead)."""
    shapes = [tuple(t.shape) for t in tiles]
    stepper = IntStepper(net, shapes, conds, teacher_forced=True)
    (front,) = stepper.schedule
    symbols = torch.cat([t.reshape(-1) for t in tiles])[front.plain]
    stepper.set_symbols(front, symbols)
    u, symbols = stepper.trunk(front), symbols.to(net.device)
    rows = max(1, HEAD_CHUNK_VALUES // net.cfg.codes)  # (rows, K) float64 blocks stay small
    bits = 0.0
    for a in range(0, len(symbols), rows):
        chosen = stepper.head(u[a : a + rows]).gather(1, symbols[a : a + rows, None])[:, 0]
        bits += FREQ_BITS * len(chosen) - float(chosen.log2().sum())
    return bits

"""The wavefront schedule: which positions of an (H, W) map are coded together, in what order.

A prior layer at (i, j) reads positions left of j in row i and columns up to j + r in the rows
above. With slope s = r + 1, the wavefront index t(i, j) = j + s * i of every such neighbour is
smaller than t(i, j), so all positions sharing one t can be computed (and range-coded) together
once the earlier wavefronts are done: W + s * (H - 1) sequential steps instead of H * W.
Encoder and decoder both walk this exact order; it is part of the file format.
"""

from __future__ import annotations

import torch


def wavefronts(height: int, width: int, reach: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """[(rows, cols) of wavefront t] for t = 0, 1, ...; within a wavefront rows ascend.

    Empty wavefronts (maps narrower than the slope) are left out; the order is unchanged.
    """
    slope = reach + 1
    rows = torch.arange(height).repeat_interleave(width)
    cols = torch.arange(width).repeat(height)
    t = cols + slope * rows
    order = torch.argsort(t * height + rows)  # by wavefront, then row; keys are unique
    rows, cols, t = rows[order], cols[order], t[order]
    counts = torch.bincount(t).tolist()
    fronts = zip(rows.split(counts), cols.split(counts), strict=True)
    return [(r, c) for r, c in fronts if len(r)]


def num_steps(height: int, width: int, reach: int) -> int:
    """Sequential steps of the schedule (an upper bound when width <= reach)."""
    return width + (reach + 1) * (height - 1)

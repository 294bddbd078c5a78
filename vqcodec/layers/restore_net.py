"""A small restoration CNN for the decoded image after the refinement (issue 21, lever 1).

The refinement's quantization leaves 8x8 block edges, ringing and the synthesis network's
texture errors; the per-image Wiener filter (`layers.restore`) removes what a 5x5 linear filter
can. A nonlinear network trained on the codec's own output can do more, and the per-image filter
still fits on top of its output. The network:

- works at half resolution (pixel unshuffle 2x: 12 channels), so a few 3x3 convs of `channels`
  features cost about `MACs per pixel` = (16*C + (L-2)*C*C + 12*C) * 9 / 4 and reach 2L pixels
  each way; the 2x2 cells sit on the refinement's even grid, windows start on its 8x8 grid;
- reads four block-phase planes (first / last half-row and half-column of each 8x8 block), which
  a translation-invariant conv could only guess from content;
- is conditioned on the refinement step (log2; a file without refinement counts as
  `BASE_ONLY_STEP`) by a per-layer scale and shift (FiLM) from a tiny MLP: strong smoothing at
  coarse steps, almost none at fine ones, one set of weights;
- adds a residual (its last conv starts at zero: an untrained network is the identity).

Like the synthesis network and the Wiener filter it only turns decoded pixels into pixels, in
float: it never feeds a probability, so the determinism contract does not reach it; its output
joins the "pixels within 1 level" guarantee (docs/DESIGN.md, section 2). `apply` runs in
overlapping windows (HALO covers the receptive field), so memory is bounded on any image and a
window's pixels equal a whole-image pass within float rounding.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

BASE_ONLY_STEP = 512.0  # the conditioning step of a file without refinement (above the ladder)
GRID = 8  # the refinement's block size: windows start on its grid
WINDOW = 512  # pixels a window produces each way (a multiple of GRID)
FORMAT = "vqcodec-restore-net-1"


@dataclass(frozen=True)
class RestoreNetConfig:
    """The architecture; saved as JSON (in the safetensors metadata and beside a run)."""

    channels: int = 32  # features at half resolution
    layers: int = 4  # 3x3 convs (head, layers - 2 hidden, tail)
    film_hidden: int = 16  # the conditioning MLP's width

    @property
    def halo(self) -> int:
        """Pixels of context a window needs each way: the receptive field (2 per half-res
        conv) rounded up to the grid."""
        return math.ceil(2 * self.layers / GRID) * GRID

    @property
    def macs_per_pixel(self) -> float:
        c = self.channels
        return (16 * c + (self.layers - 2) * c * c + c * 12) * 9 / 4


def step_value(step: float | None) -> float:
    """The conditioning input: log2 of the step, centred on the ladder's range."""
    return (math.log2(step or BASE_ONLY_STEP) - 5.0) / 2.0


def _phase_planes(height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """(1, 4, height, width) at half resolution: first and last half-row, then first and last
    half-column, of each 8x8 block (the window starts on the grid)."""
    cells = GRID // 2
    rows = torch.arange(height) % cells
    cols = torch.arange(width) % cells
    planes = [
        (rows == 0)[:, None].expand(height, width),
        (rows == cells - 1)[:, None].expand(height, width),
        (cols == 0)[None, :].expand(height, width),
        (cols == cells - 1)[None, :].expand(height, width),
    ]
    return torch.stack(planes).to(dtype)[None]


class RestoreNet(nn.Module):
    """Decoded image (N, 3, H, W) in [0, 1] and steps (N,) -> restored image, same shape
    (H and W even; the block grid at 0)."""

    def __init__(self, config: RestoreNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.head = nn.Conv2d(12 + 4, c, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(config.layers - 2))
        self.tail = nn.Conv2d(c, 12, 3, padding=1)
        self.film = nn.Sequential(
            nn.Linear(1, config.film_hidden),
            nn.SiLU(),
            nn.Linear(config.film_hidden, 2 * c * (config.layers - 1)),
        )
        for layer in (self.tail, self.film[-1]):  # the identity, whatever the step
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        t = torch.tensor([[step_value(float(s) or None)] for s in steps], dtype=x.dtype)
        scale_shift = self.film(t).view(n, -1, 2, self.config.channels, 1, 1)
        half = F.pixel_unshuffle(x - 0.5, 2)
        planes = _phase_planes(h // 2, w // 2, x.dtype).expand(n, -1, -1, -1)
        feat = self.head(torch.cat([half, planes], 1))
        for i, conv in enumerate([None, *self.body]):
            if conv is not None:
                feat = conv(feat)
            feat = F.relu(feat * (1 + scale_shift[:, i, 0]) + scale_shift[:, i, 1])
        return x + F.pixel_shuffle(self.tail(feat), 2)

    def apply(self, rgb: np.ndarray, step: float | None) -> np.ndarray:
        """The restored image (H x W x 3 uint8) of a decoded one at refinement `step` (None:
        no refinement), computed in overlapping windows."""
        return apply(rgb, step, self)


def apply(rgb: np.ndarray, step: float | None, net: RestoreNet, window: int = WINDOW) -> np.ndarray:
    """`net` over `rgb` (H x W x 3 uint8) in windows of `window` pixels (a multiple of GRID)
    with the config's halo of context, each on the 8x8 grid; odd edges are padded by
    replication and cropped. Deterministic in eval mode for a given thread count."""
    height, width = rgb.shape[:2]
    halo = net.config.halo
    out = np.empty_like(rgb)
    steps = torch.tensor([step or 0.0])
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for y0 in range(0, height, window):
            for x0 in range(0, width, window):
                y1, x1 = min(y0 + window, height), min(x0 + window, width)
                ya, xa = max(y0 - halo, 0), max(x0 - halo, 0)
                yb, xb = min(y1 + halo, height), min(x1 + halo, width)
                crop = rgb[ya:yb, xa:xb]
                pad = ((0, (yb - ya) % 2), (0, (xb - xa) % 2), (0, 0))
                crop = np.pad(crop, pad, mode="edge")
                x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None]
                y = net(x.float() / 255.0, steps)[0].permute(1, 2, 0)
                y = (y[y0 - ya : y1 - ya, x0 - xa : x1 - xa] * 255.0).round().clamp(0, 255)
                out[y0:y1, x0:x1] = y.to(torch.uint8).numpy()
    net.train(was_training)
    return out


def save(net: RestoreNet, path: str | Path) -> None:
    """Weights as safetensors, the config as JSON in its metadata (no pickle)."""
    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(asdict(net.config))}
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load(path: str | Path) -> RestoreNet:
    """A network saved by `save`, in eval mode."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    net = RestoreNet(RestoreNetConfig(**json.loads(meta["config"])))
    net.load_state_dict(load_file(str(path)))
    return net.eval()

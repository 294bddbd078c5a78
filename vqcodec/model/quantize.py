"""Post-training quantization of a float `PixelCNN` into the integer prior of format 2.

Scales come from calibration maps (code maps of training images, never of evaluation images):
every pre-activation site gets the int16 scale that holds 1.25x its largest calibration value,
every GELU output the int8 scale of its largest value, every weight column its own int8 scale;
logits are fixed at 1/64 nat. The float network is evaluated here in float64 through the same
`PriorLayers` the integer network is built from, recording each site.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from vqcodec.coding.intprior import (
    ACT_MAX,
    EXP_ONE,
    EXP_SIZE,
    LOGIT_SCALE,
    LUT_SHIFT,
    LUT_SIZE,
    PRE_MAX,
    IntPrior,
)
from vqcodec.model.prior import PixelCNN, PriorLayers

HEADROOM = 1.25  # pre-activation range kept above the largest calibration value


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x)


class SiteMax:
    """Largest absolute value seen at each named site."""

    def __init__(self) -> None:
        self.max: dict[str, float] = defaultdict(float)

    def see(self, name: str, value: torch.Tensor) -> torch.Tensor:
        self.max[name] = max(self.max[name], float(value.abs().max()))
        return value


@torch.no_grad()
def float_forward(
    layers: PriorLayers, idx: torch.Tensor, cond_idx: torch.Tensor | None, sites: SiteMax
) -> torch.Tensor:
    """The float prior in the integer network's structure (float64), recording every site.
    Returns logits (H, W, K) in nats."""
    d = {k: v for k, v in vars(layers).items()}
    h, w = idx.shape
    n_layers = len(layers.convs)

    def masked(x: torch.Tensor, dense, taps) -> torch.Tensor:  # x (H, W, C)
        r = max(max(abs(a), abs(b)) for a, b in taps)
        padded = F.pad(x, (0, 0, r, r, r, r))
        cols = [padded[r + dy : r + dy + h, r + dx : r + dx + w] for dy, dx in taps]
        return torch.cat(cols, dim=-1) @ dense.weight.double() + dense.bias.double()

    cond = [0.0] * (n_layers + 1)
    if layers.cond_embed is not None:
        x = layers.cond_embed.double()[cond_idx].permute(2, 0, 1)[None]
        for i, mod in enumerate([*layers.cond_convs, layers.cond_up]):
            conv = F.conv_transpose2d if i == 2 else F.conv2d
            kwargs = {"stride": 2, "padding": 1} if i == 2 else {"padding": 1}
            pre = conv(x, mod.weight.double(), mod.bias.double(), **kwargs)
            x = sites.see(f"act.cond{i}", _gelu(sites.see(f"pre.cond{i}", pre)))
        feats = x[0].permute(1, 2, 0)[:h, :w] @ d["cond_out"].weight.double()
        feats = feats + d["cond_out"].bias.double()
        cond = list(feats.chunk(n_layers + 1, dim=-1))
    x = sites.see(
        "pre.x", masked(layers.embed.double()[idx], layers.first, layers.taps_a) + cond[0]
    )
    for layer in range(n_layers):
        a = sites.see(f"act.conv{layer}", _gelu(x))
        hh = sites.see(
            f"pre.mix{layer}", masked(a, layers.convs[layer], layers.taps_b) + cond[layer + 1]
        )
        g = sites.see(f"act.mix{layer}", _gelu(hh))
        mix = layers.mixes[layer]
        x = sites.see("pre.x", x + g @ mix.weight.double() + mix.bias.double())
    a = sites.see("act.head1", _gelu(x))
    y = sites.see("pre.head1", a @ layers.head[0].weight.double() + layers.head[0].bias.double())
    a = sites.see("act.head2", _gelu(y))
    return a @ layers.head[1].weight.double() + layers.head[1].bias.double()


def _weight_scale(w: np.ndarray, out_axis: int) -> np.ndarray:
    other = tuple(a for a in range(w.ndim) if a != out_axis)
    peak = np.abs(w).max(axis=other)
    return np.where(peak > 0, peak / ACT_MAX, 1.0)


def _linear(
    arrays: dict[str, np.ndarray], name: str, w: np.ndarray, b: np.ndarray, out_axis: int,
    s_in: float, s_out: np.ndarray | float,
) -> None:  # fmt: skip
    """Quantize one layer: int8 weights per output channel, each channel's scale widened (by
    less than 2x) so that its accumulator reaches the output scale by a power of two, 2^-sh;
    the bias, plus the rounding half 2^(sh-1), at the accumulator scale."""
    raw = _weight_scale(w, out_axis)
    s_out = np.broadcast_to(np.asarray(s_out, dtype=np.float64), raw.shape)
    shift = np.floor(np.log2(s_out / (s_in * raw))).astype(np.int64)
    sw = s_out * np.exp2(-shift.astype(np.float64)) / s_in  # in [raw, 2 raw)
    shape = [1] * w.ndim
    shape[out_axis] = -1
    q = np.clip(np.round(w / sw.reshape(shape)), -ACT_MAX, ACT_MAX)
    arrays[name + ".w"] = q.astype(np.int8)
    half = np.where(shift > 0, np.int64(1) << np.maximum(shift - 1, 0), 0)
    arrays[name + ".b"] = np.round(b / (s_in * sw)).astype(np.int64) + half
    arrays[name + ".sh"] = shift


def _gelu_table(pre_scale: float, out_scale: float) -> np.ndarray:
    """int8 GELU of the int16-range value at the centre of each table bucket."""
    i = np.arange(LUT_SIZE, dtype=np.float64)
    v = ((i - LUT_SIZE // 2) * (1 << LUT_SHIFT) + (1 << (LUT_SHIFT - 1))) * pre_scale
    g = 0.5 * v * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    return np.clip(np.round(g / out_scale), -ACT_MAX, ACT_MAX).astype(np.int8)


def calibrate(net: PixelCNN, maps: list[tuple[torch.Tensor, torch.Tensor | None]]) -> SiteMax:
    sites = SiteMax()
    layers = net.layers()
    for idx, cond in maps:
        float_forward(layers, idx, cond, sites)
    return sites


def quantize_prior(net: PixelCNN, sites: SiteMax) -> IntPrior:
    """The integer form of `net` with scales from the calibration `sites`."""
    cfg = net.cfg
    L = net.layers()
    n = lambda t: t.detach().double().numpy()  # noqa: E731
    pre = {k[4:]: HEADROOM * v / PRE_MAX for k, v in sites.max.items() if k.startswith("pre.")}
    act = {k[4:]: max(v, 1e-6) / ACT_MAX for k, v in sites.max.items() if k.startswith("act.")}
    a: dict[str, np.ndarray] = {}
    s_emb = float(np.abs(n(L.embed)).max()) / ACT_MAX
    a["embed"] = np.round(n(L.embed) / s_emb).astype(np.int8)
    _linear(a, "first", n(L.first.weight), n(L.first.bias), 1, s_emb, pre["x"])
    for layer in range(cfg.layers):
        a[f"lut.conv{layer}"] = _gelu_table(pre["x"], act[f"conv{layer}"])
        _linear(a, f"conv{layer}", n(L.convs[layer].weight), n(L.convs[layer].bias), 1,
                act[f"conv{layer}"], pre[f"mix{layer}"])  # fmt: skip
        a[f"lut.mix{layer}"] = _gelu_table(pre[f"mix{layer}"], act[f"mix{layer}"])
        _linear(a, f"mix{layer}", n(L.mixes[layer].weight), n(L.mixes[layer].bias), 1,
                act[f"mix{layer}"], pre["x"])  # fmt: skip
    a["lut.head1"] = _gelu_table(pre["x"], act["head1"])
    _linear(a, "head1", n(L.head[0].weight), n(L.head[0].bias), 1, act["head1"], pre["head1"])
    a["lut.head2"] = _gelu_table(pre["head1"], act["head2"])
    _linear(a, "head2", n(L.head[1].weight), n(L.head[1].bias), 1, act["head2"], LOGIT_SCALE)
    d = np.arange(EXP_SIZE, dtype=np.float64)
    a["exp"] = np.round(EXP_ONE * np.exp(-d * LOGIT_SCALE)).astype(np.int64)
    if cfg.cond_codes:
        s_ce = float(np.abs(n(L.cond_embed)).max()) / ACT_MAX
        a["cond.embed"] = np.round(n(L.cond_embed) / s_ce).astype(np.int8)
        s_in = s_ce
        for i, (name, mod) in enumerate(
            (
                ("cond.conv0", L.cond_convs[0]),
                ("cond.conv1", L.cond_convs[1]),
                ("cond.up", L.cond_up),
            )
        ):
            out_axis = 1 if name == "cond.up" else 0
            _linear(a, name, n(mod.weight), n(mod.bias), out_axis, s_in, pre[f"cond{i}"])
            a[f"lut.cond{i}"] = _gelu_table(pre[f"cond{i}"], act[f"cond{i}"])
            s_in = act[f"cond{i}"]
        c = cfg.channels
        targets = np.concatenate(
            [np.full(c, pre["x"])] + [np.full(c, pre[f"mix{layer}"]) for layer in range(cfg.layers)]
        )
        w_out = n(L.cond_out.weight).T[:, :, None, None]  # (COUT, CIN, 1, 1)
        _linear(a, "cond.out", w_out, n(L.cond_out.bias), 0, s_in, targets)
    return IntPrior(cfg, a)

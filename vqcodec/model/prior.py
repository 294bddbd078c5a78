"""PixelCNN priors over code maps, with a teacher-forced form (training) and a cached stepper.

Network (one per level):

    idx (B, H, W) -> embed -> MaskedConv A (k x k) -> [residual block: act -> MaskedConv B (k x k)
    + cond -> act -> 1x1] x layers -> act -> 1x1 -> act -> 1x1 -> logits (B, K, H, W)

A k x k mask keeps the k // 2 rows above in full (columns j - r .. j + r, r = k // 2) and the r
columns left of the centre (plus the centre for mask B). One layer therefore reads at most r
columns to the right in the rows above: this bounded reach is what the wavefront schedule of
`coding.schedule` relies on. A conditional prior (every map's but the top one's) adds, in every
layer, features of the whole map above (non-causal: that map is decoded first), upsampled x2.

`PixelCNNStepper` computes the same network position by position with cached activations: each
layer is evaluated once per position, for all positions of one wavefront at a time, as a gather
of the kept taps followed by one GEMM. Encoder and decoder both use it (the determinism contract).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqcodec.kernels.masked_conv import kept_taps, masked_conv2d, tap_matrix
from vqcodec.model.config import PriorConfig


def causal_mask(kernel: int, include_centre: bool) -> torch.Tensor:
    """(k, k) float mask: rows above in full, then the left part of the centre row."""
    mask = torch.zeros(kernel, kernel)
    c = kernel // 2
    mask[:c, :] = 1
    mask[c, :c] = 1
    if include_centre:
        mask[c, c] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution whose weights outside the causal mask are always zero."""

    def __init__(self, cin: int, cout: int, kernel: int, include_centre: bool) -> None:
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        self.register_buffer("mask", causal_mask(kernel, include_centre), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return masked_conv2d(x, self.weight, self.bias, self.mask)

    def taps(self) -> list[tuple[int, int]]:
        """Kept (dy, dx) offsets relative to the centre, in weight order (row-major)."""
        return kept_taps(self.mask)

    def tap_matrix(self) -> torch.Tensor:
        """(taps * cin, cout) weight for the gathered form: row (t, ci) = weight[:, ci, tap t]."""
        return tap_matrix(self.weight, self.taps()).contiguous()


act = F.gelu


@dataclass(frozen=True)
class Dense:
    """One layer in gathered form: out (n, COUT) = in (n, CIN') @ weight (CIN', COUT) + bias."""

    weight: torch.Tensor
    bias: torch.Tensor


@dataclass(frozen=True)
class PriorLayers:
    """The prior network as plain tensors, in evaluation order: the one definition that the
    float stepper and the integer (format 2) form are both built from.

    Masked layers are in gathered form (rows (tap, channel), taps in `taps_a` / `taps_b` order);
    the conditioning network (`cond_*`, conditional priors only) stays in convolution form.
    """

    taps_a: list[tuple[int, int]]  # first layer (mask A: centre excluded)
    taps_b: list[tuple[int, int]]  # residual masked layers (mask B)
    embed: torch.Tensor  # (K, E)
    first: Dense  # (taps_a * E, C)
    convs: list[Dense]  # (taps_b * C, C) each
    mixes: list[Dense]  # (C, C) each
    head: list[Dense]  # (C, C), (C, K)
    cond_embed: torch.Tensor | None  # (K_cond, E)
    cond_convs: list[nn.Conv2d]  # 3x3, 3x3 (each followed by GELU)
    cond_up: nn.ConvTranspose2d | None  # 4x4 stride 2 (followed by GELU)
    cond_out: Dense | None  # 1x1 -> C * (layers + 1): per-layer additive features


def _dense(conv: nn.Conv2d) -> Dense:
    return Dense(conv.weight[:, :, 0, 0].t().contiguous(), conv.bias.detach().clone())


class PixelCNN(nn.Module):
    """Autoregressive prior over a (B, H, W) code map, optionally conditioned on a coarser map."""

    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, k = cfg.channels, cfg.kernel
        self.embed = nn.Embedding(cfg.codes, cfg.embed_dim)
        self.first = MaskedConv2d(cfg.embed_dim, c, k, include_centre=False)
        self.convs = nn.ModuleList(MaskedConv2d(c, c, k, True) for _ in range(cfg.layers))
        self.mixes = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(cfg.layers))
        self.head = nn.Sequential(
            nn.GELU(), nn.Conv2d(c, c, 1), nn.GELU(), nn.Conv2d(c, cfg.codes, 1)
        )
        if cfg.cond_codes:
            cc = cfg.cond_channels
            self.cond_embed = nn.Embedding(cfg.cond_codes, cfg.embed_dim)
            self.cond_net = nn.Sequential(
                nn.Conv2d(cfg.embed_dim, cc, 3, padding=1),
                nn.GELU(),
                nn.Conv2d(cc, cc, 3, padding=1),
                nn.GELU(),
                nn.ConvTranspose2d(cc, cc, 4, 2, 1),
                nn.GELU(),
                nn.Conv2d(cc, c * (cfg.layers + 1), 1),
            )

    @torch.no_grad()
    def layers(self) -> PriorLayers:
        """This network's weights as a `PriorLayers` (detached copies)."""
        masked = [self.first, *self.convs]
        dense = [Dense(m.tap_matrix().detach(), m.bias.detach().clone()) for m in masked]
        cond = self.cfg.cond_codes > 0
        return PriorLayers(
            taps_a=self.first.taps(),
            taps_b=self.convs[0].taps() if self.convs else [],
            embed=self.embed.weight.detach().clone(),
            first=dense[0],
            convs=dense[1:],
            mixes=[_dense(m) for m in self.mixes],
            head=[_dense(self.head[1]), _dense(self.head[3])],
            cond_embed=self.cond_embed.weight.detach().clone() if cond else None,
            cond_convs=[self.cond_net[0], self.cond_net[2]] if cond else [],
            cond_up=self.cond_net[4] if cond else None,
            cond_out=_dense(self.cond_net[6]) if cond else None,
        )

    def condition(
        self, cond_idx: torch.Tensor | None, shape: tuple[int, int]
    ) -> list[torch.Tensor | None]:
        """Per-layer additive features (B, C, H, W) from the coarser map; Nones if unconditional."""
        n = self.cfg.layers + 1
        if not self.cfg.cond_codes:
            return [None] * n
        if cond_idx is None:
            raise ValueError("a conditional prior needs the map above its own")
        emb = self.cond_embed(cond_idx).permute(0, 3, 1, 2)
        feats = self.cond_net(emb)[..., : shape[0], : shape[1]]
        return list(feats.chunk(n, dim=1))

    def forward(self, idx: torch.Tensor, cond_idx: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits (B, K, H, W) for every position at once."""
        cond = self.condition(cond_idx, idx.shape[1:])
        x = self.first(self.embed(idx).permute(0, 3, 1, 2))
        if cond[0] is not None:
            x = x + cond[0]
        for conv, mix, cnd in zip(self.convs, self.mixes, cond[1:], strict=True):
            h = conv(act(x))
            x = x + mix(act(h if cnd is None else h + cnd))
        return self.head(x)

    def bits(self, idx: torch.Tensor, cond_idx: torch.Tensor | None = None) -> torch.Tensor:
        """Total cross-entropy in bits of `idx` under the teacher-forced prior."""
        logits = self(idx, cond_idx)
        return F.cross_entropy(logits, idx, reduction="sum") / torch.log(torch.tensor(2.0))


class PixelCNNStepper:
    """Cached, wavefront-at-a-time evaluation of a PixelCNN over one (H, W) map (batch 1).

    Activation maps live in zero-padded flat buffers of shape ((H + r) * (W + 2r), C): r rows of
    padding on top and r columns on each side stand in for conv2d's zero padding. `step(rows,
    cols)` computes every layer at those positions only, reading neighbours that earlier steps
    (or `set_symbols`) filled in; it returns the logits (n, K) in float32.
    """

    def __init__(self, net: PixelCNN, height: int, width: int, cond_idx: torch.Tensor | None):
        cfg = net.cfg
        self.net, self.h, self.w = net, height, width
        self.r = r = cfg.kernel // 2
        self.wp = width + 2 * r
        size = (height + r) * self.wp
        self.emb_buf = torch.zeros(size, cfg.embed_dim)
        self.act_bufs = [torch.zeros(size, cfg.channels) for _ in range(cfg.layers)]
        layers = net.layers()
        masked = [layers.first, *layers.convs]
        with torch.no_grad():
            feats = net.condition(None if cond_idx is None else cond_idx[None], (height, width))
            # Additive term of each masked layer: its bias, plus (if conditional) the layer's
            # conditioning features as (H * W, C) rows, so one gather per step adds both.
            self.additive = [
                d.bias
                if f is None
                else (f[0].permute(1, 2, 0).reshape(height * width, -1) + d.bias).contiguous()
                for d, f in zip(masked, feats, strict=True)
            ]
        self.embed = layers.embed
        self.weights = [d.weight for d in masked]
        self.mixes = [(d.weight, d.bias) for d in layers.mixes]
        self.head = [(d.weight, d.bias) for d in layers.head]
        self.offsets_a = self._offsets(layers.taps_a)  # mask A (first layer)
        self.offsets_b = self._offsets(layers.taps_b) if cfg.layers else self.offsets_a

    def _offsets(self, taps: list[tuple[int, int]]) -> torch.Tensor:
        return torch.tensor([dy * self.wp + dx for dy, dx in taps], dtype=torch.long)

    def flat_index(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return (rows + self.r) * self.wp + cols + self.r

    def set_symbols(self, rows: torch.Tensor, cols: torch.Tensor, symbols: torch.Tensor) -> None:
        """Make decoded (or known) symbols visible to later steps."""
        rows_emb = self.embed.index_select(0, symbols)
        self.emb_buf.index_copy_(0, self.flat_index(rows, cols), rows_emb)

    def _masked(self, layer: int, buf: torch.Tensor, taps: torch.Tensor, plain: torch.Tensor):
        """Masked layer `layer` at the step's positions: gather the kept taps, one GEMM."""
        x = buf.index_select(0, taps.view(-1)).view(taps.shape[0], -1)  # (n, taps * Cin)
        add = self.additive[layer]
        return torch.addmm(
            add.index_select(0, plain) if add.dim() == 2 else add, x, self.weights[layer]
        )

    @torch.no_grad()
    def step(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        at = self.flat_index(rows, cols)  # positions in the padded buffers
        plain = rows * self.w + cols  # positions in the (H * W) conditioning rows
        x = self._masked(0, self.emb_buf, at[:, None] + self.offsets_a, plain)
        taps_b = at[:, None] + self.offsets_b
        for layer, ((mw, mb), buf) in enumerate(zip(self.mixes, self.act_bufs, strict=True), 1):
            buf.index_copy_(0, at, act(x))
            h = self._masked(layer, buf, taps_b, plain)
            x = x + torch.addmm(mb, act(h), mw)
        (w1, b1), (w2, b2) = self.head
        return torch.addmm(b2, act(torch.addmm(b1, act(x), w1)), w2)

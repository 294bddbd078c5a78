"""Hierarchical VQ-VAE (VQ-VAE-2, Razavi et al. 2019): n code maps, coarsest first, map k at
1/(s 2^(n-1-k)) (the paper's two: bottom codes at 1/s, top codes at 1/2s).

s is the config's stride (4 in the paper); the layers are the paper's for s = 4, with one
stride-2 convolution more (or fewer) on each side for s = 8 (or 2).

Each quantizer below the top sees its level's features concatenated with a decoding of the codes
above it, as in the paper's Algorithm 1, so a level only has to code what the coarser levels did
not. With more than two levels that decoding (the "context") is carried down: a level's context
is decoded from the codes of the level above and that level's own context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from vqcodec.kernels import vq_nearest
from vqcodec.model.config import VQVAEConfig


class ResBlock(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _res_stack(channels: int, hidden: int, n: int) -> list[nn.Module]:
    return [ResBlock(channels, hidden) for _ in range(n)] + [nn.ReLU()]


def widen_synthesis(
    model: HierarchicalVQVAE, blocks: int, hidden: int
) -> tuple[HierarchicalVQVAE, VQVAEConfig]:
    """`model` with `blocks` more residual blocks (hidden width `hidden`) at the end of its
    synthesis trunk, each starting as the identity (its last convolution zero): the new model
    decodes exactly as the old one until trained. The encoder and codebooks are untouched, so
    the code maps and the priors stay valid (train it with stage 1b)."""
    cfg = model.cfg
    if cfg.synthesis_blocks and hidden != cfg.synthesis_channels:
        raise ValueError(f"the synthesis blocks are {cfg.synthesis_channels} wide, not {hidden}")
    wide_cfg = dataclasses.replace(
        cfg, synthesis_blocks=cfg.synthesis_blocks + blocks, synthesis_channels=hidden
    )
    wide = HierarchicalVQVAE(wide_cfg)
    first_new = 1 + cfg.res_blocks + cfg.synthesis_blocks  # index in `dec` of the first new block
    state = wide.state_dict()  # the new blocks keep their fresh initialization...
    for name, tensor in model.state_dict().items():
        parts = name.split(".")
        if parts[0] == "dec" and int(parts[1]) >= first_new:
            parts[1] = str(int(parts[1]) + blocks)
        state[".".join(parts)] = tensor
    wide.load_state_dict(state)
    with torch.no_grad():
        for block in wide.dec[first_new : first_new + blocks]:
            block.body[-1].weight.zero_()  # ...but for their last convolution: the identity
            block.body[-1].bias.zero_()
    return wide, wide_cfg


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class VectorQuantizer(nn.Module):
    """Codebook with EMA updates, straight-through gradients and dead-code restarts."""

    def __init__(self, codes: int, dim: int, decay: float, dead_threshold: float) -> None:
        super().__init__()
        self.codes, self.dim, self.decay, self.dead_threshold = codes, dim, decay, dead_threshold
        embed = torch.randn(codes, dim) * 0.1
        self.register_buffer("codebook", embed)
        self.register_buffer("ema_size", torch.ones(codes))
        self.register_buffer("ema_sum", embed.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, H, W) -> (B, H, W) int64 nearest-codeword indices."""
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        return vq_nearest(flat, self.codebook).view(b, h, w)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, H, W) indices -> (B, D, H, W) codewords."""
        return F.embedding(idx, self.codebook).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (straight-through quantized z, indices, commitment loss)."""
        if self.training and not bool(self.initialized):
            self._init_from_data(z.detach())
        idx = self.indices(z.detach())
        q = self.lookup(idx)
        if self.training:
            self._ema_update(z.detach(), idx)
        commit = F.mse_loss(z, q.detach())
        return z + (q - z).detach(), idx, commit

    @torch.no_grad()
    def _init_from_data(self, z: torch.Tensor) -> None:
        """Seed the codebook with encoder outputs: a random init collapses onto a few codes."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        pick = torch.randint(0, flat.shape[0], (self.codes,), device=flat.device)
        fresh = flat[pick] + 1e-3 * torch.randn_like(flat[pick])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(fresh, 0)
        self.codebook.copy_(fresh)
        self.ema_sum.copy_(fresh)
        self.ema_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, idx: torch.Tensor) -> None:
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim)
        flat_idx = idx.reshape(-1)
        size = torch.bincount(flat_idx, minlength=self.codes).to(flat.dtype)
        total = torch.zeros_like(self.ema_sum).index_add_(0, flat_idx, flat)  # (K, D) sums
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(size)
            torch.distributed.all_reduce(total)
        self.ema_size.mul_(self.decay).add_(size, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(total, alpha=1 - self.decay)
        n = self.ema_size.sum()
        smoothed = (self.ema_size + 1e-5) / (n + self.codes * 1e-5) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self._restart_dead(flat, idx)

    def _restart_dead(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        """Move unused codes onto batch vectors drawn in proportion to their quantization error.

        Drawing by error (as k-means++ seeding does) puts new codes where the codebook serves the
        data worst; uniform draws land on already well-covered vectors and collapse again.
        """
        vectors = flat.shape[0] * _world_size()  # ema_size counts the vectors of all ranks
        dead = self.ema_size < self.dead_threshold * vectors / self.codes
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        err = (flat - self.codebook[idx.reshape(-1)]).pow(2).sum(1) + 1e-12
        pick = torch.multinomial(err, n_dead, replacement=n_dead > flat.shape[0])
        fresh = flat[pick] + 1e-4 * torch.randn_like(flat[pick])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(fresh, 0)
        self.codebook[dead] = fresh
        self.ema_sum[dead] = fresh
        self.ema_size[dead] = 1.0


@dataclass
class VQVAEOutput:
    reconstruction: torch.Tensor
    indices: list[torch.Tensor]  # (B, H_k, W_k) per map, coarsest first
    commitment: torch.Tensor


def _widths(c: int, stride: int) -> list[int]:
    """Channels from RGB to 1/stride: 3, c (s=2); 3, c/2, c (s=4); 3, c/2, c, c (s=8)."""
    halvings = stride.bit_length() - 1
    return [3] + ([c] if halvings == 1 else [c // 2] + [c] * (halvings - 1))


def _downsampler(c: int, stride: int) -> list[nn.Module]:
    """RGB -> c channels at 1/stride by stride-2 4x4 convolutions."""
    widths = _widths(c, stride)
    layers: list[nn.Module] = []
    for cin, cout in pairwise(widths):
        layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.ReLU()]
    return layers


def _upsampler(c: int, stride: int) -> list[nn.Module]:
    """c channels at 1/stride -> RGB: the mirror image of `_downsampler`."""
    widths = _widths(c, stride)[::-1]
    layers: list[nn.Module] = []
    for cin, cout in pairwise(widths):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU()]
    return layers[:-1]


def _halver(c: int, r: int, n: int) -> nn.Sequential:
    """Features of one level -> features of the level above (half the resolution)."""
    return nn.Sequential(
        nn.Conv2d(c, c // 2, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(c // 2, c, 3, padding=1),
        *_res_stack(c, r, n),
    )


def _context_decoder(cin: int, c: int, r: int, n: int, d: int) -> nn.Sequential:
    """A level's codewords (and the context from above it) -> context features (d channels) at
    the next level's resolution: what the coarser levels coded, for its quantizer."""
    return nn.Sequential(
        nn.Conv2d(cin, c, 3, padding=1),
        *_res_stack(c, r, n),
        nn.ConvTranspose2d(c, d, 4, 2, 1),
    )


def _upsampler_by(d: int, factor: int) -> nn.ConvTranspose2d:
    """Codewords -> `factor` times their resolution (a power of two): one transposed
    convolution, 4x4 stride 2 for a factor 2."""
    return nn.ConvTranspose2d(d, d, 2 * factor, factor, factor // 2)


def synthesis(
    upsamplers: Sequence[nn.Module], dec: nn.Module, codewords: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Codewords of every level (coarsest first) -> image: each coarser level brought to the
    finest resolution by its upsampler, all concatenated, then the synthesis trunk `dec`."""
    up = [u(q) for u, q in zip(upsamplers, codewords[:-1], strict=True)]
    return dec(torch.cat([*up, codewords[-1]], 1)) + 0.5


class HierarchicalVQVAE(nn.Module):
    """Image in [0, 1], (B, 3, H, W) with H, W multiples of cfg.align.

    Modules are named by level (`level_names`), so a two-level model keeps the names its weights
    were saved under: `enc_bottom` takes the image to the finest features and `enc_<level>` halves
    the features of the level below; `pre_quant_<level>` and `quant_<level>` quantize a level's
    features together with `dec_<level above>`'s context (none at the top); `upsample_<level>`
    brings a coarser level's codewords to the finest resolution for `dec`.
    """

    def __init__(self, cfg: VQVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, r, n, d = cfg.channels, cfg.res_channels, cfg.res_blocks, cfg.embed_dim
        names, last = cfg.names, cfg.levels - 1
        self.enc_bottom = nn.Sequential(  # 1/stride
            *_downsampler(c, cfg.stride),
            nn.Conv2d(c, c, 3, padding=1),
            *_res_stack(c, r, n),
        )
        for name in reversed(names[:-1]):  # registered finest first, as the data flows
            self.add_module(f"enc_{name}", _halver(c, r, n))
        for k, (name, codes) in enumerate(zip(names, cfg.codes, strict=True)):
            self.add_module(f"pre_quant_{name}", nn.Conv2d(c + d if k else c, d, 1))
            quant = VectorQuantizer(codes, d, cfg.ema_decay, cfg.dead_code_threshold)
            self.add_module(f"quant_{name}", quant)
            if k < last:
                self.add_module(f"dec_{name}", _context_decoder(2 * d if k else d, c, r, n, d))
        for k, name in enumerate(names[:-1]):
            self.add_module(f"upsample_{name}", _upsampler_by(d, 1 << (last - k)))
        extra = [ResBlock(c, cfg.synthesis_channels) for _ in range(cfg.synthesis_blocks)]
        self.dec = nn.Sequential(
            nn.Conv2d(cfg.levels * d, c, 3, padding=1),
            *_res_stack(c, r, n)[:-1],
            *extra,  # more capacity where it pays (`widen_synthesis`): decoding only
            nn.ReLU(),
            *_upsampler(c, cfg.stride),
        )

    def _module(self, kind: str, level: int) -> nn.Module:
        """The module `kind` (enc, pre_quant, quant, dec, upsample) of map `level`."""
        return self.get_submodule(f"{kind}_{self.cfg.names[level]}")

    def quantizers(self) -> list[VectorQuantizer]:
        """The vector quantizer of every map, coarsest first."""
        return [self._module("quant", k) for k in range(self.cfg.levels)]  # type: ignore[misc]

    def upsamplers(self) -> list[nn.Module]:
        """The upsampler of every map but the finest, coarsest first."""
        return [self._module("upsample", k) for k in range(self.cfg.levels - 1)]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Image -> the encoder's features of every level, coarsest first."""
        h = [self.enc_bottom(x - 0.5)]
        for level in reversed(range(self.cfg.levels - 1)):
            h.append(self._module("enc", level)(h[-1]))
        return h[::-1]

    def latents(self, level: int, h: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """Latents of `level` before quantization, from its features `h` and the context of
        the levels above it (`context`; None at the top): a level codes what they did not."""
        return self._module("pre_quant", level)(
            h if context is None else torch.cat([h, context], 1)
        )

    def context(self, level: int, q: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """The context of the level below `level`, given `level`'s codewords `q` and its own
        context (None at the top)."""
        return self._module("dec", level)(q if context is None else torch.cat([q, context], 1))

    def _quantize(
        self, x: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """(codewords, indices) of every level, coarsest first, and the commitment loss."""
        codewords, indices, commit, context = [], [], x.new_zeros(()), None
        for level, (h, quant) in enumerate(zip(self.features(x), self.quantizers(), strict=True)):
            q, idx, level_commit = quant(self.latents(level, h, context))
            codewords.append(q)
            indices.append(idx)
            commit = commit + level_commit
            if level < self.cfg.levels - 1:
                context = self.context(level, q, context)
        return codewords, indices, commit

    def _synthesize(self, codewords: Sequence[torch.Tensor]) -> torch.Tensor:
        return synthesis(self.upsamplers(), self.dec, codewords)

    def forward(self, x: torch.Tensor) -> VQVAEOutput:
        codewords, indices, commit = self._quantize(x)
        return VQVAEOutput(self._synthesize(codewords), indices, commit)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [0, 1] -> indices of every map, coarsest first: map k of n is
        (B, H / s_k, W / s_k) with s_k = stride * 2^(n - 1 - k)."""
        return self._quantize(x)[1]

    @torch.no_grad()
    def decode(self, indices: Sequence[torch.Tensor]) -> torch.Tensor:
        """Indices of every map, coarsest first -> image in [0, 1] (not clamped)."""
        quants = self.quantizers()
        return self._synthesize([q.lookup(i) for q, i in zip(quants, indices, strict=True)])

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, VQVAEOutput]:
        out = self(x)
        return self.objective(out, x), out

    def objective(self, out: VQVAEOutput, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction MSE + beta * commitment (codebooks learn by EMA, not by gradient)."""
        return F.mse_loss(out.reconstruction, x) + self.cfg.beta * out.commitment

"""The integer prior of format 2: every number that feeds the range coder is an exact integer.

Why: a float network rounds differently on every instruction set, BLAS, thread count and GPU, and
one flipped bit in a probability row breaks range decoding (DESIGN.md section 2). Integer sums
are exact in any order, so any machine that follows the arithmetic below computes the same
frequency rows (Balle, Johnston, Minnen, "Integer networks for data compression with
latent-variable models", ICLR 2019).

The arithmetic (the definition is `vqcodec.intprior_ref`, plain numpy; this module holds the
parameters and the fast torch form):

- activations entering a product are int8 values in [-127, 127]; weights are int8 with one scale
  per output channel; products are accumulated exactly (int64, or float32/float64 GEMMs on
  integer-valued operands while every partial sum stays below 2^24 / 2^53: checked per layer);
- `requant(acc, m, sh) = (acc * m + 2^(sh - 1)) >> sh` (floor shift) rescales an accumulator to
  the next scale, with a per-channel multiplier m < 2^16 and shift sh >= 1;
- pre-activations are clamped to the int16 range; GELU is a 4096-entry int8 table indexed by
  `(v >> 4) + 2048`;
- logits come out at 1/64 nat; frequencies are `e = EXP[min(max - logit, 1023)]` (an int table,
  EXP[0] = 2^20), then `f = e * (T - K) // sum(e) + 1` with T = 2^23, and the remainder
  `T - sum(f)` is added to the first most probable symbol: every symbol >= 1, total exactly T.

Network (the float `PixelCNN` of `vqcodec.prior`, layer for layer):

    x  = clamp16(requant(A(embed[idx]) @ W0 + b0) + cond_0)
    for each layer l:  h = requant(B(G_l(x)) @ Wc_l + bc_l)
                       x = clamp16(x + requant(G'_l(clamp16(h + cond_l)) @ Wm_l + bm_l))
    y = clamp16(requant(G_h1(x) @ W1 + b1));  logits = requant(G_h2(y) @ W2 + b2)

where A / B gather the kept taps of the causal masks, G.. are the GELU tables, and cond_l are
integer features of the coarser map (conditional priors only: embed, 3x3 conv, GELU, 3x3 conv,
GELU, 4x4 stride-2 transposed conv, GELU, 1x1 conv, each with requant).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from vqcodec.config import PriorConfig
from vqcodec.kernels.masked_conv import kept_taps
from vqcodec.prior import causal_mask

ACT_MAX = 127  # int8 activations and weights: [-127, 127]
PRE_MIN, PRE_MAX = -(1 << 15), (1 << 15) - 1  # pre-activations: the int16 range
COND_LIMIT = 1 << 16  # conditioning features are clamped to +-this (does not change any sum)
LUT_SHIFT, LUT_SIZE = 4, 4096  # GELU table index: (v >> 4) + 2048
LOGIT_SCALE = 1 / 64  # nats per logit unit
EXP_SIZE, EXP_ONE = 1024, 1 << 20  # EXP[d] = round(2^20 * exp(-d / 64)), d = max - logit
FREQ_BITS = 23
FREQ_TOTAL = 1 << FREQ_BITS  # every probability row sums to exactly this

ARITHMETIC_NAME = "int8-prior-1"  # what format 2's header calls this arithmetic


def masked_taps(kernel: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(taps of mask A, taps of mask B) as (dy, dx) offsets, row-major: the gathered order."""
    return kept_taps(causal_mask(kernel, False)), kept_taps(causal_mask(kernel, True))


@dataclass(frozen=True)
class IntPrior:
    """The integer parameters of one prior: named int arrays (see `names`) + its config."""

    cfg: PriorConfig
    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @staticmethod
    def linear_names(cfg: PriorConfig) -> list[str]:
        """Names of the requantized linear layers, in evaluation order."""
        names = ["first"]
        for layer in range(cfg.layers):
            names += [f"conv{layer}", f"mix{layer}"]
        names += ["head1", "head2"]
        if cfg.cond_codes:
            names += ["cond.conv0", "cond.conv1", "cond.up", "cond.out"]
        return names

    @staticmethod
    def lut_names(cfg: PriorConfig) -> list[str]:
        """Names of the GELU tables, in evaluation order."""
        names = [n for layer in range(cfg.layers) for n in (f"lut.conv{layer}", f"lut.mix{layer}")]
        names += ["lut.head1", "lut.head2"]
        if cfg.cond_codes:
            names += ["lut.cond0", "lut.cond1", "lut.cond2"]
        return names


def save_priors(priors: dict[str, IntPrior], path: Path) -> None:
    """One safetensors file for all of a model's priors, keys '<level>.<name>'."""
    flat = {f"{level}.{k}": np.ascontiguousarray(v) for level, p in priors.items() for k, v in
            p.arrays.items()}  # fmt: skip
    save_file(
        flat, str(path), metadata={"format": "vqcodec-int-prior", "arithmetic": ARITHMETIC_NAME}
    )


def load_priors(path: Path, cfgs: dict[str, PriorConfig]) -> dict[str, IntPrior]:
    flat = load_file(str(path))
    out = {}
    for level, cfg in cfgs.items():
        arrays = {k[len(level) + 1 :]: v for k, v in flat.items() if k.startswith(level + ".")}
        out[level] = IntPrior(cfg, arrays)
    return out


# ---- fast path (torch) --------------------------------------------------------------------------


def _exact_gemm_dtype(weight: np.ndarray) -> torch.dtype:
    """float32 if no partial sum of int8 activations x these weights can reach 2^24, else
    float64 (exact below 2^53). Integer-valued float sums below those bounds are exact in any
    order, on any BLAS and instruction set."""
    bound = int(np.abs(weight.astype(np.int64)).sum(axis=0).max()) * ACT_MAX
    if bound < 1 << 24:
        return torch.float32
    if bound < 1 << 53:
        return torch.float64
    raise ValueError("integer prior layer too large for exact float accumulation")


@dataclass(frozen=True)
class TorchLinear:
    weight: torch.Tensor  # (in, out), integer-valued float32 or float64
    bias: torch.Tensor  # (out,) int64
    mult: torch.Tensor  # (out,) int64
    shift: torch.Tensor  # (out,) int64
    half: torch.Tensor  # (out,) int64: 2^(shift - 1)

    @classmethod
    def of(cls, prior: IntPrior, name: str, device: torch.device) -> TorchLinear:
        w = prior[name + ".w"]  # (in, out) dense; conv weights keep torch's layout
        dtype = _exact_gemm_dtype(w) if w.ndim == 2 else torch.float64
        shift = torch.from_numpy(prior[name + ".sh"].astype(np.int64)).to(device)
        return cls(
            torch.from_numpy(w.astype(np.float64)).to(dtype).to(device),
            torch.from_numpy(prior[name + ".b"].astype(np.int64)).to(device),
            torch.from_numpy(prior[name + ".m"].astype(np.int64)).to(device),
            shift,
            torch.ones_like(shift) << (shift - 1),
        )

    def requant(self, acc: torch.Tensor) -> torch.Tensor:
        """int64 accumulator (n, out) with bias not yet added -> next scale (floor shift)."""
        return ((acc + self.bias) * self.mult + self.half) >> self.shift

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Integer-valued (n, in) -> requantized int64 (n, out)."""
        return self.requant((x.to(self.weight.dtype) @ self.weight).to(torch.int64))


def gelu_table(values: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """int16-range int64 pre-activations -> the table's int8 values (as float32 for GEMMs)."""
    return lut[(values >> LUT_SHIFT) + LUT_SIZE // 2]


def frequencies(logits: torch.Tensor, exp_table: torch.Tensor) -> torch.Tensor:
    """int64 logits (n, K) -> int64 frequency rows (n, K): each >= 1, each row sums to 2^23."""
    k = logits.shape[1]
    top = logits.max(dim=1, keepdim=True).values
    symbol = torch.arange(k, device=logits.device)
    first_max = torch.where(logits == top, symbol, k).min(dim=1, keepdim=True).values
    e = exp_table[(top - logits).clamp_(max=EXP_SIZE - 1)]
    f = e * (FREQ_TOTAL - k) // e.sum(dim=1, keepdim=True) + 1
    f.scatter_add_(1, first_max, FREQ_TOTAL - f.sum(dim=1, keepdim=True))
    return f


def _conv_int(x: torch.Tensor, lin: TorchLinear, transpose: bool) -> torch.Tensor:
    """Exact integer convolution (B, CIN, H, W) -> int64 (B, COUT, H', W'): unfold + GEMM in
    float64 (no Winograd/FFT conv algorithms, whose rounding is not exact)."""
    w = lin.weight.double()
    if transpose:  # 4x4, stride 2, padding 1: out[2i - 1 + ky, 2j - 1 + kx] += x[i, j] w[ky, kx]
        b, _, h, wd = x.shape
        cout = w.shape[1]
        full = torch.zeros(b, cout, 2 * h + 2, 2 * wd + 2, dtype=torch.float64, device=x.device)
        xf = x.double().permute(0, 2, 3, 1)  # (B, H, W, CIN)
        for ky in range(4):
            for kx in range(4):
                contrib = (xf @ w[:, :, ky, kx]).permute(0, 3, 1, 2)  # (B, COUT, H, W)
                full[:, :, ky : ky + 2 * h : 2, kx : kx + 2 * wd : 2] += contrib
        acc = full[:, :, 1 : 2 * h + 1, 1 : 2 * wd + 1]
    else:
        b, _, h, wd = x.shape
        k = w.shape[-1]
        if k == 1:
            acc = torch.einsum("bchw,oc->bohw", x.double(), w[:, :, 0, 0])
        else:
            cols = torch.nn.functional.unfold(x.double(), k, padding=k // 2)  # (B, CIN*k*k, HW)
            acc = (w.reshape(w.shape[0], -1) @ cols).reshape(b, -1, h, wd)
    acc = acc.round().to(torch.int64).permute(0, 2, 3, 1)  # exact already; round() is a no-op
    return lin.requant(acc).permute(0, 3, 1, 2)


class IntPriorTorch:
    """An `IntPrior` as torch tensors, ready for `IntStepper` (CPU, or CUDA with Triton)."""

    def __init__(self, prior: IntPrior, device: torch.device | str = "cpu") -> None:
        device = torch.device(device)
        self.prior, self.cfg, self.device = prior, prior.cfg, device
        self.taps_a, self.taps_b = masked_taps(prior.cfg.kernel)
        self.lin = {n: TorchLinear.of(prior, n, device) for n in IntPrior.linear_names(prior.cfg)}
        self.lut = {
            n: torch.from_numpy(prior[n].astype(np.float32)).to(device)
            for n in IntPrior.lut_names(prior.cfg)
        }
        self.embed = torch.from_numpy(prior["embed"].astype(np.float32)).to(device)
        self.exp = torch.from_numpy(prior["exp"].astype(np.int64)).to(device)

    @torch.no_grad()
    def condition(self, cond_idx: torch.Tensor, height: int, width: int) -> list[torch.Tensor]:
        """Per-layer additive int64 features (H * W, C) from the coarser (h/2, w/2) map."""
        lut = self.lut
        c = torch.from_numpy(self.prior["cond.embed"].astype(np.float32)).to(self.device)
        x = c[cond_idx.to(self.device)].permute(2, 0, 1)[None]  # (1, E, h, w)
        for i, name in enumerate(("cond.conv0", "cond.conv1", "cond.up")):
            pre = _conv_int(x, self.lin[name], transpose=name == "cond.up")
            x = gelu_table(pre.clamp(PRE_MIN, PRE_MAX), lut[f"lut.cond{i}"])
        feats = _conv_int(x, self.lin["cond.out"], transpose=False)
        feats = feats.clamp(-COND_LIMIT, COND_LIMIT)[0, :, :height, :width]  # (C*(L+1), H, W)
        rows = feats.permute(1, 2, 0).reshape(height * width, -1)
        return list(rows.chunk(self.cfg.layers + 1, dim=1))

"""The integer prior of format 2: every number that feeds the range coder is an exact integer.

Why: a float network rounds differently on every instruction set, BLAS, thread count and GPU, and
one flipped bit in a probability row breaks range decoding (docs/DESIGN.md section 2). Integer sums
are exact in any order, so any machine that follows the arithmetic below computes the same
frequency rows (Balle, Johnston, Minnen, "Integer networks for data compression with
latent-variable models", ICLR 2019).

The arithmetic (the definition is `vqcodec.coding.intprior_ref`, plain numpy; this module holds the
parameters and the fast torch form):

- activations entering a product are int8 values in [-127, 127]; weights are int8 with one scale
  per output channel; products are accumulated exactly (int64, or float32/float64 GEMMs on
  integer-valued operands while every partial sum stays below 2^24 / 2^53: checked per layer);
- `requant(acc) = (acc + B) >> sh` (floor shift) rescales an accumulator to the next scale, with
  a per-channel integer B (the bias and the rounding half 2^(sh-1)) and shift sh (the weights'
  scales are chosen so that the rescaling is a power of two);
- pre-activations are clamped to the int16 range; GELU is a 4096-entry int8 table indexed by
  `(v >> 4) + 2048`;
- logits come out at 1/64 nat; frequencies are `e = EXP[min(max - logit, 1023)]` (an int table,
  EXP[0] = 2^20), then, with the row's fixed-point reciprocal `M = ((T - K) << 29) // sum(e)`,
  `f = ((e * M) >> 29) + 1` with T = 2^23, and the remainder `T - sum(f)` is added to the first
  most probable symbol: every symbol >= 1, total exactly T. (One division per row, not per
  symbol: a 4096-code row costs a multiply and a shift per symbol.)

Network (the float `PixelCNN` of `vqcodec.model.prior`, layer for layer):

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
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

from vqcodec.kernels.masked_conv import kept_taps
from vqcodec.model.config import PriorConfig
from vqcodec.model.prior import causal_mask

ACT_MAX = 127  # int8 activations and weights: [-127, 127]
PRE_MIN, PRE_MAX = -(1 << 15), (1 << 15) - 1  # pre-activations: the int16 range
COND_LIMIT = 1 << 16  # conditioning features are clamped to +-this (does not change any sum)
LUT_SHIFT, LUT_SIZE = 4, 4096  # GELU table index: (v >> 4) + 2048
LOGIT_SCALE = 1 / 64  # nats per logit unit
EXP_SIZE, EXP_ONE = 1024, 1 << 20  # EXP[d] = round(2^20 * exp(-d / 64)), d = max - logit
FREQ_BITS = 23
FREQ_TOTAL = 1 << FREQ_BITS  # every probability row sums to exactly this
RECIPROCAL_BITS = 29  # e < 2^21 times M < 2^32 stays below 2^53

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
#
# The torch form carries the integers in float32 (float64 where a layer's bound needs it): IEEE
# floats hold integers below 2^24 (2^53) exactly, and sums of such integers, multiplication by a
# power of two and floor are exact in any order, so the results are the reference's integers.
# Activations are int8 in the buffers (small), converted for each GEMM.

EXACT_F32, EXACT_F64 = 1 << 24, 1 << 53


def _exact_dtype(bound: int) -> torch.dtype:
    """float32 if no partial sum can reach 2^24, else float64 (exact below 2^53)."""
    if bound < EXACT_F32:
        return torch.float32
    if bound < EXACT_F64:
        return torch.float64
    raise ValueError("integer prior layer too large for exact float accumulation")


def _column_bound(w: np.ndarray, name: str) -> np.ndarray:
    """Per output channel: the largest |sum| of int8 activations times the weights of one output
    position (the input dimensions a single output sums over)."""
    a = np.abs(w.astype(np.int64))
    if w.ndim == 2:  # dense (in, out)
        return a.sum(axis=0) * ACT_MAX
    if name == "cond.up":  # (CIN, COUT, 4, 4): an output sums the taps of one parity
        parity = [a[:, :, py::2, px::2].sum(axis=(0, 2, 3)) for py in (0, 1) for px in (0, 1)]
        return np.max(parity, axis=0) * ACT_MAX
    return a.sum(axis=(1, 2, 3)) * ACT_MAX  # conv (COUT, CIN, k, k)


def _float32_sums_exact() -> bool:
    """Whether float32 GEMMs here are true IEEE float32 GEMMs: some settings let a BLAS round
    operands to bfloat16 or TF32 (torch's matmul precision, oneDNN's ONEDNN_DEFAULT_FPMATH_MODE),
    which would break exactness. Checked on integers near the bound; float64 GEMMs have no such
    modes and are the fallback."""
    return torch.get_float32_matmul_precision() == "highest" and _float32_probe()


@cache
def _float32_probe() -> bool:
    a = torch.full((2, 480), 127.0)
    a[1, ::2] = 125.0
    b = torch.full((480, 3), 127.0)
    b[::3, 1] = -121.0
    return torch.equal((a @ b).double(), a.double() @ b.double())


@dataclass
class TorchLinear:
    """One requantized layer. Measured: torch._int_mm is not exact here (oneDNN without VNNI
    saturates 16-bit pair sums), so the GEMMs are float GEMMs of the integers."""

    weight: torch.Tensor  # integer-valued; dense (in, out), convs in torch's layout
    bias: torch.Tensor  # (out,) B, same dtype
    scale: torch.Tensor  # (out,) 2^-sh, same dtype
    weight_i8: torch.Tensor  # the weights as int8 (the Triton kernel's operand)

    @classmethod
    def of(cls, prior: IntPrior, name: str, device: torch.device) -> TorchLinear:
        w = prior[name + ".w"]
        bias, shift = prior[name + ".b"].astype(np.int64), prior[name + ".sh"].astype(np.int64)
        dtype = _exact_dtype(int((_column_bound(w, name) + np.abs(bias)).max()))

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a.astype(np.float64)).to(dtype).to(device)

        w_i8 = torch.from_numpy(np.ascontiguousarray(w, dtype=np.int8)).to(device)
        return cls(t(w), t(bias), t(np.exp2(-shift.astype(np.float64))), w_i8)

    def exact(self) -> TorchLinear:
        """This layer in float64 where float32 GEMMs cannot be trusted (`_float32_sums_exact`)."""
        if self.weight.dtype == torch.float64 or _float32_sums_exact():
            return self
        return TorchLinear(self.weight.double(), self.bias.double(), self.scale.double(),
                           self.weight_i8)  # fmt: skip

    def requant(self, acc: torch.Tensor) -> torch.Tensor:
        """Accumulator (before the bias) -> floor((acc + B) * 2^-sh)."""
        return (acc.to(self.bias.dtype) + self.bias).mul_(self.scale).floor_()

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Integer activations (n, in) -> requantized (n, out): one addmm, then the shift."""
        lin = self.exact()
        return torch.addmm(lin.bias, x.to(lin.weight.dtype), lin.weight).mul_(lin.scale).floor_()


# Pre-activations feeding a GELU table are carried as u = v + 2^15 in [0, 2^16), so that a table
# lookup is one gather; conditioning rows carry the offset, unconditional priors add it.
TABLE_OFFSET = 1 << 15
U_MIN, U_MAX = PRE_MIN + TABLE_OFFSET, PRE_MAX + TABLE_OFFSET


def expand_table(lut: np.ndarray) -> torch.Tensor:
    """The 4096-entry GELU table as a 65536-entry int8 table indexed by u = v + 2^15
    (entry u = lut[(v >> 4) + 2048]): one gather per lookup."""
    return torch.from_numpy(np.repeat(lut.astype(np.int8), 1 << LUT_SHIFT))


def gelu_table(u: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Offset pre-activations u in [0, 2^16) -> the table's int8 values, same shape."""
    return table.index_select(0, u.long().reshape(-1)).view(u.shape)


def frequencies(logits: torch.Tensor, exp_table: torch.Tensor) -> torch.Tensor:
    """Integer logits (n, K) -> frequency rows (n, K) as integer-valued float64: each >= 1,
    each row summing to 2^23 (as `intprior_ref.frequencies`)."""
    n, k = logits.shape
    top, first_max = logits.max(dim=1, keepdim=True)  # torch: the first of equal maxima
    d = (top - logits).clamp_(max=EXP_SIZE - 1).long()  # exact: logits are integers < 2^24
    e = exp_table.index_select(0, d.view(-1)).view(n, k)
    total = e.sum(dim=1, keepdim=True)  # < 2^32
    # M = floor(numerator / total): the floor of the correctly rounded quotient is the true
    # floor or one more (rounding may carry a quotient just below an integer up to it); an exact
    # product decides which
    numerator = float((FREQ_TOTAL - k) << RECIPROCAL_BITS)  # < 2^52
    m = torch.floor(numerator / total)
    m -= (m * total > numerator).double()
    # e * M < 2^53 is exact, and so is the scaling by 2^-29 folded into M (a power of two)
    f = e.mul_(m.mul_(2.0**-RECIPROCAL_BITS)).floor_().add_(1)
    f.scatter_add_(1, first_max, FREQ_TOTAL - f.sum(dim=1, keepdim=True))
    return f


def _conv_int(x: torch.Tensor, lin: TorchLinear, transpose: bool) -> torch.Tensor:
    """Exact integer convolution (B, CIN, H, W) -> requantized (B, COUT, H', W'): unfold + GEMM
    (not torch's convolution, whose Winograd/FFT algorithms do not keep integers exact)."""
    lin = lin.exact()
    w = lin.weight
    x = x.to(w.dtype)
    b, _, h, wd = x.shape
    if transpose:  # 4x4, stride 2, padding 1: out[2i - 1 + ky, 2j - 1 + kx] += x[i, j] w[ky, kx]
        full = torch.zeros(b, 2 * h + 2, 2 * wd + 2, w.shape[1], dtype=w.dtype, device=x.device)
        xs = x.permute(0, 2, 3, 1)  # (B, H, W, CIN)
        for ky in range(4):
            for kx in range(4):
                full[:, ky : ky + 2 * h : 2, kx : kx + 2 * wd : 2] += xs @ w[:, :, ky, kx]
        acc = full[:, 1 : 2 * h + 1, 1 : 2 * wd + 1]  # (B, H', W', COUT)
    else:
        k = w.shape[-1]
        cols = F.unfold(x, k, padding=k // 2)  # (B, CIN * k * k, H * W)
        acc = (cols.transpose(1, 2) @ w.reshape(w.shape[0], -1).T).view(b, h, wd, -1)
    return lin.requant(acc).permute(0, 3, 1, 2)


class IntPriorTorch:
    """An `IntPrior` as torch tensors, ready for `IntStepper` (CPU, or CUDA with Triton)."""

    def __init__(self, prior: IntPrior, device: torch.device | str = "cpu") -> None:
        device = torch.device(device)
        self.prior, self.cfg, self.device = prior, prior.cfg, device
        self.taps_a, self.taps_b = masked_taps(prior.cfg.kernel)
        self.lin = {n: TorchLinear.of(prior, n, device) for n in IntPrior.linear_names(prior.cfg)}
        self.lut = {n: expand_table(prior[n]).to(device) for n in IntPrior.lut_names(prior.cfg)}
        self.embed = torch.from_numpy(prior["embed"].astype(np.int8)).to(device)
        self.exp = torch.from_numpy(prior["exp"].astype(np.float64)).to(device)

    @torch.inference_mode()
    def cond_hidden(self, cond_idx: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The conditioning network up to its last layer, for a batch of coarser (B, h, w) maps:
        int8 rows (B, height * width, CIN) of its (2h, 2w) output cropped to (height, width)."""
        lut = self.lut
        c = torch.from_numpy(self.prior["cond.embed"].astype(np.int8)).to(self.device)
        x = c[cond_idx.to(self.device)].permute(0, 3, 1, 2)  # (B, E, h, w)
        for i, name in enumerate(("cond.conv0", "cond.conv1", "cond.up")):
            pre = _conv_int(x, self.lin[name], transpose=name == "cond.up")
            x = gelu_table(pre.add_(TABLE_OFFSET).clamp_(U_MIN, U_MAX), lut[f"lut.cond{i}"])
        x = x[:, :, :height, :width]
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], height * width, -1)

    def cond_out(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """The last (1x1) layer on hidden rows (n, CIN): one (n, C) float32 tensor per masked
        layer, clamped to +-2^16 (exact in float32) and carrying the table offset."""
        out, c = self.lin["cond.out"].exact(), self.cfg.channels
        w = out.weight[:, :, 0, 0].T  # (CIN, C * (layers + 1))
        rows = rows.to(w.dtype)
        feats = []
        for k in range(self.cfg.layers + 1):
            cols = slice(k * c, (k + 1) * c)
            f = torch.addmm(out.bias[cols], rows, w[:, cols]).mul_(out.scale[cols]).floor_()
            feats.append(f.clamp_(-COND_LIMIT, COND_LIMIT).add_(TABLE_OFFSET).float())
        return feats

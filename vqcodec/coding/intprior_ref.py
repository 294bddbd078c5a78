"""Conformance reference of the integer prior: plain numpy, whole map at once, written to be
read. It is the definition of format 2's probabilities: every fast path (the torch stepper, the
Triton kernel) must produce the same frequency rows as `frequency_rows`, byte for byte.

All arithmetic is int64. A masked convolution is a sum over its kept taps of shifted copies of
the input (zero outside the map) times that tap's weight slice; being causal, evaluating it on
the whole map at once gives what a decoder computes position by position.
"""

from __future__ import annotations

import numpy as np

from vqcodec.coding.intprior import (
    COND_LIMIT,
    EXP_SIZE,
    FREQ_TOTAL,
    LUT_SHIFT,
    LUT_SIZE,
    PRE_MAX,
    PRE_MIN,
    RECIPROCAL_BITS,
    IntPrior,
    masked_taps,
)


def requant(acc: np.ndarray, prior: IntPrior, name: str) -> np.ndarray:
    """(acc + B) >> sh per output channel (last axis): B holds the bias and the rounding half;
    a negative sh shifts left."""
    sh = prior[name + ".sh"].astype(np.int64)
    v = acc + prior[name + ".b"].astype(np.int64)
    return np.where(sh >= 0, v >> np.maximum(sh, 0), v << np.maximum(-sh, 0))


def clamp16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, PRE_MIN, PRE_MAX)


def gelu(v: np.ndarray, prior: IntPrior, table: str) -> np.ndarray:
    """GELU of int16-range values through the table: int8 results (as int64)."""
    return prior[table].astype(np.int64)[(v >> LUT_SHIFT) + LUT_SIZE // 2]


def masked_conv(
    x: np.ndarray, weight: np.ndarray, taps: list[tuple[int, int]], channels_in: int
) -> np.ndarray:
    """(H, W, CIN) -> (H, W, COUT) int64: the sum over taps (dy, dx) of x[i + dy, j + dx] @ W_t."""
    h, w, _ = x.shape
    r = max(max(abs(dy), abs(dx)) for dy, dx in taps)
    padded = np.zeros((h + 2 * r, w + 2 * r, channels_in), np.int64)
    padded[r : r + h, r : r + w] = x
    out = np.zeros((h, w, weight.shape[1]), np.int64)
    for t, (dy, dx) in enumerate(taps):
        w_tap = weight[t * channels_in : (t + 1) * channels_in].astype(np.int64)
        out += padded[r + dy : r + dy + h, r + dx : r + dx + w] @ w_tap
    return out


def conv(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """'Same' k x k convolution, zero padding: (H, W, CIN) -> (H, W, COUT); weight as torch's."""
    k = weight.shape[-1]
    r = k // 2
    taps = [(dy - r, dx - r) for dy in range(k) for dx in range(k)]
    w = weight.astype(np.int64)
    gathered = np.concatenate([w[:, :, dy + r, dx + r].T for dy, dx in taps], axis=0)
    return masked_conv(x, gathered, taps, x.shape[-1])


def conv_transpose_4x4_s2(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """ConvTranspose2d(4, stride 2, padding 1): (h, w, CIN) -> (2h, 2w, COUT); weight (CIN, COUT,
    4, 4). Input (i, j) adds x[i, j] @ W[:, :, ky, kx] to output (2i - 1 + ky, 2j - 1 + kx)."""
    h, w, _ = x.shape
    full = np.zeros((2 * h + 2, 2 * w + 2, weight.shape[1]), np.int64)
    for ky in range(4):
        for kx in range(4):
            full[ky : ky + 2 * h : 2, kx : kx + 2 * w : 2] += x @ weight[:, :, ky, kx].astype(
                np.int64
            )
    return full[1 : 2 * h + 1, 1 : 2 * w + 1]


def condition(prior: IntPrior, cond_idx: np.ndarray, height: int, width: int) -> list[np.ndarray]:
    """Per-layer additive features (H, W, C) from the coarser map (h, w), h = ceil(H / 2)."""
    x = prior["cond.embed"].astype(np.int64)[cond_idx]
    x = gelu(
        clamp16(requant(conv(x, prior["cond.conv0.w"]), prior, "cond.conv0")), prior, "lut.cond0"
    )
    x = gelu(
        clamp16(requant(conv(x, prior["cond.conv1.w"]), prior, "cond.conv1")), prior, "lut.cond1"
    )
    up = conv_transpose_4x4_s2(x, prior["cond.up.w"])
    x = gelu(clamp16(requant(up, prior, "cond.up")), prior, "lut.cond2")
    feats = requant(x @ prior["cond.out.w"][:, :, 0, 0].T.astype(np.int64), prior, "cond.out")
    feats = np.clip(feats, -COND_LIMIT, COND_LIMIT)[:height, :width]
    return np.split(feats, prior.cfg.layers + 1, axis=-1)


def logits(prior: IntPrior, idx: np.ndarray, cond_idx: np.ndarray | None = None) -> np.ndarray:
    """Integer logits (H, W, K) at every position of the (H, W) map, teacher-forced."""
    cfg = prior.cfg
    h, w = idx.shape
    taps_a, taps_b = masked_taps(cfg.kernel)
    if cfg.cond_codes:
        cond = condition(prior, cond_idx, h, w)
    else:
        cond = [np.zeros((h, w, cfg.channels), np.int64)] * (cfg.layers + 1)
    emb = prior["embed"].astype(np.int64)[idx]
    x = masked_conv(emb, prior["first.w"], taps_a, cfg.embed_dim)
    x = clamp16(requant(x, prior, "first") + cond[0])
    for layer in range(cfg.layers):
        a = gelu(x, prior, f"lut.conv{layer}")
        h_ = requant(
            masked_conv(a, prior[f"conv{layer}.w"], taps_b, cfg.channels), prior, f"conv{layer}"
        )
        g = gelu(clamp16(h_ + cond[layer + 1]), prior, f"lut.mix{layer}")
        x = clamp16(x + requant(g @ prior[f"mix{layer}.w"].astype(np.int64), prior, f"mix{layer}"))
    y = clamp16(
        requant(gelu(x, prior, "lut.head1") @ prior["head1.w"].astype(np.int64), prior, "head1")
    )
    return requant(gelu(y, prior, "lut.head2") @ prior["head2.w"].astype(np.int64), prior, "head2")


def frequencies(logit_rows: np.ndarray, exp_table: np.ndarray) -> np.ndarray:
    """(n, K) integer logits -> (n, K) int64 frequencies, each >= 1, each row summing to 2^23."""
    n, k = logit_rows.shape
    d = np.minimum(logit_rows.max(axis=1, keepdims=True) - logit_rows, EXP_SIZE - 1)
    e = exp_table.astype(np.int64)[d]
    reciprocal = ((FREQ_TOTAL - k) << RECIPROCAL_BITS) // e.sum(axis=1, keepdims=True)
    f = ((e * reciprocal) >> RECIPROCAL_BITS) + 1
    first_max = np.argmax(logit_rows, axis=1)  # numpy: the first of equal maxima
    f[np.arange(n), first_max] += FREQ_TOTAL - f.sum(axis=1)
    return f


def frequency_rows(
    prior: IntPrior, idx: np.ndarray, cond_idx: np.ndarray | None = None
) -> np.ndarray:
    """(H, W, K) int64 frequency rows of every position: what the coder must be given."""
    h, w = idx.shape
    lg = logits(prior, idx, cond_idx).reshape(h * w, -1)
    return frequencies(lg, prior["exp"]).reshape(h, w, -1)

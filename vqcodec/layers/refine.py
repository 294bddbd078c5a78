"""The refinement layer: what the VQ-VAE's reconstruction missed, transform-coded on top of it.

The code maps fix a base image x_hat; the residual x - x_hat is what is left. Measured on
held-out training images (docs/DESIGN.md, section 3c), coding that residual costs far
fewer bits per dB than the next VQ-VAE model up the ladder, so one small model plus a
refinement reaches every rate from its own up to 1+ bpp, continuously (the quantizer step).

Transform: an orthonormal colour transform (luma and two colour differences), then the
orthonormal 8x8 DCT, coefficients in zigzag order. Both are float and need not be bit-exact:
they only turn integers into pixels, as the synthesis network does.

Coding: every coefficient is quantized to an integer q with one step for all bands (MSE is
what PSNR counts; the orthonormal transforms keep it); the encoder alone chooses the rounding
(rate-distortion optimized). The integers are range-coded band by band, in zigzag order, each
band in two passes over a checkerboard of the blocks. A position's class is its channel, its
band group and its activity: how large the earlier bands of its 3x3 block neighbourhood were,
and in the second pass also this band at its four neighbours (all first-pass positions), in
log2 buckets. So the decoder knows every position's class before decoding it. Each class has
one distribution from a fixed two-parameter family (mass at zero, geometric decay of the
magnitudes), built from integers only, so every machine codes with the same frequencies; the
encoder picks the member per class that costs the fewest bits, and sends it (about 4 bits) the
first time the class is used. Magnitudes of ESCAPE and more code the excess with an Exp-Golomb
code (`coder.encode_exp_golomb`). The choices were measured on held-out training images
(docs/DESIGN.md, section 3c).

Images are coded in stripes of STRIPE_BLOCKS block rows, each its own stream with its own
class parameters: memory stays bounded and stripes decode independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from vqcodec.coding import coder
from vqcodec.errors import CorruptStreamError

BLOCK = 8
STRIPE_BLOCKS = 64  # block rows per stripe: 512 pixel rows
STEP_UNITS = 4  # the header stores the step in quarters
MIN_STEP_Q, MAX_STEP_Q = 4, 4095  # steps from 1.0 to 1023.75 (DCT units of 8-bit pixels)
STEP_RANGE = (MIN_STEP_Q / STEP_UNITS, MAX_STEP_Q / STEP_UNITS)  # the same, as steps
ESCAPE = 15  # magnitudes coded as symbols: 0..ESCAPE (ESCAPE: "this or more")
# the excess over ESCAPE: coder's Exp-Golomb code, whose 0 .. 2^13 - 2 suffice for 8-bit residuals
SYMBOLS = 2 * ESCAPE + 1  # q + ESCAPE for q in [-ESCAPE, ESCAPE]
BAND_GROUPS = np.array([1, 2, 3, 4, 6, 8, 10, 13, 15, 21, 28, 36, 45, 64])  # zigzag upper ends
ACTIVITY_LEVELS = 10
NEAR_WEIGHT = 4  # second pass: the band's own neighbours count this much in the activity
FREQ_BITS = 20  # frequencies of a row sum to 2^20
DEADZONE = 0.1  # the encoder's first rounding offset toward zero (not in the format)
RD_LAMBDA = 0.15  # the encoder's rate-distortion trade: squared error per bit, in steps^2

# The colour transform: rows orthonormal, so the inverse is the transpose.
COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float64)
COLOUR /= np.linalg.norm(COLOUR, axis=1, keepdims=True)
_K, _N = np.meshgrid(np.arange(BLOCK), np.arange(BLOCK), indexing="ij")
_DCT = np.sqrt(np.where(_K == 0, 1, 2) / BLOCK) * np.cos(np.pi * (2 * _N + 1) * _K / (2 * BLOCK))
ZIGZAG = sorted(
    ((i, j) for i in range(BLOCK) for j in range(BLOCK)),
    key=lambda t: (t[0] + t[1], t[1] if (t[0] + t[1]) % 2 else t[0]),
)
_ZIGZAG_FLAT = np.array([i * BLOCK + j for i, j in ZIGZAG])
# The 2D DCT as one product: row z holds the pixels (raster order) of the z-th zigzag frequency
# (k, l), D[k, i] * D[l, j]; orthonormal, so the forward transform is its transpose. One GEMM
# over all blocks is about twice as fast as two 8x8 products per block (measured).
_BASIS = np.einsum("ki,lj->klij", _DCT, _DCT).reshape(BLOCK * BLOCK, -1)[_ZIGZAG_FLAT]
BAND_GROUP = np.searchsorted(BAND_GROUPS, np.arange(BLOCK * BLOCK), side="right")
GROUPS = len(BAND_GROUPS)


@dataclass(frozen=True)
class Refinement:
    step_q: int  # quantizer step in 1/STEP_UNITS
    streams: list[bytes]  # one per stripe

    @property
    def step(self) -> float:
        return self.step_q / STEP_UNITS


def stripes(height: int) -> list[tuple[int, int]]:
    """Pixel rows (start, end) of every stripe of an image `height` rows high."""
    rows = STRIPE_BLOCKS * BLOCK
    return [(y, min(y + rows, height)) for y in range(0, height, rows)]


def step_q(step: float) -> int:
    """A quantizer step as the header stores it; ValueError outside the format's range."""
    q = round(step * STEP_UNITS)
    if not MIN_STEP_Q <= q <= MAX_STEP_Q:
        raise ValueError(f"refinement step {step} is outside {STEP_RANGE[0]}..{STEP_RANGE[1]}")
    return q


# ---- transform ---------------------------------------------------------------------------------


def _padded(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    return np.pad(x, ((0, -h % BLOCK), (0, -w % BLOCK), (0, 0)), mode="edge")


def forward(residual: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, 3) residual -> (channels, H/8, W/8, 64) coefficients in zigzag order (padded by
    edge replication to whole blocks)."""
    y = _padded(residual.astype(np.float64)) @ COLOUR[:channels].T
    h, w = y.shape[:2]
    blocks = y.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, channels).transpose(4, 0, 2, 1, 3)
    return blocks.reshape(channels, h // BLOCK, w // BLOCK, BLOCK * BLOCK) @ _BASIS.T


def inverse(coef: np.ndarray, height: int, width: int) -> np.ndarray:
    """Inverse of `forward`: (H, W, 3) float residual, cropped."""
    channels, bh, bw, _ = coef.shape
    blocks = (coef.reshape(-1, BLOCK * BLOCK).astype(np.float64) @ _BASIS).reshape(
        channels, bh, bw, BLOCK, BLOCK
    )
    y = blocks.transpose(1, 3, 2, 4, 0).reshape(bh * BLOCK, bw * BLOCK, channels)
    return (y @ COLOUR[:channels])[:height, :width]


def quantize(coef: np.ndarray, step: float, deadzone: float = DEADZONE) -> np.ndarray:
    """Dead-zone quantization: magnitudes round down unless over (k + 0.5 + deadzone) steps."""
    mags = np.floor(np.abs(coef) / step + (0.5 - deadzone))
    return (np.sign(coef) * np.maximum(mags, 0)).astype(np.int32)


def rd_quantize(coef: np.ndarray, step: float, deadzone: float = DEADZONE) -> np.ndarray:
    """Rate-distortion optimized quantization (encoder only): from dead-zone rounding, each
    magnitude steps one toward zero where that saves more bits than RD_LAMBDA * step^2 pays in
    squared error; the bits are those of the cheapest family member of each class for the
    rounded coefficients (their classes held fixed). Measured on held-out training images: 2 %
    fewer bits at equal PSNR than the best plain dead zone (0.2)."""
    q = quantize(coef, step, deadzone)
    symbols, classes = _symbols_and_classes(q)
    rows = choose_members(symbols, classes, q.shape[0])[classes]  # (bands, positions)
    band_major = np.moveaxis(q, -1, 0).reshape(len(rows), -1)
    target = np.moveaxis(coef, -1, 0).reshape(len(rows), -1)

    def cost(candidate: np.ndarray) -> np.ndarray:
        bits = _costs()[rows, np.clip(candidate, -ESCAPE, ESCAPE) + ESCAPE]
        return (target - candidate * step) ** 2 + RD_LAMBDA * step * step * bits

    smaller = band_major - np.sign(band_major)
    better = (band_major != 0) & (cost(smaller) < cost(band_major))
    chosen = np.where(better, smaller, band_major).astype(np.int32)
    return np.moveaxis(chosen.reshape(q.shape[-1:] + q.shape[:-1]), 0, -1)


def refined(base: np.ndarray, q: np.ndarray, step: float) -> np.ndarray:
    """The base image plus the dequantized residual, as uint8."""
    height, width = base.shape[:2]
    residual = inverse(q * step, height, width)
    if residual.shape[2] == 1:  # grayscale: luma only, equal in R, G and B
        residual = np.repeat(residual, 3, axis=2)
    return np.clip(np.round(base + residual), 0, 255).astype(np.uint8)


# ---- the probability family (integers only) ----------------------------------------------------

_Q30 = 1 << 30
_QUARTER_POW = 902905651  # round(2^(-1/4) * 2^30)
_THIRD_POW = 852229450  # round(2^(-1/3) * 2^30)
ZERO_LEVELS = 64  # P(0) = 1 - 2^(-(j + 1) / 4): 0.16 .. 1 - 2^-16
DECAY_LEVELS = 16  # r = 1 - 2^(-(i + 1) / 3): 0.21 .. 0.975
FAMILIES = ZERO_LEVELS * DECAY_LEVELS


def _powers(base: int, n: int) -> list[int]:
    """base^1 .. base^n in Q30, rounded at each product (deterministic integer arithmetic)."""
    out, value = [], _Q30
    for _ in range(n):
        value = (value * base + _Q30 // 2) >> 30
        out.append(value)
    return out


def _member(zero: int, decay: int) -> list[int]:
    """Integer frequencies (sum 2^FREQ_BITS, each >= 1) of symbols q + ESCAPE, q in
    [-ESCAPE, ESCAPE]: mass `zero` at 0 (Q30), magnitudes m >= 1 geometric with ratio `decay`
    (Q30), the tail from ESCAPE on in the ESCAPE symbols, each sign half."""
    rest, run, mags = _Q30 - zero, _Q30, []
    for _ in range(1, ESCAPE):
        mags.append((rest * ((run * (_Q30 - decay)) >> 30)) >> 30)
        run = (run * decay) >> 30
    mags.append((rest * run) >> 30)
    half = [max(1, m >> (31 - FREQ_BITS)) for m in mags]
    centre = zero >> (30 - FREQ_BITS)  # >= 0.15 * 2^FREQ_BITS: takes the rounding remainder
    centre += (1 << FREQ_BITS) - centre - 2 * sum(half)
    return [*half[::-1], centre, *half]


@cache
def family() -> np.ndarray:
    """(FAMILIES, SYMBOLS) int64 frequency rows; member j * DECAY_LEVELS + i."""
    zeros = [_Q30 - p for p in _powers(_QUARTER_POW, ZERO_LEVELS)]
    decays = [_Q30 - p for p in _powers(_THIRD_POW, DECAY_LEVELS)]
    return np.array([_member(z, r) for z in zeros for r in decays], np.int64)


@cache
def _models() -> list[coder.Model]:
    """The coder's models of the family: f / 2^FREQ_BITS, exact in float32, quantized to the
    coder's 2^24 tables as the float rows always were (`coder.frequency_table`)."""
    probs = family().astype(np.float64) * 2.0**-FREQ_BITS
    return [coder.categorical(p) for p in probs.astype(np.float32)]


@cache
def _costs() -> np.ndarray:
    """(FAMILIES, SYMBOLS) bits of each symbol under each member (the encoder's choice only)."""
    return FREQ_BITS - np.log2(family().astype(np.float64))


# A class's member is sent once, the first time the class is used: a flag for the all-zero
# member (about half the classes of a stripe at the ladder's steps: measured 52 % on held-out
# training images), else the zero level (uniform) and the decay (geometric: 90 % take the
# fastest). About 4 bits a class on average, against 10 for a uniform member.
ZERO_MEMBER = (ZERO_LEVELS - 1) * DECAY_LEVELS  # the highest P(0), the fastest decay
_HALF = coder.categorical([0.5, 0.5])
_ZERO_LEVEL = coder.uniform(ZERO_LEVELS)
_DECAY_P = [2.0 ** -(i + 1) for i in range(DECAY_LEVELS - 1)] + [2.0 ** -(DECAY_LEVELS - 1)]
_DECAY = coder.categorical(_DECAY_P)


def _encode_member(encoder: coder.Encoder, member: int) -> None:
    encoder.encode(np.array([int(member == ZERO_MEMBER)]), _HALF)
    if member != ZERO_MEMBER:
        encoder.encode(np.array([member // DECAY_LEVELS]), _ZERO_LEVEL)
        encoder.encode(np.array([member % DECAY_LEVELS]), _DECAY)


def _decode_member(decoder: coder.Decoder) -> int:
    if decoder.decode(_HALF, 1)[0]:
        return ZERO_MEMBER
    level = int(decoder.decode(_ZERO_LEVEL, 1)[0])
    return level * DECAY_LEVELS + int(decoder.decode(_DECAY, 1)[0])


# ---- contexts ----------------------------------------------------------------------------------


def _activity(earlier: np.ndarray, near: np.ndarray | int = 0) -> np.ndarray:
    """Log2 bucket of the earlier bands' magnitudes summed over each 3x3 block neighbourhood,
    plus `near` (the band's own magnitudes around a second-pass position)."""
    padded = np.pad(earlier, ((0, 0), (1, 1), (1, 1)))
    h, w = earlier.shape[1:]
    total = sum(padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    total = total + near
    buckets = np.zeros(total.shape, np.int64)
    for level in range(1, ACTIVITY_LEVELS):  # bit length of the total, capped
        buckets += total >= (1 << (level - 1))
    return buckets


def second_pass(shape: tuple[int, ...]) -> np.ndarray:
    """Flat mask of the positions coded in a band's second pass: the odd squares of a
    checkerboard over the blocks, whose four neighbours are all in the first pass."""
    channels, bh, bw = shape
    rows, cols = np.indices((bh, bw))
    return np.broadcast_to((rows + cols) % 2 == 1, (channels, bh, bw)).reshape(-1)


def _band_classes(earlier: np.ndarray, band: int, first: np.ndarray | None = None) -> np.ndarray:
    """Class of every position of `band`, flat raster order: channel, band group and activity.
    In the second pass the activity also counts NEAR_WEIGHT x the band's capped magnitudes at
    the four neighbours (`first`: the band's capped magnitudes at first-pass positions, zero
    elsewhere; None: the first pass, before any is known)."""
    channels = earlier.shape[0]
    chan = np.arange(channels)[:, None, None]
    group = int(BAND_GROUP[band])
    near: np.ndarray | int = 0
    if first is not None:
        odd = second_pass(earlier.shape).reshape(earlier.shape)
        padded = np.pad(first, ((0, 0), (1, 1), (1, 1)))
        near = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2]
        near = NEAR_WEIGHT * (near + padded[:, 1:-1, 2:]) * odd
    return ((chan * GROUPS + group) * ACTIVITY_LEVELS + _activity(earlier, near)).reshape(-1)


def classes_count(channels: int) -> int:
    return channels * GROUPS * ACTIVITY_LEVELS


# ---- coding ------------------------------------------------------------------------------------


def _symbols_and_classes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bands, positions) symbols and classes of a stripe's quantized coefficients."""
    mags = np.minimum(np.abs(q), ESCAPE)
    earlier = np.zeros(q.shape[:3], np.int64)
    first = ~second_pass(q.shape[:3]).reshape(q.shape[:3])
    symbols, classes = [], []
    for band in range(BLOCK * BLOCK):
        classes.append(_band_classes(earlier, band, mags[..., band] * first))
        symbols.append((np.clip(q[..., band], -ESCAPE, ESCAPE) + ESCAPE).reshape(-1))
        earlier += mags[..., band]
    return np.stack(symbols), np.stack(classes)


def member_costs(symbols: np.ndarray, classes: np.ndarray, count: int) -> np.ndarray:
    """(count, FAMILIES) bits of coding each class's symbols with each family member, the
    member's own bits included (encoder only; classes not present cost their member alone)."""
    hist = np.zeros((count, SYMBOLS), np.int64)
    np.add.at(hist, (classes.reshape(-1), symbols.reshape(-1)), 1)
    return hist @ _costs().T + _member_bits()


def choose_members(symbols: np.ndarray, classes: np.ndarray, channels: int) -> np.ndarray:
    """The family member of every class that codes these symbols, and itself, in the fewest
    bits (encoder only)."""
    return np.argmin(member_costs(symbols, classes, classes_count(channels)), axis=1)


@cache
def _member_bits() -> np.ndarray:
    """Bits of sending each member (`_encode_member`)."""
    decay = -np.log2(np.array(_DECAY_P))
    bits = 1 + np.log2(ZERO_LEVELS) + np.tile(decay, ZERO_LEVELS)
    bits[ZERO_MEMBER] = 1.0
    return bits


def encode_stripe(q: np.ndarray) -> bytes:
    """Range-code a stripe's (channels, bh, bw, 64) quantized coefficients."""
    channels = q.shape[0]
    symbols, classes = _symbols_and_classes(q)
    members = choose_members(symbols, classes, channels)
    models = _models()
    encoder = coder.Encoder()
    sent = np.zeros(len(members), bool)
    passes = _passes(q.shape[:3])
    for band in range(BLOCK * BLOCK):
        for subset in passes:
            for cls, positions in _by_class(classes[band], subset):
                if not sent[cls]:
                    _encode_member(encoder, members[cls])
                    sent[cls] = True
                encoder.encode(symbols[band, positions], models[members[cls]])
        excess = np.abs(q[..., band].reshape(-1)) - ESCAPE
        coder.encode_exp_golomb(encoder, excess[excess >= 0])
    return encoder.to_bytes()


def _passes(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of a band's first and second pass, each in raster order."""
    odd = second_pass(shape)
    return np.flatnonzero(~odd), np.flatnonzero(odd)


def _by_class(classes: np.ndarray, subset: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(class, positions in raster order) for every class present among the positions
    `subset` (ascending), in class order."""
    if not len(subset):  # a single block has no second pass
        return []
    order = subset[np.argsort(classes[subset], kind="stable")]
    present, starts = np.unique(classes[order], return_index=True)
    ends = [*starts[1:], len(order)]
    return [(int(c), order[a:b]) for c, a, b in zip(present, starts, ends, strict=True)]


def decode_stripe(data: bytes, channels: int, bh: int, bw: int) -> np.ndarray:
    """Inverse of `encode_stripe`: the (channels, bh, bw, 64) int32 coefficients."""
    decoder = coder.Decoder(data, "refinement decoder failed")
    models = _models()
    members = np.full(classes_count(channels), -1, np.int64)
    q = np.zeros((channels, bh, bw, BLOCK * BLOCK), np.int32)
    earlier = np.zeros((channels, bh, bw), np.int64)
    passes = _passes((channels, bh, bw))
    for band in range(BLOCK * BLOCK):
        values = np.full(channels * bh * bw, ESCAPE, np.int64)  # symbols of q = 0
        for second, subset in enumerate(passes):
            first = np.abs(values - ESCAPE).reshape(channels, bh, bw) if second else None
            classes = _band_classes(earlier, band, first)  # first: zero at second-pass places
            for cls, positions in _by_class(classes, subset):
                if members[cls] < 0:
                    members[cls] = _decode_member(decoder)
                values[positions] = decoder.decode(models[members[cls]], len(positions))
        values -= ESCAPE
        escaped = np.flatnonzero(np.abs(values) == ESCAPE)
        if len(escaped):
            excess = coder.decode_exp_golomb(decoder, len(escaped))
            values[escaped] += np.sign(values[escaped]) * excess
        band_q = values.reshape(channels, bh, bw)
        q[..., band] = band_q
        earlier += np.minimum(np.abs(band_q), ESCAPE)
    return q


# ---- whole images ------------------------------------------------------------------------------


def encode(
    rgb: np.ndarray, base: np.ndarray, step: float, channels: int
) -> tuple[Refinement, np.ndarray, np.ndarray]:
    """The refinement of `base` toward `rgb` (both H x W x 3 uint8) at quantizer `step`, coding
    `channels` of the colour transform (3, or 1 for grayscale); the refined image the decoder
    will produce from this base; and each block's count of nonzero coefficients (channels,
    blocks down, blocks across)."""
    sq = step_q(step)
    streams, out, nonzero = [], np.empty_like(base), []
    for y0, y1 in stripes(rgb.shape[0]):
        residual = rgb[y0:y1].astype(np.float64) - base[y0:y1]
        q = rd_quantize(forward(residual, channels), sq / STEP_UNITS)
        streams.append(encode_stripe(q))
        out[y0:y1] = refined(base[y0:y1], q, sq / STEP_UNITS)
        nonzero.append(np.count_nonzero(q, axis=-1))
    return Refinement(sq, streams), out, np.concatenate(nonzero, axis=1)


def decode(
    base: np.ndarray, refinement: Refinement, channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `encode`: the refined H x W x 3 uint8 image and the blocks' nonzero counts."""
    if not MIN_STEP_Q <= refinement.step_q <= MAX_STEP_Q:
        raise CorruptStreamError(f"invalid refinement step {refinement.step_q} in .vqz header")
    parts = stripes(base.shape[0])
    if len(refinement.streams) != len(parts):
        raise CorruptStreamError(
            f"the file has {len(refinement.streams)} refinement stripes; its size needs "
            f"{len(parts)}"
        )
    out, nonzero = np.empty_like(base), []
    bw = -(-base.shape[1] // BLOCK)
    for (y0, y1), data in zip(parts, refinement.streams, strict=True):
        q = decode_stripe(data, channels, -(-(y1 - y0) // BLOCK), bw)
        out[y0:y1] = refined(base[y0:y1], q, refinement.step)
        nonzero.append(np.count_nonzero(q, axis=-1))
    return out, np.concatenate(nonzero, axis=1)

"""The restoration filter: a per-image Wiener filter on the decoded image (format 4).

After the code maps and the refinement, the decoded image still has structure a small linear
filter can remove: the refinement's 8x8 block edges and the synthesis network's bias on this
image. The encoder fits, by least squares against the original, a 5x5 point-symmetric filter
per channel of the refinement's orthonormal colour space, or one per activity class of the
refinement (how many nonzero coefficients a block has), and sends it (about 100 bits a filter)
only where its squared-error saving pays for its bits at the refinement's rate-distortion
trade. Measured on held-out training images (docs/DESIGN.md, section 3d).

The filter adds to each pixel y a weighted sum of second differences y(p + o) + y(p - o) - 2y(p)
over the offsets o of a 5x5 box, plus a constant: it leaves flat areas alone, so its integer
weights (in 1/2^FRACTION_BITS) need no more precision than the differences do. Like the
synthesis network, it only turns integers into pixels, in float: it never feeds a probability,
so the determinism contract does not reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vqcodec.coding import coder
from vqcodec.errors import CorruptStreamError
from vqcodec.layers import refine

RADIUS = 2
OFFSETS = [  # one of each pair (o, -o) in the 5x5 box but the centre
    (dy, dx) for dy in range(RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1) if dy or dx > 0
]
TAPS = len(OFFSETS) + 1  # the second differences, then the constant
FRACTION_BITS = 7
MAX_WEIGHT = 4095  # |weight| in 1/2^FRACTION_BITS: zigzagged it fits coder's Exp-Golomb code
CHUNK_ROWS = 256  # rows filtered at once: bounds the memory of the differences
BASE_ONLY_STEP = 256.0  # the trade of a file without refinement: as at the coarsest step used
CLASSES = 4  # activity classes (`activity_classes`)
_MODE = coder.uniform(3)  # none, one filter, one per class


@dataclass(frozen=True)
class Filter:
    """Per colour channel: None (unfiltered), or the integer weights (TAPS each, in
    1/2^FRACTION_BITS) of one filter for every pixel or of one per activity class."""

    weights: tuple[tuple[tuple[int, ...], ...] | None, ...]

    @property
    def active(self) -> bool:
        return any(w is not None for w in self.weights)


def activity_classes(nonzero: np.ndarray, height: int, width: int) -> np.ndarray:
    """(channels, H, W) class of every pixel from `nonzero` (channels, blocks down, blocks
    across), how many nonzero refinement coefficients its block has in that channel: 0, 1, 2-3,
    4+ (integers the decoder has exactly)."""
    level = ((nonzero >= 1).astype(np.int8) + (nonzero >= 2)) + (nonzero >= 4)
    return np.repeat(np.repeat(level, refine.BLOCK, 1), refine.BLOCK, 2)[:, :height, :width]


def unrefined_classes(channels: int, height: int, width: int) -> np.ndarray:
    """The classes of a file without refinement: all 0 (no nonzero coefficient anywhere)."""
    return np.zeros((channels, height, width), np.int8)


def _colour(rgb: np.ndarray, channels: int, dtype: type = np.float64) -> np.ndarray:
    return rgb.astype(dtype) @ refine.COLOUR[:channels].T.astype(dtype)


def _differences(window: np.ndarray, top: int, rows: int) -> list[np.ndarray]:
    """The second differences p(o) + p(-o) - 2p of every offset o at `rows` rows from row `top`
    of `window` (a plane's rows with up to RADIUS more on each side; edges replicated), each
    (rows, width)."""
    padded = np.pad(window, RADIUS, mode="edge")
    top += RADIUS
    width = window.shape[1]

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[top + dy : top + dy + rows, RADIUS + dx : RADIUS + dx + width]

    twice = 2 * at(0, 0)
    return [at(dy, dx) + at(-dy, -dx) - twice for dy, dx in OFFSETS]


def _windows(decoded: np.ndarray, channels: int) -> Iterator[tuple[int, int, np.ndarray, int]]:
    """Per chunk of rows y0..y1: (y0, y1, the colour planes of rows y0 - RADIUS .. y1 + RADIUS
    (within the image) as float32, the row of y0 in them). Chunked, the colour copies stay
    small on a large image."""
    height = decoded.shape[0]
    for y0, y1 in _chunks(height):
        start = max(y0 - RADIUS, 0)
        window = _colour(decoded[start : min(y1 + RADIUS, height)], channels, np.float32)
        yield y0, y1, window, y0 - start


def _chunks(height: int) -> list[tuple[int, int]]:
    return [(y, min(y + CHUNK_ROWS, height)) for y in range(0, height, CHUNK_ROWS)]


def trade(step: float | None) -> float:
    """Squared error (8-bit RGB units, summed) one bit must save: the refinement's
    rate-distortion trade at this step (the coarsest ladder step for a file without one)."""
    return refine.RD_LAMBDA * (step or BASE_ONLY_STEP) ** 2


def weight_bits(weights: np.ndarray) -> float:
    """Bits of these integer weights in the stream (Exp-Golomb of their zigzag)."""
    value = _zigzag(weights) + 1
    return float(np.sum(2 * np.floor(np.log2(value)) + 1))


def _solve(gram: np.ndarray, cross: np.ndarray) -> tuple[np.ndarray, float]:
    """Integer weights minimizing the squared error, and the squared error they remove."""
    exact = np.linalg.lstsq(gram, cross, rcond=None)[0]
    weights = np.clip(np.round(exact * (1 << FRACTION_BITS)), -MAX_WEIGHT, MAX_WEIGHT)
    w = weights / (1 << FRACTION_BITS)
    return weights.astype(np.int64), float(2 * w @ cross - w @ gram @ w)


def fit(rgb: np.ndarray, decoded: np.ndarray, classes: np.ndarray, lam: float) -> Filter:
    """Per colour channel of `classes` (channels, H, W), the filters that bring `decoded`
    nearest `rgb` (least squares): none, one, or one per class, whichever costs least in
    squared error + `lam` x bits (encoder only)."""
    channels = classes.shape[0]
    chosen: list[tuple[tuple[int, ...], ...] | None] = []
    moments = np.zeros((channels, CLASSES, TAPS + 1, TAPS + 1))  # of [design | target - source]
    for y0, y1, window, top in _windows(decoded, channels):
        error = _colour(rgb[y0:y1], channels, np.float32) - window[top : top + y1 - y0]
        for c in range(channels):
            columns = _differences(window[..., c], top, y1 - y0)
            columns += [np.ones_like(columns[0]), error[..., c]]
            a = np.stack(columns).reshape(TAPS + 1, -1)
            cls = classes[c, y0:y1].reshape(-1)
            for k in np.unique(cls):
                part = a[:, cls == k] if k or cls.any() else a
                moments[c, k] += part @ part.T  # float32 products, float64 sums over chunks
    for c in range(channels):
        gram, cross = moments[c, :, :TAPS, :TAPS], moments[c, :, :TAPS, TAPS]
        one, saving = _solve(gram.sum(0), cross.sum(0))
        options = [(0.0, None), (lam * (2 + weight_bits(one)) - saving, (tuple(one),))]
        solved = [_solve(gram[k], cross[k]) for k in range(CLASSES)]  # unused classes: zeros
        cost = lam * (2 + sum(weight_bits(w) for w, _ in solved)) - sum(s for _, s in solved)
        options.append((cost, tuple(tuple(w) for w, _ in solved)))
        chosen.append(min(options, key=lambda o: o[0])[1])
    return Filter(tuple(chosen))


def apply(decoded: np.ndarray, filt: Filter, classes: np.ndarray) -> np.ndarray:
    """The filtered image (H x W x 3 uint8); `decoded` itself when nothing is filtered."""
    if not filt.active:
        return decoded
    channels = len(filt.weights)
    out = np.empty_like(decoded)
    for y0, y1, window, top in _windows(decoded, channels):
        delta = np.zeros((y1 - y0, decoded.shape[1], channels), np.float32)
        for c, weights in enumerate(filt.weights):
            if weights is None:
                continue
            w = np.array(weights, np.float32).T / (1 << FRACTION_BITS)  # (TAPS, filters)
            cls = classes[c, y0:y1].astype(np.intp) if len(weights) > 1 else 0
            delta[..., c] = w[-1][cls]
            for k, difference in enumerate(_differences(window[..., c], top, y1 - y0)):
                delta[..., c] += w[k][cls] * difference
        rgb = decoded[y0:y1] + delta @ refine.COLOUR[:channels].astype(np.float32)
        out[y0:y1] = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return out


def _zigzag(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, np.int64)
    return np.where(v < 0, -2 * v - 1, 2 * v)


def encode(filt: Filter) -> bytes:
    """The filter as a range-coded stream: per channel its mode (none, one filter, one per
    class), then the zigzagged weights (Exp-Golomb). Empty when no channel is filtered."""
    if not filt.active:
        return b""
    encoder = coder.Encoder()
    for weights in filt.weights:
        mode = 0 if weights is None else 1 if len(weights) == 1 else 2
        encoder.encode(np.array([mode]), _MODE)
        if weights is not None:
            coder.encode_exp_golomb(encoder, _zigzag(np.array(weights).reshape(-1)))
    return encoder.to_bytes()


def decode(data: bytes, channels: int) -> Filter:
    """Inverse of `encode`; CorruptStreamError for a stream that is not one."""
    if not data:
        return Filter((None,) * channels)
    decoder = coder.Decoder(data, "restoration filter stream is damaged")
    chosen: list[tuple[tuple[int, ...], ...] | None] = []
    for _ in range(channels):
        mode = int(decoder.decode(_MODE, 1)[0])
        if mode == 0:
            chosen.append(None)
            continue
        filters = 1 if mode == 1 else CLASSES
        z = coder.decode_exp_golomb(decoder, filters * TAPS)
        w = np.where(z % 2, -(z + 1) // 2, z // 2).reshape(filters, TAPS)
        chosen.append(tuple(tuple(int(v) for v in row) for row in w))
    filt = Filter(tuple(chosen))  # |weights| <= MAX_WEIGHT: the code cannot say more
    if not filt.active:
        raise CorruptStreamError("restoration filter stream with no filtered channel")
    if not decoder.maybe_exhausted():
        raise CorruptStreamError("restoration filter stream has trailing data")
    return filt

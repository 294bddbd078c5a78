"""Range coding of code maps under the priors (the coder itself: `vqcodec.coding.coder`).

Format 2 (`encode_tiles` / `decode_tiles`): the integer prior (`coding.intprior`) gives every
position an integer frequency row summing to 2^23; both directions walk the same lockstep
wavefront schedule (`vqcodec.coding.int_stepper`), one range coder per tile. The rows are exact
integers, so any machine, thread count or device computes the same ones.

Format 1 (`encode_map` / `decode_map`, kept to read old files): the float prior through
`PixelCNNStepper`, single-threaded, bit-identical only on machines whose float arithmetic
matches the writer's (docs/DESIGN.md section 2).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vqcodec.coding.coder import Decoder, Encoder
from vqcodec.coding.coder import bytes_to_words as bytes_to_words  # re-exported: codec, legacy_v1
from vqcodec.coding.coder import words_to_bytes as words_to_bytes
from vqcodec.coding.int_stepper import Front, IntStepper
from vqcodec.coding.intprior import FREQ_BITS, IntPriorTorch
from vqcodec.coding.schedule import wavefronts
from vqcodec.errors import CorruptStreamError
from vqcodec.model.prior import PixelCNN, PixelCNNStepper

ProbsHook = Callable[[np.ndarray], None]  # sees every float32 probability block handed to the coder


def probability_rows(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The one policy turning logits (n, K) into coder input, for encoder and decoder alike.

    Softmax and normalisation in float64, then a single cast to a C-contiguous float32 array
    (the coder quantizes float32 rows; docs/CODER.md). Returns (float32 rows for the coder,
    float64 rows for ideal-bit accounting).
    """
    p64 = torch.softmax(logits.double(), dim=1).numpy()
    p64 /= p64.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(p64, dtype=np.float32), p64


_PRIOR_LOCK = threading.RLock()


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread. torch's thread count is process-wide, so prior passes from
    several Python threads are serialized: none can change it under another's feet."""
    with _PRIOR_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


@dataclass(frozen=True)
class EncodedMap:
    words: np.ndarray  # uint32 range-coder output
    ideal_bits: float  # sum of -log2 p (float64) of the coded symbols
    symbols: torch.Tensor | None = None  # the coded (h, w) indices (format 2)


# One coding step: the wavefront's positions and coder input -> the symbols at those positions.
CodeStep = Callable[[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray], torch.Tensor]


def _walk(
    net: PixelCNN,
    height: int,
    width: int,
    cond_idx: torch.Tensor | None,
    code_step: CodeStep,
    hook: ProbsHook | None,
) -> None:
    """The one schedule both directions follow: for each wavefront, compute the probabilities,
    let `code_step` encode or decode the symbols there, and make them visible to later steps."""
    with single_thread():
        stepper = PixelCNNStepper(net, height, width, cond_idx)
        for rows, cols in wavefronts(height, width, net.cfg.reach):
            probs, p64 = probability_rows(stepper.step(rows, cols))
            if hook is not None:
                hook(probs)
            stepper.set_symbols(rows, cols, code_step(rows, cols, probs, p64))


def encode_map(
    net: PixelCNN, idx: torch.Tensor, cond_idx: torch.Tensor | None, hook: ProbsHook | None = None
) -> EncodedMap:
    """Range-code an (H, W) map of indices under `net` (conditioned on `cond_idx` if given)."""
    encoder = Encoder()
    ideal = 0.0

    def encode_step(rows, cols, probs, p64):
        nonlocal ideal
        symbols = idx[rows, cols]
        sym = symbols.numpy().astype(np.int32)
        encoder.encode_rows(sym, probs)
        ideal -= float(np.log2(p64[np.arange(len(sym)), sym]).sum())
        return symbols

    _walk(net, *idx.shape, cond_idx, encode_step, hook)
    return EncodedMap(encoder.words(), ideal)


def decode_map(
    net: PixelCNN,
    words: np.ndarray,
    height: int,
    width: int,
    cond_idx: torch.Tensor | None,
    hook: ProbsHook | None = None,
) -> torch.Tensor:
    """Inverse of `encode_map`: the (H, W) int64 index map."""
    decoder = Decoder(words)
    idx = torch.empty(height, width, dtype=torch.long)

    def decode_step(rows, cols, probs, p64):
        symbols = torch.from_numpy(decoder.decode_rows(probs))
        if symbols.numel() and int(symbols.max()) >= net.cfg.codes:
            raise CorruptStreamError("decoded an index outside the codebook")
        idx[rows, cols] = symbols
        return symbols

    _walk(net, height, width, cond_idx, decode_step, hook)
    return idx


# ---- format 2: integer prior, tiles ------------------------------------------------------------

FreqHook = Callable[[Front, torch.Tensor], None]  # sees every step's frequency rows (n, K)
# the encoder's choice at a front, from its frequency rows (n, K): the (n,) indices to code
Choice = Callable[[Front, torch.Tensor], torch.Tensor]


def coder_rows(freqs: torch.Tensor) -> np.ndarray:
    """Integer frequency rows (each summing to 2^23) as the float32 probability rows the coder
    quantizes (to 2^24, `coder.frequency_table`): f / 2^23 is exact in float32, so the coder's
    tables are as exact as the integers."""
    return np.ascontiguousarray((freqs.to(torch.float64) * 2.0**-FREQ_BITS).numpy(), np.float32)


@torch.inference_mode()
def encode_tiles(
    net: IntPriorTorch,
    tiles: list[torch.Tensor],
    conds: list[torch.Tensor] | None = None,
    hook: FreqHook | None = None,
    choose: Choice | None = None,
) -> list[EncodedMap]:
    """Range-code each (h, w) index map of `tiles` into its own stream, all in lockstep (a
    conditional prior gets the same tile of the coarser map). With `choose`, the indices are
    chosen front by front from the probabilities (`tiles` then only give the shapes); the coded
    indices are in every result's `symbols`."""
    stepper = IntStepper(net, [tuple(t.shape) for t in tiles], conds)
    flat = torch.cat([t.reshape(-1) for t in tiles])  # the layout's tile-major raster order
    encoders = [Encoder() for _ in tiles]
    ideal = [0.0] * len(tiles)
    for front in stepper.schedule:
        freqs = stepper.step(front)
        if choose is None:
            symbols = flat[front.plain]
        else:
            symbols = choose(front, freqs)
            flat[front.plain] = symbols
        if hook is not None:
            hook(front, freqs)
        probs = coder_rows(freqs)
        sym = symbols.numpy().astype(np.int32)
        chosen = freqs.gather(1, symbols[:, None])[:, 0].double().log2().numpy()
        start = 0
        for b, n in enumerate(front.counts):
            if n:
                encoders[b].encode_rows(sym[start : start + n], probs[start : start + n])
                ideal[b] += FREQ_BITS * n - float(chosen[start : start + n].sum())
                start += n
        stepper.set_symbols(front, symbols)
    coded = flat.split([t.numel() for t in tiles])
    return [
        EncodedMap(e.words(), i, c.view(t.shape))
        for e, i, c, t in zip(encoders, ideal, coded, tiles, strict=True)
    ]


@torch.inference_mode()
def decode_tiles(
    net: IntPriorTorch,
    words: list[np.ndarray],
    shapes: list[tuple[int, int]],
    conds: list[torch.Tensor] | None = None,
    hook: FreqHook | None = None,
) -> list[torch.Tensor]:
    """Inverse of `encode_tiles`: the (h, w) int64 index map of every tile."""
    stepper = IntStepper(net, shapes, conds)
    decoders = [Decoder(w) for w in words]
    flat = torch.empty(sum(h * w for h, w in shapes), dtype=torch.long)
    for front in stepper.schedule:
        freqs = stepper.step(front)
        if hook is not None:
            hook(front, freqs)
        probs = coder_rows(freqs)
        parts, start = [], 0
        for b, n in enumerate(front.counts):
            if n:
                parts.append(decoders[b].decode_rows(probs[start : start + n]))
                start += n
        symbols = torch.from_numpy(np.concatenate(parts))
        if int(symbols.max()) >= net.cfg.codes or int(symbols.min()) < 0:
            raise CorruptStreamError("decoded an index outside the codebook")
        flat[front.plain] = symbols
        stepper.set_symbols(front, symbols)
    sizes = [h * w for h, w in shapes]
    return [m.view(h, w) for m, (h, w) in zip(flat.split(sizes), shapes, strict=True)]

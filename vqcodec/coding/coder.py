"""The range coder and its integer frequency tables: the only module importing constriction.

Every coded symbol has an integer frequency table: one positive integer per symbol, summing to
2^PRECISION. vqcodec computes these tables itself (`frequency_table`, `uniform_table`), with
the rule constriction 0.5's `Categorical(perfect=False)` applies to a float32 probability row
(docs/CODER.md), so files written through constriction's own quantizer decode the same. The
range coder is constriction's queue `RangeEncoder` / `RangeDecoder` (32-bit words, 64-bit
state), handed each table as the float32 "probabilities" f - 1: exact integers summing to
2^PRECISION - K, so constriction's scale is exactly 1 and its quantizer reproduces our table
(the identity; tests/test_coder.py checks it against constriction's own tables). constriction
then only does the range coding, whose algorithm docs/CODER.md states as well.

Here, once: the tables, the words <-> bytes packing, the Exp-Golomb code, and the guard that
turns constriction's panics on damaged data (BaseException) into CorruptStreamError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import constriction
import numpy as np

from vqcodec.errors import CorruptStreamError

PRECISION = 24  # constriction 0.5's default: every table sums to 2^24
TOTAL = 1 << PRECISION
EXP_GOLOMB_PREFIXES = 13  # bit lengths 0..12 of value + 1: values 0 .. 2^13 - 2

_FAMILY = constriction.stream.model.Categorical(perfect=False)  # one table per symbol


# ---- tables ------------------------------------------------------------------------------------


def frequency_table(probs: np.ndarray) -> np.ndarray:
    """int64 frequencies (sum 2^PRECISION) of float32 probability rows (..., K), bit-exactly as
    constriction 0.5 quantizes them: float32 prefix sums left to right, scale (2^24 - K) / sum
    in float32, each left cumulative truncated plus its symbol's index, the last one 2^24."""
    return _excess(probs).astype(np.int64) + 1


def _excess(probs: np.ndarray) -> np.ndarray:
    """int32 f - 1 of `frequency_table`: with C(s) = trunc(S(s) * scale) + s and S(s) the sum
    of the first s probabilities, f(s) - 1 = D(s + 1) - D(s) for D(s) = trunc(S(s) * scale),
    D(K) = 2^24 - K. One pass less than the cumulatives: rows are many on large images."""
    p = np.ascontiguousarray(probs, np.float32)
    k = p.shape[-1]
    prefix = np.cumsum(p, axis=-1, dtype=np.float32)  # np.cumsum is sequential, as Rust's sum
    total = prefix[..., -1:]
    if not (np.isfinite(total).all() and (total >= np.finfo(np.float32).tiny).all()):
        raise ValueError("probability row not normalizable (zero, negative, NaN or infinite sum)")
    scale = np.float32(TOTAL - k) / total  # float32 division, as constriction's
    d = (prefix * scale).astype(np.int32)  # float32 product, truncated toward zero
    d[..., -1] = TOTAL - k
    return np.diff(d, axis=-1, prepend=np.zeros_like(d[..., :1]))


def uniform_table(size: int) -> np.ndarray:
    """constriction 0.5's Uniform(size): 2^24 // size each, the rest to the last symbol."""
    table = np.full(size, TOTAL // size, np.int64)
    table[-1] = TOTAL - (size - 1) * (TOTAL // size)
    return table


def _checked(tables: np.ndarray) -> np.ndarray:
    """The float32 f - 1 that makes constriction's quantizer an identity on integer `tables`."""
    tables = np.asarray(tables)
    if tables.shape[-1] < 2 or (tables.sum(axis=-1) != TOTAL).any():
        raise ValueError(f"frequency tables must have >= 2 entries summing to 2^{PRECISION}")
    return np.ascontiguousarray(tables - 1, np.float32)


@dataclass(frozen=True, eq=False)
class Model:
    """A fixed table for i.i.d. symbols, with what it was made from (float32 probabilities, or
    the size of a uniform alphabet)."""

    table: np.ndarray  # (K,) int64
    source: np.ndarray | int
    native: constriction.stream.model.Categorical


def categorical(probs: np.ndarray | list[float]) -> Model:
    """The fixed model of a float32 probability row (quantized by `frequency_table`)."""
    source = np.asarray(probs, np.float32)
    return _model(frequency_table(source), source)


@cache
def uniform(size: int) -> Model:
    """The fixed uniform model over 0 .. size - 1."""
    return _model(uniform_table(size), size)


def _model(table: np.ndarray, source: np.ndarray | int) -> Model:
    return Model(
        table, source, constriction.stream.model.Categorical(_checked(table), perfect=False)
    )


# ---- recording (tests) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Coded:
    """One coding call: the symbols and the table each was coded with (what constriction got,
    as integers), and what the tables were made from (float32 rows, a uniform size, or None)."""

    symbols: np.ndarray  # (n,)
    tables: np.ndarray  # (n, K) int64
    source: np.ndarray | int | None


_RECORDERS: list[Callable[[Coded], None]] = []


@contextlib.contextmanager
def recording() -> Iterator[list[Coded]]:
    """Collect every coding call made inside the block (a test hook: it costs copies)."""
    log: list[Coded] = []
    _RECORDERS.append(log.append)
    try:
        yield log
    finally:
        _RECORDERS.remove(log.append)


def _record(symbols: np.ndarray, q: np.ndarray, source: np.ndarray | int | None) -> None:
    if _RECORDERS:
        tables = np.broadcast_to(q.astype(np.int64) + 1, (len(symbols), q.shape[-1]))
        coded = Coded(np.array(symbols, np.int64), tables.copy(), source)
        for recorder in _RECORDERS:
            recorder(coded)


# ---- words and bytes ---------------------------------------------------------------------------


def words_to_bytes(words: np.ndarray) -> bytes:
    """Little-endian bytes of the coder's words, trailing zero bytes dropped (restored on read)."""
    return np.asarray(words).astype("<u4").tobytes().rstrip(b"\0")


def bytes_to_words(data: bytes) -> np.ndarray:
    """Inverse of `words_to_bytes`, up to trailing zero words (the decoder reads zeros there)."""
    padded = data + b"\0" * (-len(data) % 4)
    return np.frombuffer(padded, dtype="<u4").astype(np.uint32)


# ---- coding ------------------------------------------------------------------------------------


class Encoder:
    """A range encoder: symbols in, words out, in the order they were encoded."""

    def __init__(self) -> None:
        self._native = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, model: Model) -> None:
        """Encode i.i.d. `symbols` under a fixed model."""
        sym = np.ascontiguousarray(symbols, np.int32)
        if len(sym):
            self._native.encode(sym, model.native)
            _record(sym, model.table - 1, model.source)

    def encode_rows(self, symbols: np.ndarray, probs: np.ndarray) -> None:
        """Encode symbol i under the table of float32 probability row i."""
        self._encode(symbols, _excess(probs).astype(np.float32), probs)

    def encode_tables(self, symbols: np.ndarray, tables: np.ndarray) -> None:
        """Encode symbol i under integer table i (rows summing to 2^PRECISION)."""
        self._encode(symbols, _checked(tables), None)

    def _encode(self, symbols: np.ndarray, q: np.ndarray, source: np.ndarray | None) -> None:
        sym = np.ascontiguousarray(symbols, np.int32)
        if len(sym):
            self._native.encode(sym, _FAMILY, q)
            _record(sym, q, source)

    def words(self) -> np.ndarray:
        """The uint32 words so far, sealed (more symbols may follow)."""
        return np.array(self._native.get_compressed(), np.uint32)

    def to_bytes(self) -> bytes:
        return words_to_bytes(self.words())


class Decoder:
    """A range decoder over words or bytes; damaged data raises CorruptStreamError with
    `error` as its message's start (constriction may panic, a BaseException, on it)."""

    def __init__(self, data: bytes | np.ndarray, error: str = "range decoder failed") -> None:
        words = bytes_to_words(data) if isinstance(data, bytes) else data
        self._error = error
        with self._guard():
            self._native = constriction.stream.queue.RangeDecoder(
                np.ascontiguousarray(words, np.uint32)
            )

    def decode(self, model: Model, n: int) -> np.ndarray:
        """n i.i.d. symbols under a fixed model, int64."""
        if not n:
            return np.zeros(0, np.int64)
        with self._guard():
            sym = self._native.decode(model.native, n)
        _record(sym, model.table - 1, model.source)
        return sym.astype(np.int64)

    def decode_rows(self, probs: np.ndarray) -> np.ndarray:
        """One symbol per float32 probability row, int64."""
        return self._decode(_excess(probs).astype(np.float32), probs)

    def decode_tables(self, tables: np.ndarray) -> np.ndarray:
        """One symbol per integer table (rows summing to 2^PRECISION), int64."""
        return self._decode(_checked(tables), None)

    def _decode(self, q: np.ndarray, source: np.ndarray | None) -> np.ndarray:
        if not len(q):
            return np.zeros(0, np.int64)
        with self._guard():
            sym = self._native.decode(_FAMILY, q)
        _record(sym, q, source)
        return sym.astype(np.int64)

    def maybe_exhausted(self) -> bool:
        """False if the stream certainly holds more than what was decoded."""
        return bool(self._native.maybe_exhausted())

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """constriction panics (a BaseException) on some damaged data: a CorruptStreamError."""
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            raise CorruptStreamError(f"{self._error}: {exc}") from None


# ---- Exp-Golomb --------------------------------------------------------------------------------


@cache
def _prefix() -> Model:
    """The bit length k of value + 1: P(k) = 2^-(k + 1), the last two 2^-12 each."""
    last = EXP_GOLOMB_PREFIXES - 1
    return categorical([2.0 ** -(k + 1) for k in range(last)] + [2.0**-last])


def encode_exp_golomb(encoder: Encoder, values: np.ndarray) -> None:
    """Exp-Golomb for integers 0 .. 2^EXP_GOLOMB_PREFIXES - 2: the bit length k of value + 1
    (categorical `_prefix`), then, all k of one length together by increasing k, its k low
    bits (uniform over 2^k)."""
    if not len(values):
        return
    value = np.asarray(values, np.int64) + 1
    k = np.floor(np.log2(value)).astype(np.int64)
    k += (1 << (k + 1)) <= value  # exact bit lengths whatever the float log did
    k -= (1 << k) > value
    encoder.encode(k, _prefix())
    for bits in range(1, EXP_GOLOMB_PREFIXES):
        chosen = k == bits
        if chosen.any():
            encoder.encode(value[chosen] - (1 << bits), uniform(1 << bits))


def decode_exp_golomb(decoder: Decoder, n: int) -> np.ndarray:
    """Inverse of `encode_exp_golomb`: n integers."""
    k = decoder.decode(_prefix(), n)
    value = np.ones(n, np.int64) << k
    for bits in range(1, EXP_GOLOMB_PREFIXES):
        chosen = np.flatnonzero(k == bits)
        if len(chosen):
            value[chosen] += decoder.decode(uniform(1 << bits), len(chosen))
    return value - 1

"""The coder's integer tables and range coder, checked from outside (docs/CODER.md).

- the rule, recomputed here independently (plain Python on float32 scalars), gives the table the
  coder used for every symbol of a golden file of formats 2, 3 and 4;
- constriction's own tables (read back from one-symbol streams) equal ours for real rows, and
  our integer tables pass through constriction unchanged (the identity the coder relies on);
- a pure-Python range decoder and encoder (32-bit words, 64-bit state) reproduce golden
  streams from those tables.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import cache
from pathlib import Path

import constriction  # only to read constriction's own tables: vqcodec.coding.coder alone codes
import numpy as np
import pytest
import torch

from vqcodec.api import decode_indices
from vqcodec.coding import coder
from vqcodec.coding.entropy import probability_rows
from vqcodec.errors import CorruptStreamError
from vqcodec.format import bitstream
from vqcodec.layers import refine, restore

DATA = Path(__file__).parent / "data"
GOLDENS = {  # format: a small golden file of it
    2: DATA / "golden_v2_s4-t64-b32.vqz",
    3: DATA / "golden_v3_refined.vqz",
    4: DATA / "golden_v4_filtered.vqz",
}
PRECISION = 24
TOTAL = 1 << PRECISION
MASK64 = (1 << 64) - 1


# ---- the rule, written again from docs/CODER.md ------------------------------------------------


def reference_table(row: np.ndarray) -> np.ndarray:
    """The frequencies of one float32 probability row, one float32 operation at a time."""
    k = len(row)
    total = np.float32(0.0)
    for p in row:
        total = np.float32(total + p)
    scale = np.float32(np.float32(TOTAL - k) / total)
    cdf, acc = [], np.float32(0.0)
    for s, p in enumerate(row):
        cdf.append(int(np.float32(acc * scale)) + s)  # int() truncates toward zero
        acc = np.float32(acc + p)
    cdf.append(TOTAL)
    return np.diff(np.array(cdf, np.int64))


def reference_uniform(size: int) -> np.ndarray:
    per_bin = TOTAL // size
    return np.array([per_bin] * (size - 1) + [TOTAL - (size - 1) * per_bin], np.int64)


@cache
def _reference_of(kind: str, key: bytes | int) -> np.ndarray:
    if kind == "uniform":
        return reference_uniform(int(key))
    return reference_table(np.frombuffer(key, np.float32))


def expected_tables(coded: coder.Coded) -> np.ndarray:
    """What the rule gives for a coding call's source, one row per symbol."""
    if isinstance(coded.source, int):
        return np.broadcast_to(_reference_of("uniform", coded.source), coded.tables.shape)
    rows = np.asarray(coded.source, np.float32).reshape(-1, coded.tables.shape[1])
    tables = np.stack([_reference_of("rows", r.tobytes()) for r in rows])
    return np.broadcast_to(tables, coded.tables.shape)


def decode_golden(path: Path) -> dict[str, list[coder.Coded]]:
    """Every coding call of decoding a golden file, by stream kind."""
    data = path.read_bytes()
    parsed = bitstream.unpack(data)
    with coder.recording() as maps:
        decode_indices(data)
    refinement = parsed.coded(bitstream.REFINEMENT_ID).streams
    assert len(refinement) <= 1  # the golden crop is one stripe
    with coder.recording() as coefficients:
        for stream in refinement:
            height, width = parsed.header.height, parsed.header.width
            refine.decode_stripe(stream, 3, -(-height // 8), -(-width // 8))
    with coder.recording() as filters:
        for stream in parsed.coded(bitstream.FILTER_ID).streams:
            restore.decode(stream, 3)
    return {"maps": maps, "coefficients": coefficients, "filter": filters}


@pytest.fixture(scope="module")
def golden_calls() -> dict[int, dict[str, list[coder.Coded]]]:
    return {version: decode_golden(path) for version, path in GOLDENS.items()}


@pytest.mark.parametrize("version", sorted(GOLDENS))
def test_every_coded_symbol_of_a_golden_file_used_the_rule_s_table(golden_calls, version):
    calls = golden_calls[version]
    kinds = {"maps"} | ({"coefficients"} if version >= 3 else set())
    kinds |= {"filter"} if version >= 4 else set()
    assert {k for k, v in calls.items() if v} == kinds
    for kind in kinds:
        for coded in calls[kind]:
            assert coded.tables.shape == (len(coded.symbols), coded.tables.shape[1])
            assert (coded.tables >= 1).all() and (coded.tables.sum(axis=1) == TOTAL).all()
            np.testing.assert_array_equal(coded.tables, expected_tables(coded))
            assert (coded.symbols < coded.tables.shape[1]).all()


def test_golden_map_tables_come_from_the_integer_prior(golden_calls):
    """The rows the map tables were made from are the prior's integer rows f / 2^23."""
    for coded in golden_calls[2]["maps"]:
        freqs = coded.source.astype(np.float64) * 2.0**23
        assert (freqs == np.round(freqs)).all() and (freqs.sum(axis=1) == 1 << 23).all()


# ---- constriction's own tables -----------------------------------------------------------------


def constriction_table(probabilities: np.ndarray) -> np.ndarray:
    """The table constriction derives from a float32 row, read back symbol by symbol: a fresh
    encoder coding one symbol s seals to a first word of 256 x its left cumulative C(s)."""
    family = constriction.stream.model.Categorical(perfect=False)
    rows = np.ascontiguousarray(probabilities, np.float32)[None]
    cdf = []
    for s in range(rows.shape[1]):
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(np.array([s], np.int32), family, rows)
        cdf.append(int(encoder.get_compressed()[0]) >> 8)
    return np.diff(np.array([*cdf, TOTAL], np.int64))


def real_rows() -> list[np.ndarray]:
    """Rows vqcodec hands the coder: the golden format 2 file's prior rows, the refinement
    family, the fixed models, and float prior rows (format 1)."""
    with coder.recording() as calls:
        decode_indices(GOLDENS[2].read_bytes())
    rows = [r for c in calls[:40:4] for r in c.source[:3]]
    rows += [refine._models()[i].source for i in (0, 517, 1023)]
    rows += [refine._HALF.source, refine._DECAY.source, coder._prefix().source]
    rows += list(float_prior_rows(4))
    return rows


def float_prior_rows(n: int) -> np.ndarray:
    """Rows as format 1's float prior gives them (softmax in float64, cast to float32)."""
    logits = torch.from_numpy(np.random.default_rng(3).normal(0, 8, (n, 300)))
    return probability_rows(logits)[0]


def test_our_tables_are_constriction_s_own_for_real_rows():
    for row in real_rows():
        np.testing.assert_array_equal(coder.frequency_table(row), constriction_table(row))


def test_integer_tables_pass_through_constriction_unchanged():
    """The identity: constriction given f - 1 uses exactly f (down to tables of ones)."""
    rng = np.random.default_rng(0)
    tables = [coder.uniform_table(3), coder.uniform_table(4096), np.array([TOTAL - 1, 1])]
    for k in (2, 31, 300):
        table = 1 + rng.multinomial(TOTAL - k, rng.dirichlet(np.full(k, 0.05)))
        tables.append(table)
    for table in tables:
        np.testing.assert_array_equal(constriction_table(table - 1.0), table)


def test_real_rows_code_to_the_bytes_of_constriction_s_float_path(golden_calls):
    """Coding through our tables writes what constriction writes from the float rows: every
    prior row and symbol of the golden format 2 file (one stream per map size), and float
    prior rows."""
    streams: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for coded in golden_calls[2]["maps"]:
        streams.setdefault(coded.source.shape[1], []).append((coded.symbols, coded.source))
    rows = float_prior_rows(500)
    symbols = np.random.default_rng(1).integers(0, rows.shape[1], len(rows))
    streams[0] = [(symbols, rows)]
    for parts in streams.values():
        symbols = np.concatenate([s for s, _ in parts]).astype(np.int32)
        rows = np.concatenate([r for _, r in parts])
        native = constriction.stream.queue.RangeEncoder()
        native.encode(symbols, constriction.stream.model.Categorical(perfect=False), rows)
        ours = coder.Encoder()
        ours.encode_rows(symbols, rows)
        np.testing.assert_array_equal(ours.words(), native.get_compressed())


# ---- the range coder, written again from docs/CODER.md -----------------------------------------


class ReferenceDecoder:
    """The queue range decoder: 64-bit lower, range and point; 32-bit words, first word first."""

    def __init__(self, data: bytes) -> None:
        padded = data + b"\0" * (-len(data) % 4)
        self.words = [int.from_bytes(padded[i : i + 4], "little") for i in range(0, len(padded), 4)]
        self.pos = 0
        self.lower, self.range = 0, MASK64
        self.point = (self.next_word() << 32) | self.next_word()

    def next_word(self) -> int:
        """The next word; zeros past the end (the dropped trailing zero bytes, and beyond)."""
        self.pos += 1
        return self.words[self.pos - 1] if self.pos <= len(self.words) else 0

    def decode(self, table: np.ndarray) -> int:
        cdf = [0, *np.cumsum(table).tolist()]
        scale = self.range >> PRECISION
        quantile = ((self.point - self.lower) & MASK64) // scale
        assert quantile < TOTAL, "invalid data"
        symbol = bisect_right(cdf, quantile, hi=len(table)) - 1
        self.lower = (self.lower + scale * cdf[symbol]) & MASK64
        self.range = scale * int(table[symbol])
        if self.range < 1 << 32:
            self.lower = (self.lower << 32) & MASK64
            self.range <<= 32
            self.point = ((self.point << 32) & MASK64) | self.next_word()
        return symbol


class ReferenceEncoder:
    """The queue range encoder, with its carry handling ("inverted" situation) and seal."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self.lower, self.range = 0, MASK64
        self.inverted: tuple[int, int] | None = None  # (words pending, first pending word)
        self.seen: set[str] = set()  # the rare paths taken (for the tests' coverage)

    def encode(self, symbol: int, table: np.ndarray) -> None:
        left = int(np.sum(table[:symbol]))
        scale = self.range >> PRECISION
        self.range = scale * int(table[symbol])
        new_lower = (self.lower + scale * left) & MASK64
        if self.inverted and new_lower + self.range <= MASK64:  # the carry is now known
            pending, first = self.inverted
            carried = new_lower < self.lower
            self.words += [first + carried] + [0 if carried else 0xFFFFFFFF] * (pending - 1)
            self.inverted = None
            self.seen.add("carry" if carried else "no carry")
        self.lower = new_lower
        if self.range < 1 << 32:
            self.range <<= 32
            word = self.lower >> 32
            self.lower = (self.lower << 32) & MASK64
            if self.inverted:
                self.inverted = (self.inverted[0] + 1, self.inverted[1])
            elif self.lower + self.range <= MASK64:
                self.words.append(word)
            else:
                self.inverted = (1, word)

    def to_bytes(self) -> bytes:
        """Seal: flush pending words and the point lower + 2^32 - 1, then drop zero bytes."""
        words = list(self.words)
        if self.range != MASK64:
            point = self.lower + (1 << 32) - 1
            if self.inverted:
                pending, first = self.inverted
                carried = point > MASK64
                words += [first + carried] + [0 if carried else 0xFFFFFFFF] * (pending - 1)
                self.seen.add("sealed carry" if carried else "sealed no carry")
            point &= MASK64
            words.append(point >> 32)
            if ((self.lower + self.range) & MASK64) >> 32 == point >> 32:
                words.append(0)
        return b"".join(w.to_bytes(4, "little") for w in words).rstrip(b"\0")


@pytest.mark.parametrize(("version", "kind"), [(4, "filter"), (3, "coefficients")])
def test_reference_range_coder_reproduces_golden_streams(golden_calls, version, kind):
    """From the recorded tables, the reference decoder reads the coder's symbols and the
    reference encoder writes the golden stream's bytes."""
    parsed = bitstream.unpack(GOLDENS[version].read_bytes())
    layer = bitstream.FILTER_ID if kind == "filter" else bitstream.REFINEMENT_ID
    stream = parsed.coded(layer).streams[0]
    calls = golden_calls[version][kind]
    decoder, encoder = ReferenceDecoder(stream), ReferenceEncoder()
    for coded in calls:
        for symbol, table in zip(coded.symbols, coded.tables, strict=True):
            assert decoder.decode(table) == symbol
            encoder.encode(int(symbol), table)
    assert encoder.to_bytes() == stream


def test_reference_encoder_matches_the_coder_where_carries_are_pending():
    """Short streams of improbable symbols: words held back for a carry, resolved either way
    while coding and at the seal."""
    rng = np.random.default_rng(5)
    seen: set[str] = set()
    for _ in range(3000):
        n = int(rng.integers(1, 6))
        tables = np.stack([f := rng.integers(1, 256, n), TOTAL - f], axis=1)
        symbols = (rng.random(n) < 0.2).astype(np.int64)
        ours, reference = coder.Encoder(), ReferenceEncoder()
        ours.encode_tables(symbols, tables)
        for s, t in zip(symbols, tables, strict=True):
            reference.encode(int(s), t)
        assert reference.to_bytes() == ours.to_bytes()
        seen |= reference.seen
    assert seen == {"carry", "no carry", "sealed no carry"}


def test_reference_encoder_matches_the_coder_when_the_seal_carries():
    """Rare: a carry pending at the seal, resolved by the seal's own point wrapping past 2^64.
    Built on purpose: once words are held back, one more symbol moves `lower` into the top
    2^32 of the state."""
    rng = np.random.default_rng(6)
    while True:
        reference, tables, symbols = ReferenceEncoder(), [], []
        while not reference.inverted and len(symbols) < 8:
            f = int(rng.integers(1, 256))
            tables.append(np.array([f, TOTAL - f]))
            symbols.append(int(rng.random() < 0.2))
            reference.encode(symbols[-1], tables[-1])
        scale = reference.range >> PRECISION
        left = -(-((1 << 64) - (1 << 32) + 1 - reference.lower) // scale)  # ceil
        fits = 0 < left < TOTAL and reference.lower + scale * left <= MASK64
        if reference.inverted and fits and scale * (TOTAL - left) >= 1 << 32:
            break
    tables.append(np.array([left, TOTAL - left]))
    symbols.append(1)
    reference.encode(1, tables[-1])
    ours = coder.Encoder()
    ours.encode_tables(np.array(symbols), np.stack(tables))
    assert reference.to_bytes() == ours.to_bytes() and "sealed carry" in reference.seen


def test_reference_encoder_matches_the_coder_on_random_tables():
    rng = np.random.default_rng(2)
    for k, n in [(2, 3000), (5, 500), (300, 200)]:
        tables = 1 + rng.multinomial(TOTAL - k, rng.dirichlet(np.full(k, 0.1)), size=n)
        symbols = np.array([rng.choice(k, p=t / TOTAL) for t in tables])
        ours, reference = coder.Encoder(), ReferenceEncoder()
        ours.encode_tables(symbols, tables)
        for s, t in zip(symbols, tables, strict=True):
            reference.encode(int(s), t)
        assert reference.to_bytes() == ours.to_bytes()
        decoder = coder.Decoder(ours.to_bytes())
        np.testing.assert_array_equal(decoder.decode_tables(tables), symbols)


# ---- the rest of the module --------------------------------------------------------------------


def test_exp_golomb_roundtrip_over_its_whole_range():
    values = np.array([0, 1, 2, 3, 6, 7, 8, 4094, 4095, 8189, 8190, 5, 0])
    encoder = coder.Encoder()
    coder.encode_exp_golomb(encoder, values)
    decoder = coder.Decoder(encoder.to_bytes())
    np.testing.assert_array_equal(coder.decode_exp_golomb(decoder, len(values)), values)
    assert decoder.maybe_exhausted()


def test_damaged_data_is_a_corrupt_stream_error():
    decoder = coder.Decoder(b"\xff" * 8, "test stream failed")
    with pytest.raises(CorruptStreamError, match="test stream failed"):
        decoder.decode(coder.uniform(3), 1)


def test_tables_not_summing_to_2_24_are_refused():
    with pytest.raises(ValueError, match="2\\^24"):
        coder.Encoder().encode_tables(np.array([0]), np.array([[1 << 23, 1 << 23 - 1]]))
    with pytest.raises(ValueError, match="normalizable"):
        coder.frequency_table(np.zeros((1, 4), np.float32))


def test_empty_streams_are_empty():
    assert coder.Encoder().to_bytes() == b""
    assert coder.words_to_bytes(np.array([5, 0, 0], np.uint32)) == b"\x05"
    np.testing.assert_array_equal(coder.bytes_to_words(b"\x05\0\0\0\x01"), [5, 1])

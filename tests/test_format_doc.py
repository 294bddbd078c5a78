"""docs/FORMAT.md, recomputed from its text: a second decoder written from the document alone.

Everything below `# ---- the format, as written` is plain Python/numpy following FORMAT.md's
sections (no vqcodec function that implements a rule is called there; the model asset files are
read with safetensors and json, as the document says a decoder must). The tests then compare it
with vqcodec:

- (a) the header of every golden file (and of a format 5 file made from one) parses to the
  fields of `vqcodec.format.bitstream.unpack`, with every check of FORMAT.md section 2;
- (c) the code maps of every decodable golden file of formats 2-4 decode from their bytes
  through the integer prior computed from `prior_int.safetensors` (section 4) and the range
  decoder (section 5), and their CRC-32 (section 2) equals the file's; for one file every
  frequency table the coder used (`vqcodec.coding.coder.recording`) is the document's;
- (b) the refinement coefficients and the filter weights of the format 4 golden file decode the
  same, table for table, and the refined, filtered pixels agree with `vqcodec.decompress` to
  within one level given the same synthesized base image.
"""

from __future__ import annotations

import json
import struct
import zlib
from bisect import bisect_right
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

DATA = Path(__file__).parent / "data"
MODELS = Path(__file__).resolve().parents[1] / "models"
GOLDEN_FILES = sorted(DATA.glob("*.vqz"))
FILTERED = DATA / "golden_v4_filtered.vqz"
GOLDEN_V6 = DATA / "golden_v6_layers.vqz"
GOLDEN_V6_FILES = [GOLDEN_V6, *sorted(DATA.glob("golden_v6_restore-net-*.vqz"))]
MASK64 = (1 << 64) - 1


# ---- the format, as written in docs/FORMAT.md ------------------------------------------------

# section 2: the container

MAX_SIDE, MAX_PIXELS = 16384, 1 << 24
MIN_TILE, MAX_TILE, MAX_MAPS, MAX_STREAMS, MAX_STRIPES = 4, 128, 8, 1 << 17, 64
MAX_TILE_CODES = 1 << 16
MAX_LAYERS, MAX_LAYER_STREAMS = 8, 64


class Malformed(Exception):
    """The file is refused (any of FORMAT.md's checks)."""


class Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed("truncated header")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def varint(self) -> int:
        value = 0
        for i in range(5):
            byte = self.take(1)[0]
            value += (byte & 0x7F) * 128**i
            if byte < 0x80:
                return value
        raise Malformed("varint longer than 5 bytes")


def parse(data: bytes) -> dict:
    """FORMAT.md section 2.4, steps 1-8 (the checks that need no model)."""
    c = Cursor(data)
    if c.take(3) != b"VQZ":
        raise Malformed("magic")
    version = c.take(1)[0]
    if version not in (1, 2, 3, 4, 5, 6):
        raise Malformed("version")
    model_id, fingerprint, flags = struct.unpack("<HIB", c.take(7))
    h = {"version": version, "model_id": model_id, "fingerprint": fingerprint}
    h["colour"] = flags & 3
    if version == 1:
        if flags >> 2:
            raise Malformed("flags")
        width, height, top, bottom = (c.varint() for _ in range(4))
        h |= {"width": width, "height": height, "tile": 0, "lengths": [[top, bottom]]}
        h["layers"] = []
    else:
        if flags >> 2:
            raise Malformed("flags")
        if c.take(2) != b"\x01\x01":
            raise Malformed("arithmetic or coder")
        width, height, tile, maps, tiles = (c.varint() for _ in range(5))
        if 0 < tile < MIN_TILE or not 1 <= maps <= MAX_MAPS or not 1 <= tiles * maps <= MAX_STREAMS:
            raise Malformed("layout")
        lengths = [[c.varint() for _ in range(maps)] for _ in range(tiles)]
        h |= {"width": width, "height": height, "tile": tile, "lengths": lengths}
        h["layers"] = layer_records(c) if version >= 6 else legacy_layers(c, version)
    if h["colour"] > 1:
        raise Malformed("colour")
    fields = data[: c.pos]
    (check,) = struct.unpack("<H", c.take(2))
    if check != zlib.crc32(fields) & 0xFFFF:
        raise Malformed("header check")
    payload_crc = struct.unpack("<I", c.take(4))[0] if version >= 5 else None
    (h["crc32"],) = struct.unpack("<I", c.take(4))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE and width * height <= MAX_PIXELS):
        raise Malformed("size")
    if version >= 2 and h["tile"] > MAX_TILE:
        raise Malformed("tile")
    payload = sum(map(sum, h["lengths"])) + sum(sum(lengths) for _, _, lengths in h["layers"])
    if payload > 16 * width * height + 4096:
        raise Malformed("payload limit")
    if len(data) != c.pos + payload:
        raise Malformed("file length")
    if payload_crc is not None and zlib.crc32(data[c.pos :]) != payload_crc:
        raise Malformed("payload crc")
    pos = c.pos
    h["streams"] = []
    for tile_lengths in h["lengths"]:
        h["streams"].append([])
        for n in tile_lengths:
            h["streams"][-1].append(data[pos : pos + n])
            pos += n
    h["layer_streams"] = []
    for _, _, lengths in h["layers"]:
        h["layer_streams"].append([])
        for n in lengths:
            h["layer_streams"][-1].append(data[pos : pos + n])
            pos += n
    h["fields"] = fields
    return h | named_layers(h)


def layer_records(c: Cursor) -> list[tuple[int, int, list[int]]]:
    """Format 6: count, then (layer id, param, stream count, lengths) per record."""
    count = c.varint()
    if count > MAX_LAYERS:
        raise Malformed("layers")
    records = []
    for _ in range(count):
        layer, param, streams = c.varint(), c.varint(), c.varint()
        if streams > MAX_LAYER_STREAMS or layer <= (records[-1][0] if records else 0):
            raise Malformed("layer record")
        records.append((layer, param, [c.varint() for _ in range(streams)]))
    return records


def legacy_layers(c: Cursor, version: int) -> list[tuple[int, int, list[int]]]:
    """Formats 3-5: refine_step [stripes, lengths], filter_length as records 1 and 3."""
    records = []
    if version >= 3 and (step := c.varint()):
        stripes = c.varint()
        if not 1 <= stripes <= MAX_STRIPES:
            raise Malformed("stripes")
        records.append((1, step, [c.varint() for _ in range(stripes)]))
    if version >= 4 and (length := c.varint()):
        records.append((3, 0, [length]))
    return records


def named_layers(h: dict) -> dict:
    """The refinement (id 1), network (id 2) and filter (id 3) of the records, by name."""
    records = zip(h["layers"], h["layer_streams"], strict=True)
    found = {layer: (param, streams) for (layer, param, _), streams in records}
    step, refinement = found.get(1, (0, []))
    return {
        "refine_step": step,
        "refinement": refinement,
        "restore_net": found.get(2, (0, []))[0],
        "filter": b"".join(found.get(3, (0, [b""]))[1]),
    }


def map_sizes(width: int, height: int, stride: int) -> list[tuple[int, int]]:
    top_h, top_w = -(-height // (2 * stride)), -(-width // (2 * stride))
    return [(top_h, top_w), (2 * top_h, 2 * top_w)]


def tile_rects(top_shape: tuple[int, int], tile: int) -> list[list[tuple[int, int, int, int]]]:
    """Per tile (raster order), its rows and columns [r0, r1) x [c0, c1) in the top and the
    bottom map (section 3)."""
    th, tw = top_shape
    rows = [(a, min(a + (tile or th), th)) for a in range(0, th, tile or th)]
    cols = [(a, min(a + (tile or tw), tw)) for a in range(0, tw, tile or tw)]
    return [
        [(r0, r1, c0, c1), (2 * r0, 2 * r1, 2 * c0, 2 * c1)] for r0, r1 in rows for c0, c1 in cols
    ]


def wavefronts(h: int, w: int, reach: int) -> list[list[tuple[int, int]]]:
    """Positions of one tile of one map in coding order: by t = col + (reach + 1) * row, then
    by row (section 3)."""
    fronts: dict[int, list[tuple[int, int]]] = {}
    for i in range(h):
        for j in range(w):
            fronts.setdefault(j + (reach + 1) * i, []).append((i, j))
    return [fronts[t] for t in sorted(fronts)]


# section 5: tables and the range decoder

TOTAL = 1 << 24


def table_of_integer_row(freqs: np.ndarray, bits: int) -> np.ndarray:
    """The coder's table of an integer row summing to 2^bits (section 5.1, integer rows)."""
    k = len(freqs)
    cum = np.concatenate([[0], np.cumsum(freqs)[:-1]]).astype(np.float64)
    left = np.float32(cum * float(TOTAL - k) * 2.0**-bits).astype(np.int64) + np.arange(k)
    return np.diff(np.append(left, TOTAL))


def uniform_table(n: int) -> np.ndarray:
    table = np.full(n, TOTAL // n, np.int64)
    table[-1] = TOTAL - (n - 1) * (TOTAL // n)
    return table


HALF = np.array([8388608, 8388608])
DECAY_TABLE = np.array([8388601, 4194301, 2097151, 1048576, 524288, 262145, 131073, 65537, 32769,
                        16385, 8193, 4097, 2049, 1025, 513, 513])  # fmt: skip
PREFIX_TABLE = np.array([8388602, 4194302, 2097152, 1048576, 524288, 262145, 131073, 65537, 32769,
                         16385, 8193, 4097, 4097])  # fmt: skip


class RangeDecoder:
    """Section 5.3; `log` gets every (symbol, table) decoded."""

    def __init__(self, data: bytes, log: list | None = None) -> None:
        data += b"\0" * (-len(data) % 4)
        self.words = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
        self.pos, self.lower, self.range, self.log = 0, 0, MASK64, log
        self.point = (self.word() << 32) | self.word()

    def word(self) -> int:
        self.pos += 1
        return self.words[self.pos - 1] if self.pos <= len(self.words) else 0

    def decode(self, table: np.ndarray) -> int:
        cum = [0, *np.cumsum(table).tolist()]
        scale = self.range >> 24
        quantile = ((self.point - self.lower) & MASK64) // scale
        if quantile >= TOTAL:
            raise Malformed("range decoder: invalid data")
        s = bisect_right(cum, quantile, hi=len(table)) - 1
        self.lower = (self.lower + scale * cum[s]) & MASK64
        self.range = scale * int(table[s])
        if self.range < 1 << 32:
            self.lower = (self.lower << 32) & MASK64
            self.range <<= 32
            self.point = ((self.point << 32) & MASK64) | self.word()
        if self.log is not None:
            self.log.append((s, np.asarray(table)))
        return s

    def exhausted(self) -> bool:
        return self.pos >= len(self.words) and ((self.point - self.lower) & MASK64) < (1 << 33) - 1

    def exp_golomb(self, n: int) -> list[int]:
        k = [self.decode(PREFIX_TABLE) for _ in range(n)]
        u = [1 << b for b in k]
        for bits in range(1, 13):
            for i in range(n):
                if k[i] == bits:
                    u[i] += self.decode(uniform_table(1 << bits))
        return [v - 1 for v in u]


# section 4: the integer prior


@cache
def model_assets(model_id: int) -> tuple[dict, dict]:
    """(config with defaults, prior tensors) of a model of models/zoo.json (section 10)."""
    zoo = json.loads((MODELS / "zoo.json").read_text())
    (entry,) = [m for m in zoo["models"] if m["id"] == model_id]
    cfg = json.loads((MODELS / entry["name"] / "config.json").read_text())
    cfg["vqvae"].setdefault("stride", 4)
    return cfg, load_file(str(MODELS / entry["name"] / "prior_int.safetensors"))


def requant(acc: np.ndarray, p: dict, name: str) -> np.ndarray:
    v, sh = acc + p[name + ".b"].astype(np.int64), p[name + ".sh"].astype(np.int64)
    return np.where(sh >= 0, v >> np.maximum(sh, 0), v << np.maximum(-sh, 0))


def clamp16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -32768, 32767)


def gelu(v: np.ndarray, p: dict, name: str) -> np.ndarray:
    return p[name].astype(np.int64)[(v >> 4) + 2048]


def shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """y[i, j] = x[i + dy, j + dx], zero outside."""
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    out[max(0, -dy) : min(h, h - dy), max(0, -dx) : min(w, w - dx)] = x[
        max(0, dy) : min(h, h + dy), max(0, dx) : min(w, w + dx)
    ]
    return out


def taps(kernel: int, centre: bool) -> list[tuple[int, int]]:
    r = kernel // 2
    out = [(dy, dx) for dy in range(-r, 0) for dx in range(-r, r + 1)]
    return out + [(0, dx) for dx in range(-r, 1 if centre else 0)]


def mm(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Integer matrix product, exact: float64 holds every partial sum (section 4.4, exactness)."""
    return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def tap_conv(x: np.ndarray, w: np.ndarray, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Sum over taps t of x shifted by offset t, times rows t * CIN .. (t + 1) * CIN of w."""
    gathered = np.concatenate([shifted(x, dy, dx) for dy, dx in offsets], axis=-1)
    return mm(gathered, w)


def conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w in (COUT, CIN, 3, 3)."""
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    rows = np.concatenate([w[:, :, dy + 1, dx + 1].T for dy, dx in offsets])
    return tap_conv(x, rows, offsets)


def conditioning(p: dict, cond: np.ndarray, layers: int) -> list[np.ndarray]:
    """Section 4.3: per-layer features (2h, 2w, C) of a top-map tile (h, w)."""
    x = p["cond.embed"].astype(np.int64)[cond]  # (h, w, E)
    x = gelu(clamp16(requant(conv3x3(x, p["cond.conv0.w"]), p, "cond.conv0")), p, "lut.cond0")
    x = gelu(clamp16(requant(conv3x3(x, p["cond.conv1.w"]), p, "cond.conv1")), p, "lut.cond1")
    h, w, _ = x.shape
    w_up = p["cond.up.w"].astype(np.int64)  # (CIN, COUT, 4, 4)
    up = np.zeros((2 * h, 2 * w, w_up.shape[1]), np.int64)
    for i in range(2 * h):
        for j in range(2 * w):
            for ky in range(4):
                for kx in range(4):
                    a, b = i + 1 - ky, j + 1 - kx  # out = 2 * in - 1 + k
                    if a % 2 == 0 and b % 2 == 0 and 0 <= a // 2 < h and 0 <= b // 2 < w:
                        up[i, j] += mm(x[a // 2, b // 2], w_up[:, :, ky, kx])
    x = gelu(clamp16(requant(up, p, "cond.up")), p, "lut.cond2")
    out = requant(mm(x, p["cond.out.w"][:, :, 0, 0].T), p, "cond.out")
    return np.split(np.clip(out, -(1 << 16), 1 << 16), layers + 1, axis=-1)


def logits(p: dict, cfg: dict, idx: np.ndarray, cond: list[np.ndarray] | None) -> np.ndarray:
    """Section 4.4, on every position of a tile (causal: a position reads only earlier ones)."""
    layers = cfg["layers"]
    if cond is None:
        cond = [0] * (layers + 1)
    a_taps, b_taps = taps(cfg["kernel"], False), taps(cfg["kernel"], True)
    x = tap_conv(p["embed"].astype(np.int64)[idx], p["first.w"], a_taps)
    x = clamp16(requant(x, p, "first") + cond[0])
    for n in range(layers):
        h = requant(tap_conv(gelu(x, p, f"lut.conv{n}"), p[f"conv{n}.w"], b_taps), p, f"conv{n}")
        g = gelu(clamp16(h + cond[n + 1]), p, f"lut.mix{n}")
        x = clamp16(x + requant(mm(g, p[f"mix{n}.w"]), p, f"mix{n}"))
    y = clamp16(requant(mm(gelu(x, p, "lut.head1"), p["head1.w"]), p, "head1"))
    return requant(mm(gelu(y, p, "lut.head2"), p["head2.w"]), p, "head2")


def frequencies(logit_row: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """Section 4.5: one row of integer logits -> frequencies summing to 2^23."""
    k = len(logit_row)
    e = exp.astype(np.int64)[np.minimum(logit_row.max() - logit_row, 1023)]
    m = ((2**23 - k) << 29) // int(e.sum())
    f = ((e * m) >> 29) + 1
    f[int(np.argmax(logit_row))] += 2**23 - int(f.sum())
    return f


def decode_maps(h: dict, log: list | None = None) -> list[np.ndarray]:
    """Section 3: every tile's stream, map by map; `log` gets (map, t, tile, row F)."""
    cfg, p = model_assets(h["model_id"])
    shapes = map_sizes(h["width"], h["height"], cfg["vqvae"]["stride"])
    maps = [np.zeros(s, np.int64) for s in shapes]
    rects = tile_rects(shapes[0], h["tile"])
    assert len(rects) == len(h["streams"])
    for level, name in enumerate(("top", "bottom")):
        pc = cfg[f"prior_{name}"]
        pp = {k[len(name) + 1 :]: v for k, v in p.items() if k.startswith(name + ".")}
        for b, rect in enumerate(rects):
            r0, r1, c0, c1 = rect[level]
            idx = np.zeros((r1 - r0, c1 - c0), np.int64)
            cond = None
            if pc["cond_codes"]:
                q0, q1, s0, s1 = rect[level - 1]
                cond = conditioning(pp, maps[level - 1][q0:q1, s0:s1], pc["layers"])
            decoder = RangeDecoder(h["streams"][b][level])
            for t, front in enumerate(wavefronts(*idx.shape, pc["kernel"] // 2)):
                lg = logits(pp, pc, idx, cond)
                for i, j in front:
                    f = frequencies(lg[i, j], pp["exp"])
                    idx[i, j] = decoder.decode(table_of_integer_row(f, 23))
                    if log is not None:
                        log.append((level, t, b, f))
                    if idx[i, j] >= pc["codes"]:
                        raise Malformed("index outside the codebook")
            maps[level][r0:r1, c0:c1] = idx
    return maps


def crc_of(h: dict, maps: list[np.ndarray]) -> int:
    indices = b"".join(m.astype("<u2").tobytes() for m in maps)
    layers = b"".join(s for streams in h["layer_streams"] for s in streams)
    return zlib.crc32(h["fields"] + indices + layers)


# section 6: the refinement layer

ESCAPE, GROUPS, LEVELS = 15, 14, 10
ZIGZAG = [0, 8, 1, 2, 9, 16, 24, 17, 10, 3, 4, 11, 18, 25, 32, 40, 33, 26, 19, 12, 5, 6, 13, 20,
          27, 34, 41, 48, 56, 49, 42, 35, 28, 21, 14, 7, 15, 22, 29, 36, 43, 50, 57, 58, 51, 44,
          37, 30, 23, 31, 38, 45, 52, 59, 60, 53, 46, 39, 47, 54, 61, 62, 55, 63]  # fmt: skip
GROUP_ENDS = [1, 2, 3, 4, 6, 8, 10, 13, 15, 21, 28, 36, 45]


def band_group(band: int) -> int:
    return sum(band >= e for e in GROUP_ENDS)


def powers(base: int, n: int) -> list[int]:
    out, v = [], 1 << 30
    for _ in range(n):
        v = (v * base + (1 << 29)) >> 30
        out.append(v)
    return out


@cache
def member_table(member: int) -> np.ndarray:
    zero = (1 << 30) - powers(902905651, 64)[member // 16]
    decay = (1 << 30) - powers(852229450, 16)[member % 16]
    rest, run, mags = (1 << 30) - zero, 1 << 30, []
    for _ in range(14):
        mags.append((rest * ((run * ((1 << 30) - decay)) >> 30)) >> 30)
        run = (run * decay) >> 30
    mags.append((rest * run) >> 30)
    half = [max(1, m >> 11) for m in mags]
    row = np.array([*half[::-1], (1 << 20) - 2 * sum(half), *half], np.int64)
    return table_of_integer_row(row, 20)


def activity(total: np.ndarray) -> np.ndarray:
    return sum((total >= (1 << (level - 1))).astype(np.int64) for level in range(1, LEVELS))


def box3(x: np.ndarray) -> np.ndarray:
    """Sum over each block's 3x3 neighbourhood (zero outside), per channel."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    h, w = x.shape[1:]
    return sum(p[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))


def decode_stripe(data: bytes, channels: int, bh: int, bw: int, log: list) -> np.ndarray:
    """Section 6.3: (channels, bh, bw, 64) coefficients, zigzag order."""
    dec = RangeDecoder(data, log)
    members: dict[int, int] = {}
    q = np.zeros((channels, bh, bw, 64), np.int64)
    earlier = np.zeros((channels, bh, bw), np.int64)
    by, bx = np.indices((bh, bw))
    odd = np.broadcast_to((by + bx) % 2 == 1, (channels, bh, bw)).reshape(-1)
    chan = np.arange(channels)[:, None, None]
    for band in range(64):
        values = np.zeros(channels * bh * bw, np.int64)
        for second in (False, True):
            near = 0
            if second:
                mags = np.abs(values).reshape(channels, bh, bw)
                p = np.pad(mags, ((0, 0), (1, 1), (1, 1)))
                near = 4 * (p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:])
                near = near * odd.reshape(channels, bh, bw)
            act = activity(box3(earlier) + near)
            classes = ((chan * GROUPS + band_group(band)) * LEVELS + act).reshape(-1)
            positions = np.flatnonzero(odd == second)
            for cls in sorted(set(classes[positions].tolist())):
                if cls not in members:
                    if dec.decode(HALF):
                        members[cls] = 63 * 16
                    else:
                        level = dec.decode(uniform_table(64))
                        members[cls] = level * 16 + dec.decode(DECAY_TABLE)
                for pos in positions[classes[positions] == cls]:
                    values[pos] = dec.decode(member_table(members[cls])) - ESCAPE
        escaped = np.flatnonzero(np.abs(values) == ESCAPE)
        for pos, excess in zip(escaped, dec.exp_golomb(len(escaped)), strict=True):
            values[pos] += np.sign(values[pos]) * excess
        q[..., band] = values.reshape(channels, bh, bw)
        earlier += np.minimum(np.abs(q[..., band]), ESCAPE)
    return q


COLOUR = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]]) / np.sqrt([[3], [2], [6]])
_K, _N = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
DCT = np.sqrt(np.where(_K == 0, 1, 2) / 8) * np.cos(np.pi * (2 * _N + 1) * _K / 16)


def refine_pixels(base: np.ndarray, q: np.ndarray, step_q: int) -> np.ndarray:
    """Section 6.4, one stripe."""
    channels, bh, bw, _ = q.shape
    natural = np.zeros((channels, bh, bw, 64))
    natural[..., ZIGZAG] = q * (step_q / 4)
    blocks = np.einsum("ki,cxykl,lj->cxyij", DCT, natural.reshape(channels, bh, bw, 8, 8), DCT)
    y = blocks.transpose(1, 3, 2, 4, 0).reshape(8 * bh, 8 * bw, channels)
    residual = (y @ COLOUR[:channels])[: base.shape[0], : base.shape[1]]
    return np.clip(np.round(base + residual), 0, 255).astype(np.uint8)


# section 7: the restoration network


def network_of(net_id: int) -> tuple[dict, dict]:
    """(config, tensors) of a registry network (sections 7.1, 10.1)."""
    from safetensors import safe_open

    entry = next(n for n in json.loads((MODELS / "zoo.json").read_text())["networks"]
                 if n["id"] == net_id)  # fmt: skip
    path = MODELS / entry["name"] / "weights.safetensors"
    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert meta["format"] == "vqcodec-restore-net-1"
    return json.loads(meta["config"]), load_file(str(path))


def conv3x3_float(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(in, h, w) -> (out, h, w): 3x3, zero padding 1, float32."""
    cin, h, w = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], 1)
    out = weight.reshape(len(weight), cin * 9) @ cols.reshape(cin * 9, h * w)
    return (out + bias[:, None]).reshape(-1, h, w).astype(np.float32)


def network_window(x: np.ndarray, step: float, config: dict, t: dict) -> np.ndarray:
    """Section 7.2 on one window: x (3, h, w) float32 in [0, 1], h and w even."""
    c, layers = config["channels"], config["layers"]
    v = np.float32((np.log2(step) - 5.0) / 2.0)
    hidden = t["film.0.weight"][:, 0] * v + t["film.0.bias"]
    hidden = hidden / (1 + np.exp(-hidden))
    g = (t["film.2.weight"] @ hidden + t["film.2.bias"]).astype(np.float32)
    scale = [g[2 * i * c : (2 * i + 1) * c, None, None] for i in range(layers - 1)]
    shift = [g[(2 * i + 1) * c : (2 * i + 2) * c, None, None] for i in range(layers - 1)]
    _, h, w = x.shape
    half = np.stack([x[ch, dy::2, dx::2] - np.float32(0.5)
                     for ch in range(3) for dy in range(2) for dx in range(2)])  # fmt: skip
    rows, cols = np.arange(h // 2)[:, None] % 4, np.arange(w // 2)[None, :] % 4
    planes = [rows == 0, rows == 3, cols == 0, cols == 3]
    planes = np.stack([np.broadcast_to(p, (h // 2, w // 2)) for p in planes]).astype(np.float32)
    f = conv3x3_float(np.concatenate([half, planes]), t["head.weight"], t["head.bias"])
    f = np.maximum(f * (1 + scale[0]) + shift[0], 0)
    for i in range(1, layers - 1):
        f = conv3x3_float(f, t[f"body.{i - 1}.weight"], t[f"body.{i - 1}.bias"])
        f = np.maximum(f * (1 + scale[i]) + shift[i], 0)
    r = conv3x3_float(f, t["tail.weight"], t["tail.bias"])
    y = x.copy()
    for ch in range(3):
        for dy in range(2):
            for dx in range(2):
                y[ch, dy::2, dx::2] += r[4 * ch + 2 * dy + dx]
    return y


def network_pixels(img: np.ndarray, step_q: int, net_id: int) -> np.ndarray:
    """Section 7.3: the network over an H x W x 3 uint8 image in windows."""
    config, t = network_of(net_id)
    height, width = img.shape[:2]
    halo = 8 * -(-2 * config["layers"] // 8)
    step = step_q / 4 if step_q else 512.0
    out = np.empty_like(img)
    for y0 in range(0, height, 512):
        for x0 in range(0, width, 512):
            y1, x1 = min(y0 + 512, height), min(x0 + 512, width)
            ya, xa, yb, xb = (
                max(y0 - halo, 0),
                max(x0 - halo, 0),
                min(y1 + halo, height),
                min(x1 + halo, width),
            )
            crop = np.pad(
                img[ya:yb, xa:xb], ((0, (yb - ya) % 2), (0, (xb - xa) % 2), (0, 0)), "edge"
            )
            x = crop.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
            y = network_window(x, step, config, t)[:, y0 - ya : y1 - ya, x0 - xa : x1 - xa]
            out[y0:y1, x0:x1] = np.clip(np.round(y * np.float32(255)), 0, 255).transpose(1, 2, 0)
    return out


# section 8: the restoration filter

OFFSETS = [(0, 1), (0, 2)] + [(dy, dx) for dy in (1, 2) for dx in range(-2, 3)]


def decode_filter(data: bytes, channels: int, log: list) -> list:
    if not data:
        return [None] * channels
    dec = RangeDecoder(data, log)
    out = []
    for _ in range(channels):
        mode = dec.decode(uniform_table(3))
        if mode == 0:
            out.append(None)
            continue
        z = np.array(dec.exp_golomb((1 if mode == 1 else 4) * 13))
        out.append(np.where(z % 2 == 1, -(z + 1) // 2, z // 2).reshape(-1, 13))
    if all(w is None for w in out) or not dec.exhausted():
        raise Malformed("filter stream")
    return out


def filter_pixels(img: np.ndarray, weights: list, classes: np.ndarray) -> np.ndarray:
    """Section 8.3, in float32."""
    channels = len(weights)
    planes = img.astype(np.float32) @ COLOUR[:channels].T.astype(np.float32)
    delta = np.zeros(planes.shape, np.float32)
    for c, w in enumerate(weights):
        if w is None:
            continue
        wf = w.astype(np.float32) / np.float32(128)
        cls = classes[c] if len(w) > 1 else np.zeros(classes[c].shape, np.intp)
        p = np.pad(planes[..., c], 2, mode="edge")
        h, wd = planes.shape[:2]
        centre = p[2 : 2 + h, 2 : 2 + wd]
        delta[..., c] = wf[cls, 12]
        for k, (dy, dx) in enumerate(OFFSETS):
            d2 = (
                p[2 + dy : 2 + dy + h, 2 + dx : 2 + dx + wd]
                + p[2 - dy : 2 - dy + h, 2 - dx : 2 - dx + wd]
            )
            delta[..., c] += wf[cls, k] * (d2 - 2 * centre)
    out = img + delta @ COLOUR[:channels].astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# ---- the tests ---------------------------------------------------------------------------------


def decoded(path: Path) -> tuple[list[np.ndarray], list]:
    """The code maps of a golden file by this decoder, and its log of frequency rows."""
    h = parse(path.read_bytes())
    streams = tuple(tuple(t) for t in h["streams"])
    return _decoded(h["model_id"], h["width"], h["height"], h["tile"], streams)


@cache
def _decoded(model_id: int, width: int, height: int, tile: int, streams: tuple) -> tuple:
    """Files with the same model, size and map streams (v3 and v4 goldens) decode once."""
    h = {"model_id": model_id, "width": width, "height": height, "tile": tile}
    log: list = []
    return decode_maps(h | {"streams": [list(t) for t in streams]}, log), log


def format5_of(path: Path) -> bytes:
    """The format 4 golden file re-packed as format 5 (vqcodec's writer), its CRC recomputed
    from the indices decoded by this file's decoder."""
    from vqcodec.format import bitstream

    parsed = bitstream.unpack(path.read_bytes())
    h5 = replace(parsed.header, version=5)
    mine = parse(path.read_bytes())
    mine["fields"] = h5.pack_fields()
    crc = crc_of(mine, decoded(path)[0])
    return bitstream.pack(h5, parsed.streams, crc, parsed.layer_streams)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_headers_parse_as_written(path):
    from vqcodec.format import bitstream

    data = path.read_bytes()
    expected = bitstream.unpack(data)
    h = parse(data)
    e = expected.header
    assert (h["version"], h["model_id"], h["fingerprint"], h["colour"]) == (
        e.version, e.model_id, e.fingerprint, e.colour)  # fmt: skip
    assert (h["width"], h["height"], h["tile"]) == (e.width, e.height, e.tile)
    assert [tuple(t) for t in h["lengths"]] == [tuple(t) for t in e.lengths]
    assert [(i, p, tuple(n)) for i, p, n in h["layers"]] == [
        (r.layer, r.param, r.lengths) for r in e.layers]  # fmt: skip
    assert h["crc32"] == expected.crc and h["fields"] == expected.header_fields
    assert h["streams"] == expected.streams
    assert [tuple(s) for s in h["layer_streams"]] == list(expected.layer_streams)


def test_a_format_5_header_parses_as_written_and_damage_is_refused():
    from vqcodec.format import bitstream

    data = format5_of(FILTERED)
    h, e = parse(data), bitstream.unpack(data)
    assert h["version"] == 5 and h["crc32"] == e.crc and h["fields"] == e.header_fields
    assert [tuple(s) for s in h["layer_streams"]] == list(e.layer_streams)
    assert h["streams"] == parse(FILTERED.read_bytes())["streams"]
    assert crc_of(h, decoded(FILTERED)[0]) == h["crc32"]
    for at in (0, 3, 12, len(h["fields"]), len(data) - 1):  # magic .. header .. payload
        damaged = bytearray(data)
        damaged[at] ^= 0x10
        with pytest.raises(Malformed):
            parse(bytes(damaged))
        with pytest.raises(Exception):  # noqa: B017 -- vqcodec refuses it too
            bitstream.unpack(bytes(damaged))
    for bad in (data[:-1], data + b"\0"):
        with pytest.raises(Malformed):
            parse(bad)


def decodable_goldens() -> list[Path]:
    installed = {m["id"] for m in json.loads((MODELS / "zoo.json").read_text())["models"]}
    return [
        p
        for p in GOLDEN_FILES
        if (h := parse(p.read_bytes()))["version"] >= 2 and h["model_id"] in installed
    ]


@pytest.mark.parametrize("path", decodable_goldens(), ids=lambda p: p.name)
def test_code_maps_decode_from_the_document_and_match_the_crc(path):
    h = parse(path.read_bytes())
    assert crc_of(h, decoded(path)[0]) == h["crc32"]


def test_prior_tables_are_the_ones_vqcodec_codes_with():
    """Every table the coder used on the maps of a golden file, in vqcodec's lockstep order
    (map by map; wavefront t of every tile, tile by tile), is the document's."""
    from vqcodec.api import decode_indices
    from vqcodec.coding import coder

    data = FILTERED.read_bytes()
    log = decoded(FILTERED)[1]
    with coder.recording() as calls:
        _, _, maps = decode_indices(data)
    ours = [row for *_, row in sorted(log, key=lambda e: e[:3])]
    theirs = [t for call in calls for t in call.tables]
    assert len(ours) == len(theirs) == sum(m.numel() for m in maps)
    for f, table in zip(ours, theirs, strict=True):
        assert f.sum() == 1 << 23 and f.min() >= 1
        np.testing.assert_array_equal(table_of_integer_row(f, 23), table)


def test_refinement_and_filter_decode_as_written():
    from vqcodec.api import decode_indices, decompress
    from vqcodec.coding import coder
    from vqcodec.format import bitstream
    from vqcodec.layers import refine, restore

    data = FILTERED.read_bytes()
    h = parse(data)
    assert len(h["refinement"]) == 1 and h["height"] <= 512  # one stripe
    bh, bw = -(-h["height"] // 8), -(-h["width"] // 8)
    ours: list = []
    q = decode_stripe(h["refinement"][0], 3, bh, bw, ours)
    with coder.recording() as calls:
        expected = refine.decode_stripe(h["refinement"][0], 3, bh, bw)
    np.testing.assert_array_equal(q, expected)
    theirs = [(int(s), t) for c in calls for s, t in zip(c.symbols, c.tables, strict=True)]
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    for (_, mine), (_, table) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, table)

    ours = []
    weights = decode_filter(h["filter"], 3, ours)
    with coder.recording() as calls:
        filt = restore.decode(h["filter"], 3)
    for mine, theirs_w in zip(weights, filt.weights, strict=True):
        assert (mine is None) == (theirs_w is None)
        if mine is not None:
            np.testing.assert_array_equal(mine, np.array(theirs_w))
    theirs = [(int(s), t) for c in calls for s, t in zip(c.symbols, c.tables, strict=True)]
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    for (_, mine), (_, table) in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, table)

    # pixels: the base image is the float synthesis network's (section 9), the rest ours
    header, codec, maps = decode_indices(data)
    assert isinstance(header, bitstream.Header)
    base = codec.synthesize(maps, h["width"], h["height"])
    refined = refine_pixels(base, q, h["refine_step"])
    nonzero = np.count_nonzero(q, axis=-1)
    level = (nonzero >= 1).astype(np.intp) + (nonzero >= 2) + (nonzero >= 4)
    classes = np.repeat(np.repeat(level, 8, 1), 8, 2)[:, : h["height"], : h["width"]]
    ours_px = filter_pixels(refined, weights, classes).astype(int)
    theirs_px = np.asarray(decompress(data).convert("RGB")).astype(int)
    assert np.abs(ours_px - theirs_px).max() <= 1
    assert np.mean(ours_px == theirs_px) > 0.99


@pytest.mark.parametrize("golden", GOLDEN_V6_FILES, ids=lambda p: p.stem)
def test_the_network_and_the_layers_of_a_format_6_file_as_written(golden):
    """golden v6 files (one per shipped network): refinement, network, filter from the document
    on vqcodec's synthesized base give vqcodec's pixels (within one level)."""
    from vqcodec import zoo
    from vqcodec.api import decode_indices, decompress
    from vqcodec.layers import restore_net

    data = golden.read_bytes()
    h = parse(data)
    assert [layer for layer, _, _ in h["layers"]] == [1, 2, 3]
    _, codec, maps = decode_indices(data)
    base = codec.synthesize(maps, h["width"], h["height"])
    bh, bw = -(-h["height"] // 8), -(-h["width"] // 8)
    q = decode_stripe(h["refinement"][0], 3, bh, bw, [])
    refined = refine_pixels(base, q, h["refine_step"])
    ours = network_pixels(refined, h["refine_step"], h["restore_net"])
    net = restore_net.load(zoo.verified_network(zoo.network(h["restore_net"], "restore-net")))
    theirs = net.apply(refined, h["refine_step"] / 4)
    assert np.abs(ours.astype(int) - theirs).max() <= 1 and np.mean(ours == theirs) > 0.99
    nonzero = np.count_nonzero(q, axis=-1)
    level = (nonzero >= 1).astype(np.intp) + (nonzero >= 2) + (nonzero >= 4)
    classes = np.repeat(np.repeat(level, 8, 1), 8, 2)[:, : h["height"], : h["width"]]
    pixels = filter_pixels(ours, decode_filter(h["filter"], 3, []), classes).astype(int)
    expected = np.asarray(decompress(data).convert("RGB")).astype(int)
    assert np.abs(pixels - expected).max() <= 1 and np.mean(pixels == expected) > 0.99


def test_the_network_in_windows_is_the_document_s_on_a_larger_image():
    """Three windows across, odd sizes: the halo, the edge padding and the block phase."""
    from vqcodec.layers import restore_net

    rng = np.random.default_rng(7)
    img = (rng.integers(0, 256, (37, 1, 3)) + rng.integers(-20, 20, (37, 1100, 3))).clip(0, 255)
    img = img.astype(np.uint8)
    net = restore_net.load(MODELS / "restore-net-1" / "weights.safetensors")
    ours = network_pixels(img, 96, 1)
    theirs = net.apply(img, 24.0)
    assert np.abs(ours.astype(int) - theirs).max() <= 1 and np.mean(ours == theirs) > 0.99

"""A loaded model and the whole coding path: pixels -> code maps -> streams, and back.

The maps are a list, coarsest first (one per level of the config; the shipped models have two:
top, bottom); the prior of map k is conditioned on map k - 1. Images of any size are padded
(edge replicate) to a multiple of the coarsest map's stride before analysis and cropped back
after synthesis; the map sizes follow from the original size in the header and the model's
stride and levels. Large images are analysed and synthesized in overlapping windows, and
entropy-coded in independent tiles (`format.tiles`), so memory stays bounded whatever the
image size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from vqcodec import zoo
from vqcodec.coding import parallel
from vqcodec.coding.entropy import (
    EncodedMap,
    bytes_to_words,
    decode_tiles,
    encode_tiles,
    single_thread,
    words_to_bytes,
)
from vqcodec.coding.int_stepper import teacher_forced_bits
from vqcodec.coding.intprior import IntPriorTorch, load_priors
from vqcodec.coding.rate_aware import RateAware
from vqcodec.errors import CorruptStreamError, FormatLimitError, ModelError
from vqcodec.format.tiles import TileGrid, crop, map_sizes, tiling_problem
from vqcodec.model.config import ModelConfig
from vqcodec.model.prior import PixelCNN
from vqcodec.model.vqvae import HierarchicalVQVAE, VectorQuantizer

DEFAULT_TILE = 32  # coarsest-map codes per tile side (benchmarks/results/kodak/format2_rate.json)
GROUP_POSITIONS = 1 << 16  # codes evaluated in lockstep at once (bounds the prior's memory)
PARALLEL_POSITIONS = 1 << 14  # maps of fewer codes stay in one process (forking costs more)
WINDOW_PX = 1024  # analysis and synthesis windows (interior), pixels: Kodak in one
# context around each window, beyond each network's reach (measured with 64 px windows on a
# 328x200 photo: 64 px of analysis context give the indices of one piece, 32 px of synthesis
# context its pixels; 32 and 16 px did not)
ANALYSIS_HALO_PX = 64
SYNTHESIS_HALO_PX = 32


class CodecModel(nn.Module):
    """The VQ-VAE and the prior of every map of one shipped model, under one state dict: the
    priors are `prior_<level>` (`level_names`: prior_top, prior_bottom for two maps)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vqvae = HierarchicalVQVAE(cfg.vqvae)
        for name, prior in zip(cfg.names, cfg.priors, strict=True):
            self.add_module(f"prior_{name}", PixelCNN(prior))

    def priors(self) -> list[PixelCNN]:
        """The float priors, coarsest map first."""
        return [self.get_submodule(f"prior_{n}") for n in self.cfg.names]  # type: ignore[misc]


def save_model(model: CodecModel, folder: Path) -> str:
    """Write weights (safetensors) + config (JSON) into `folder`; returns the weights' sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / zoo.WEIGHTS_FILE), metadata={"format": "vqcodec"})
    (folder / zoo.CONFIG_FILE).write_text(model.cfg.to_json() + "\n")
    return zoo.sha256_file(folder / zoo.WEIGHTS_FILE)


def index_bytes(maps: list[torch.Tensor]) -> bytes:
    """The decoded indices as the CRC sees them: whole maps, coarsest first, uint16 LE."""
    return b"".join(m.numpy().astype("<u2").tobytes() for m in maps)


@dataclass(frozen=True)
class EncodedImage:
    maps: list[torch.Tensor]  # whole code maps, coarsest first
    tile: int
    streams: list[list[bytes]]  # per tile, per map
    ideal_bits: float  # sum of -log2 p of every coded index under the integer prior


def _windows(length: int, step: int) -> list[tuple[int, int]]:
    return [(a, min(a + step, length)) for a in range(0, length, step)]


class _Window(NamedTuple):
    pixels: torch.Tensor  # the interior and its context
    y0: int  # the interior, in padded-image pixels
    y1: int
    x0: int
    x1: int
    a0: int  # where `pixels` starts
    b0: int


@dataclass
class Codec:
    entry: zoo.ZooEntry
    model: CodecModel

    @classmethod
    def load(cls, entry: zoo.ZooEntry) -> Codec:
        weights = zoo.verified_weights(entry)
        try:
            if entry.config_sha256 is not None:
                zoo.verified_file(entry, zoo.CONFIG_FILE)
            cfg = ModelConfig.from_json((entry.folder / zoo.CONFIG_FILE).read_text())
            model = CodecModel(cfg)
            model.load_state_dict(load_file(str(weights)), strict=True)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ModelError(f"model {entry.name} cannot be loaded: {exc}") from None
        return cls(entry, model.eval())

    @property
    def cfg(self) -> ModelConfig:
        return self.model.cfg

    @cached_property
    def int_priors(self) -> list[IntPriorTorch]:
        """The integer priors of format 2 (sha256-verified), coarsest map first."""
        path = zoo.verified_file(self.entry, zoo.INT_PRIOR_FILE)
        cfgs = dict(zip(self.cfg.names, self.cfg.priors, strict=True))
        try:
            priors = load_priors(path, cfgs)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"model {self.entry.name}: bad integer prior: {exc}") from None
        return [IntPriorTorch(priors[name]) for name in self.cfg.names]

    # ---- pixels <-> maps ------------------------------------------------------------------------

    def _input(self, rgb: np.ndarray) -> torch.Tensor:
        """H x W x 3 uint8 -> (1, 3, H', W') float in [0, 1], edge-padded to the model's
        alignment."""
        height, width = rgb.shape[:2]
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
        align = self.cfg.vqvae.align
        return F.pad(x, (0, -width % align, 0, -height % align), mode="replicate")

    def _analysis_windows(self, x: torch.Tensor) -> Iterator[_Window]:
        """The WINDOW_PX interiors tiling the padded image, each with ANALYSIS_HALO_PX of
        context around it (rounded up to whole coarsest codes: every window must start on one);
        the one window loop of `analyse` and `latents`."""
        ph, pw = x.shape[-2:]
        align = self.cfg.vqvae.align
        halo = -(-ANALYSIS_HALO_PX // align) * align
        for y0, y1 in _windows(ph, WINDOW_PX):
            for x0, x1 in _windows(pw, WINDOW_PX):
                a0, a1 = max(0, y0 - halo), min(ph, y1 + halo)
                b0, b1 = max(0, x0 - halo), min(pw, x1 + halo)
                yield _Window(x[..., a0:a1, b0:b1], y0, y1, x0, x1, a0, b0)

    def map_sizes(self, width: int, height: int) -> list[tuple[int, int]]:
        """(H, W) of every code map of an image of this size, coarsest first."""
        return map_sizes(width, height, self.cfg.vqvae.stride, self.cfg.vqvae.levels)

    @torch.no_grad()
    def analyse(self, rgb: np.ndarray) -> list[torch.Tensor]:
        """H x W x 3 uint8 -> code maps (int64), coarsest first; in overlapping windows."""
        x = self._input(rgb)
        ph, pw = x.shape[-2:]
        scales = self.cfg.vqvae.strides
        maps = [torch.empty(ph // s, pw // s, dtype=torch.long) for s in scales]
        for window, y0, y1, x0, x1, a0, b0 in self._analysis_windows(x):
            found = self.model.vqvae.encode(window)
            for m, part, s in zip(maps, found, scales, strict=True):
                m[y0 // s : y1 // s, x0 // s : x1 // s] = part[
                    0, (y0 - a0) // s : (y1 - a0) // s, (x0 - b0) // s : (x1 - b0) // s
                ]
        return maps

    @torch.no_grad()
    def latents(
        self, rgb: np.ndarray, coarser: list[torch.Tensor], nearest: bool = False
    ) -> torch.Tensor:
        """The encoder's latents (H, W, D) of map `len(coarser)` before quantization, given the
        indices chosen for the coarser maps; in the same windows as `analyse`. With `nearest`,
        their nearest codewords' indices (H, W) instead, window by window (a fraction of the
        memory: the latents of a whole 4096 x 4096 bottom map take 268 MB)."""
        x = self._input(rgb)
        ph, pw = x.shape[-2:]
        vqvae, level, strides = self.model.vqvae, len(coarser), self.cfg.vqvae.strides
        s, quantizers = strides[level], self.quantizers()
        if nearest:
            out = torch.empty(ph // s, pw // s, dtype=torch.long)
        else:
            out = torch.empty(ph // s, pw // s, self.cfg.vqvae.embed_dim)
        for window, y0, y1, x0, x1, a0, b0 in self._analysis_windows(x):
            a1, b1 = a0 + window.shape[-2], b0 + window.shape[-1]
            context = None
            for k, (m, t) in enumerate(zip(coarser, strides, strict=False)):
                q = quantizers[k].lookup(m[None, a0 // t : a1 // t, b0 // t : b1 // t])
                context = vqvae.context(k, q, context)
            z = vqvae.latents(level, vqvae.features(window)[level], context)
            z = z[..., (y0 - a0) // s : (y1 - a0) // s, (x0 - b0) // s : (x1 - b0) // s]
            found = quantizers[level].indices(z)[0] if nearest else z[0].permute(1, 2, 0)
            out[y0 // s : y1 // s, x0 // s : x1 // s] = found
        return out

    def quantizers(self) -> list[VectorQuantizer]:
        """The vector quantizer of every map, coarsest first."""
        return self.model.vqvae.quantizers()

    def codebooks(self) -> list[torch.Tensor]:
        """(K, D) codewords of every map, coarsest first."""
        return [q.codebook for q in self.quantizers()]

    @torch.no_grad()
    def synthesize(self, maps: list[torch.Tensor], width: int, height: int) -> np.ndarray:
        """Code maps -> H x W x 3 uint8, cropped to the original size; in overlapping windows
        (each window sees SYNTHESIS_HALO_PX of context on every side, so no seam appears)."""
        s = self.cfg.vqvae.align  # pixels per coarsest code
        win, halo = WINDOW_PX // s, -(-SYNTHESIS_HALO_PX // s)  # in coarsest codes
        th, tw = maps[0].shape
        out = np.empty((th * s, tw * s, 3), np.uint8)
        for y0, y1 in _windows(th, win):
            for x0, x1 in _windows(tw, win):
                a0, a1, b0, b1 = (
                    max(0, y0 - halo),
                    min(th, y1 + halo),
                    max(0, x0 - halo),
                    min(tw, x1 + halo),
                )
                x = self.model.vqvae.decode(
                    [m[None, a0 << k : a1 << k, b0 << k : b1 << k] for k, m in enumerate(maps)]
                )[0, :, (y0 - a0) * s : (y1 - a0) * s, (x0 - b0) * s : (x1 - b0) * s]
                pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
                out[y0 * s : y1 * s, x0 * s : x1 * s] = pixels
        return out[:height, :width]

    # ---- maps <-> streams -----------------------------------------------------------------------

    def _groups(self, grid: TileGrid, level: int) -> list[list[int]]:
        """Tiles in groups evaluated in lockstep, of at most GROUP_POSITIONS codes of map
        `level` each (the prior's buffers and conditioning rows grow with them), and at least
        as many groups as worker processes where the map is large enough to pay for them."""
        n = len(grid)
        side = grid.tile << level
        per = max(1, GROUP_POSITIONS // (side * side)) if grid.tile else n
        h, w = grid.coarse_shape
        if (h * w) << (2 * level) >= PARALLEL_POSITIONS:
            per = min(per, -(-n // parallel.worker_count(n)))
        return [list(range(a, min(a + per, n))) for a in range(0, n, per)]

    def encode_image(
        self, rgb: np.ndarray, tile: int = DEFAULT_TILE, rate_weights: Sequence[float] = ()
    ) -> EncodedImage:
        """Pixels -> streams. With rate weights (one per map, coarsest first; none: all 0), the
        indices are chosen rate-aware (`vqcodec.coding.rate_aware`): the coarsest map first,
        then each finer map's latents are computed from the codes chosen above it and chosen in
        turn. Without, the nearest codewords (`analyse`)."""
        levels = self.cfg.vqvae.levels
        weights = tuple(rate_weights) or (0.0,) * levels
        if len(weights) != levels or any(w < 0 for w in weights):
            raise ValueError(f"need {levels} rate weights >= 0, got {weights}")
        if not any(weights):
            return self.encode_maps(self.analyse(rgb), tile)
        shapes = self.map_sizes(rgb.shape[1], rgb.shape[0])

        def source(
            level: int, coarser: list[torch.Tensor]
        ) -> tuple[torch.Tensor, RateAware | None]:
            if not weights[level]:  # the nearest codewords, as `analyse` finds them
                return self.latents(rgb, coarser, nearest=True), None
            z = self.latents(rgb, coarser)
            rate_aware = RateAware(z, self.codebooks()[level], weights[level])
            return torch.zeros(shapes[level], dtype=torch.long), rate_aware

        return self._encode(shapes, tile, source)

    def encode_maps(self, maps: list[torch.Tensor], tile: int = DEFAULT_TILE) -> EncodedImage:
        """Range-code the given maps."""
        shapes = [(m.shape[0], m.shape[1]) for m in maps]
        return self._encode(shapes, tile, lambda level, _: (maps[level].clone(), None))

    def _encode(
        self,
        shapes: list[tuple[int, int]],
        tile: int,
        source: Callable[[int, list[torch.Tensor]], tuple[torch.Tensor, RateAware | None]],
    ) -> EncodedImage:
        """Range-code map by map, each tile by tile (in lockstep groups); a map's prior reads the
        same tile of the coarser map. `source(level, coarser maps)` gives the map to code, or a
        `RateAware` choosing its indices as they are coded."""
        if problem := tiling_problem(shapes, tile):
            raise FormatLimitError(f"cannot code this image: {problem}")
        grid = TileGrid(shapes[0], len(shapes), tile)
        rects = grid.rects()
        coded: list[list[EncodedMap | None]] = [[None] * len(shapes) for _ in rects]
        maps: list[torch.Tensor] = []
        for level in range(len(shapes)):  # a whole map before the next
            current, rate_aware = source(level, maps)
            groups = self._groups(grid, level)
            jobs = []
            for group in groups:
                tiles, conds = self._tile_inputs([*maps, current], rects, group, level)
                choose = None
                if rate_aware is not None:
                    choose = rate_aware.choice([rects[t][level] for t in group])
                jobs.append((level, tiles, conds, choose))
            for group, encoded in zip(groups, self._run(_encode_group, jobs), strict=True):
                for t, (enc, symbols) in zip(group, encoded, strict=True):
                    coded[t][level] = enc
                    r0, r1, c0, c1 = rects[t][level]
                    current[r0:r1, c0:c1] = torch.from_numpy(symbols)
            maps.append(current)
        streams = [[words_to_bytes(c.words) for c in tile_maps] for tile_maps in coded]
        ideal = sum(c.ideal_bits for tile_maps in coded for c in tile_maps)
        return EncodedImage(maps, tile, streams, ideal)

    def _tile_inputs(
        self, maps: list[torch.Tensor], rects, group: list[int], level: int
    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """The tiles of map `level` in `group`, and the same tiles of the coarser map (if its
        prior is conditional). Only the tile, not a halo of the coarser map around it: the priors
        were trained on crops whose conditioning was zero-padded at the border like their masked
        context, and measured, a 3-code halo made kodim23 0.06 % larger at tile 32."""
        tiles = [crop(maps[level], rects[t][level]) for t in group]
        if not self.int_priors[level].cfg.cond_codes:
            return tiles, None
        return tiles, [crop(maps[level - 1], rects[t][level - 1]) for t in group]

    def teacher_forced_bits(self, maps: list[torch.Tensor], tile: int = DEFAULT_TILE) -> float:
        """Bits of the maps under the integer priors, every position of a tile group in one pass
        (what decoding computes, without its sequential steps)."""
        grid = TileGrid(tuple(maps[0].shape), len(maps), tile)
        rects = grid.rects()
        bits = 0.0
        with single_thread():
            for level, net in enumerate(self.int_priors):
                for group in self._groups(grid, level):
                    bits += teacher_forced_bits(net, *self._tile_inputs(maps, rects, group, level))
        return bits

    def decode_maps(
        self, streams: list[list[bytes]], width: int, height: int, tile: int
    ) -> list[torch.Tensor]:
        """Inverse of `encode_maps` for an image of the given size."""
        shapes = self.map_sizes(width, height)
        if problem := tiling_problem(shapes, tile, len(streams)):
            raise CorruptStreamError(f"invalid .vqz layout: {problem}")
        if any(len(s) != len(shapes) for s in streams):
            raise CorruptStreamError(
                f"the file has {len(streams[0])} maps; the model needs {len(shapes)}"
            )
        grid = TileGrid(shapes[0], len(shapes), tile)
        rects = grid.rects()
        maps = [torch.empty(h, w, dtype=torch.long) for h, w in shapes]
        for level in range(len(shapes)):  # a whole map before the next
            groups = self._groups(grid, level)
            jobs = []
            for group in groups:
                words = [bytes_to_words(streams[t][level]) for t in group]
                sizes = [(r[1] - r[0], r[3] - r[2]) for r in (rects[t][level] for t in group)]
                _, conds = self._tile_inputs(maps, rects, group, level)
                jobs.append((level, words, sizes, conds))
            for group, decoded in zip(groups, self._run(_decode_group, jobs), strict=True):
                for t, m in zip(group, decoded, strict=True):
                    r0, r1, c0, c1 = rects[t][level]
                    maps[level][r0:r1, c0:c1] = torch.from_numpy(m)
        return maps

    def _run(self, fn: Callable[..., list], jobs: list[tuple]) -> list[list]:
        """fn(self, *job) for every tile group, on worker processes (`vqcodec.coding.parallel`)."""
        self.int_priors  # noqa: B018 -- loaded once, before any worker forks
        return parallel.run(fn, jobs, self)


# One torch thread per tile group: the integers are exact at any thread count, but threads do not
# pay. Measured with 2 cores: torch's threads over a lockstep step's ops decode 1.14x (Kodak) to
# 1.32x (4096 x 4096) faster on idle cores, and 10x slower (a 513 x 769 image: 57 s against 5 s)
# when the other core is busy, their OpenMP barriers waiting for it; Python threads over tile
# groups were slower still (the GIL between small ops). Groups run on processes instead.


def _encode_group(
    codec: Codec, level: int, tiles: list[torch.Tensor], conds, choose
) -> list[tuple[EncodedMap, np.ndarray]]:
    """The streams of a group's tiles, and the indices they code (numpy: `coding.parallel`)."""
    with single_thread():
        encoded = encode_tiles(codec.int_priors[level], tiles, conds, choose=choose)
    return [
        (replace(e, symbols=None), e.symbols.numpy()) for e in encoded
    ]  # vqcodec.coding.parallel


def _decode_group(
    codec: Codec, level: int, words: list[np.ndarray], shapes: list[tuple[int, int]], conds
) -> list[np.ndarray]:
    with single_thread():
        return [m.numpy() for m in decode_tiles(codec.int_priors[level], words, shapes, conds)]

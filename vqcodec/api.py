"""The library API: compress an image to .vqz bytes and back.

data = vqcodec.compress("photo.png")          # or bytes, a binary file, a PIL image, an array
image = vqcodec.decompress(data)              # or a path, or a binary file
Options are keyword-only; every failure a caller can cause is a `VQCodecError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from PIL import Image

from vqcodec import bitstream, legacy_v1, zoo
from vqcodec.codec import DEFAULT_TILE, Codec, index_bytes
from vqcodec.errors import CorruptStreamError, InputTypeError, ModelError
from vqcodec.image_io import ImageLike, to_image, to_rgb
from vqcodec.rate_control import Trial, fit_budget
from vqcodec.vqz_input import VqzSource, read_header, read_vqz


@cache
def _load(name: str) -> Codec:
    return Codec.load(zoo.get(name))


def load_codec(model: str | None = None, quality: int | None = None) -> Codec:
    """A loaded, sha256-verified model from the zoo, by name or quality level (neither: the
    default), cached per process."""
    return _load(zoo.select(model, quality).name)


@dataclass(frozen=True)
class Compressed:
    """A .vqz file and what it cost."""

    data: bytes
    width: int
    height: int
    model: str
    ideal_bits: float  # sum of -log2 p of all coded indices under the priors (float64)
    payload_bytes: int  # bytes of the range-coded streams
    streams: int  # how many (each independent stream ends with its coder's flush, <= 64 bits)
    rate_weights: tuple[float, ...]  # the rate-aware choice's weight per map (coarsest first)

    @property
    def bpp(self) -> float:
        return 8 * len(self.data) / (self.width * self.height)


def _check_options(model: object, quality: object, drop_alpha: object, tile: object) -> None:
    if model is not None and not isinstance(model, str):
        raise InputTypeError(f"model must be a name (str), not {type(model).__name__}")
    if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)):
        raise InputTypeError(f"quality must be an int, not {type(quality).__name__}")
    if not isinstance(drop_alpha, bool):
        raise InputTypeError(f"drop_alpha must be True or False, not {type(drop_alpha).__name__}")
    if (
        not isinstance(tile, int)
        or isinstance(tile, bool)
        or 0 < tile < bitstream.MIN_TILE
        or tile < 0
    ):
        raise InputTypeError(f"tile must be 0 (one tile) or an int >= {bitstream.MIN_TILE}")


def _check_target(bpp: object, max_bytes: object, quality: object) -> None:
    if bpp is not None and max_bytes is not None:
        raise InputTypeError("give bpp or max_bytes, not both")
    if (bpp is not None or max_bytes is not None) and quality is not None:
        raise InputTypeError("a rate target picks the model: give it without quality")
    if bpp is not None and (
        not isinstance(bpp, int | float) or isinstance(bpp, bool) or not 0 < bpp < 1000
    ):
        raise InputTypeError(f"bpp must be a number > 0, not {bpp!r}")
    if max_bytes is not None and (
        not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0
    ):
        raise InputTypeError(f"max_bytes must be an int > 0, not {max_bytes!r}")


@dataclass(frozen=True)
class Encoded:
    compressed: Compressed
    maps: list[torch.Tensor]  # the coded indices, coarsest first


def _compress(
    rgb: np.ndarray, colour: int, codec: Codec, tile: int, rate_weights: Sequence[float]
) -> Encoded:
    """One encode with the given model and rate weights."""
    height, width = rgb.shape[:2]
    encoded = codec.encode_image(rgb, tile, rate_weights)
    header = bitstream.Header(
        model_id=codec.entry.model_id,
        fingerprint=codec.entry.fingerprint,
        colour=colour,
        width=width,
        height=height,
        tile=tile,
        lengths=tuple(tuple(len(s) for s in t) for t in encoded.streams),
    )
    crc = bitstream.crc_of(header.pack_fields(), index_bytes(encoded.maps))
    data = bitstream.pack(header, encoded.streams, crc)
    payload = sum(len(s) for t in encoded.streams for s in t)
    streams = sum(len(t) for t in encoded.streams)
    found = Compressed(
        data,
        width,
        height,
        codec.entry.name,
        encoded.ideal_bits,
        payload,
        streams,
        tuple(rate_weights),
    )
    return Encoded(found, encoded.maps)


def _compress_to_budget(
    rgb: np.ndarray, colour: int, codecs: list[Codec], tile: int, budget: int
) -> Compressed:
    """The best file of at most `budget` bytes (`vqcodec.rate_control.fit_budget`)."""

    def encode(codec: Codec, bottom_weight: float | None) -> Trial[tuple[Codec, Encoded]]:
        weights = codec.entry.rate_weights
        if bottom_weight is not None:
            weights = (*weights[:-1], bottom_weight)
        found = _compress(rgb, colour, codec, tile, weights)
        return Trial(weights[-1], len(found.compressed.data), (codec, found))

    def psnr(result: tuple[Codec, Encoded]) -> float:
        from vqcodec.evaluate import psnr_rgb  # evaluate imports this module

        codec, found = result
        return psnr_rgb(rgb, codec.synthesize(found.maps, rgb.shape[1], rgb.shape[0]))

    return fit_budget(codecs, encode, psnr, budget)[1].compressed


def compress_image(
    image: ImageLike,
    *,
    model: str | None = None,
    quality: int | None = None,
    bpp: float | None = None,
    max_bytes: int | None = None,
    drop_alpha: bool = False,
    tile: int = DEFAULT_TILE,
) -> Compressed:
    """Compress and report sizes (see `compress` for the plain bytes)."""
    _check_options(model, quality, drop_alpha, tile)
    _check_target(bpp, max_bytes, quality)
    rgb, colour = to_rgb(image, drop_alpha)
    if bpp is None and max_bytes is None:
        codec = load_codec(model, quality)
        return _compress(rgb, colour, codec, tile, codec.entry.rate_weights).compressed
    height, width = rgb.shape[:2]
    budget = max_bytes if max_bytes is not None else int(bpp * width * height / 8)
    names = [model] if model is not None else zoo.ladder()
    return _compress_to_budget(rgb, colour, [load_codec(n) for n in names], tile, budget)


def compress(
    image: ImageLike,
    *,
    model: str | None = None,
    quality: int | None = None,
    bpp: float | None = None,
    max_bytes: int | None = None,
    drop_alpha: bool = False,
) -> bytes:
    """Compress `image` (a path, encoded image bytes, a binary file, a PIL image or a uint8
    array) to .vqz bytes with the model named `model` or the one at `quality` on the ladder
    (1 = fewest bits; neither: the default). A rate target instead (`bpp`, bits per pixel of
    the whole file, or `max_bytes`) gets the highest-PSNR file not above it, searched over the
    ladder's models (or only `model`) and the rate-aware index choice
    (`vqcodec.rate_control`); `RateError` if none is small enough. `drop_alpha` discards real
    transparency."""
    return compress_image(
        image, model=model, quality=quality, bpp=bpp, max_bytes=max_bytes, drop_alpha=drop_alpha
    ).data


def decode_indices(data: bytes) -> tuple[bitstream.Header, Codec, list[torch.Tensor]]:
    """Parse and entropy-decode a .vqz file, CRC-checked; the maps (coarsest first) before
    synthesis."""
    parsed = bitstream.unpack(bytes(data))
    header = parsed.header
    entry = zoo.by_id(header.model_id)
    expected = entry.fingerprint_v1 if header.version == 1 else entry.fingerprint
    if expected != header.fingerprint:
        raise ModelError(
            f"the file was written by different weights of model {entry.name} "
            f"(fingerprint {header.fingerprint:08x}, installed {expected:08x})"
        )
    codec = load_codec(entry.name)
    if header.version == 1:
        return header, codec, legacy_v1.decode_maps(codec, parsed)
    maps = codec.decode_maps(parsed.streams, header.width, header.height, header.tile)
    if bitstream.crc_of(parsed.header_fields, index_bytes(maps)) != parsed.crc:
        raise CorruptStreamError("corrupt .vqz payload (CRC mismatch)")
    return header, codec, maps


def decompress(source: VqzSource) -> Image.Image:
    """Decode a .vqz file (bytes, a path or a binary file object) to a PIL image of the
    original size and colour mode."""
    header, codec, maps = decode_indices(read_vqz(source))
    rgb = codec.synthesize(maps, header.width, header.height)
    return to_image(rgb, header.colour)


def info(source: VqzSource) -> dict[str, object]:
    """Header fields of a .vqz file (bytes, a path or a binary file object), reading only the
    header of a path or file (from a pipe the sizes are the header's)."""
    h, header_bytes, total_bytes = read_header(source)
    try:
        model = zoo.by_id(h.model_id).name
    except ModelError:
        model = f"id {h.model_id} (not installed)"
    return {
        "format_version": h.version,
        "model": model,
        "model_id": h.model_id,
        "fingerprint": f"{h.fingerprint:08x}",
        "width": h.width,
        "height": h.height,
        "colour": "grayscale" if h.colour == bitstream.COLOUR_GRAY else "RGB",
        "prior_arithmetic": bitstream.ARITHMETIC_NAMES[h.arithmetic],
        "entropy_coder": bitstream.CODER_NAMES[h.coder],
        "tile": h.tile,
        "tiles": len(h.lengths),
        "header_bytes": header_bytes,
        "stream_bytes": [n for tile in h.lengths for n in tile],
        "total_bytes": total_bytes,
        "bpp": 8 * total_bytes / (h.width * h.height),
    }

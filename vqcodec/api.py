"""The library API: compress an image to .vqz bytes and back.

data = vqcodec.compress("photo.png")          # or bytes, a binary file, a PIL image, an array
image = vqcodec.decompress(data)              # or a path, or a binary file
Options are keyword-only; every failure a caller can cause is a `VQCodecError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from PIL import Image

from vqcodec import bitstream, legacy_v1, zoo
from vqcodec.codec import DEFAULT_TILE, Codec, index_bytes
from vqcodec.errors import CorruptStreamError, InputTypeError, ModelError
from vqcodec.image_io import ImageLike, to_image, to_rgb
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

    @property
    def bpp(self) -> float:
        return 8 * len(self.data) / (self.width * self.height)


def _check_options(model: object, quality: object, drop_alpha: object) -> None:
    if model is not None and not isinstance(model, str):
        raise InputTypeError(f"model must be a name (str), not {type(model).__name__}")
    if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)):
        raise InputTypeError(f"quality must be an int, not {type(quality).__name__}")
    if not isinstance(drop_alpha, bool):
        raise InputTypeError(f"drop_alpha must be True or False, not {type(drop_alpha).__name__}")


def compress_image(
    image: ImageLike,
    *,
    model: str | None = None,
    quality: int | None = None,
    drop_alpha: bool = False,
    tile: int = DEFAULT_TILE,
) -> Compressed:
    """Compress and report sizes (see `compress` for the plain bytes)."""
    _check_options(model, quality, drop_alpha)
    if (
        not isinstance(tile, int)
        or isinstance(tile, bool)
        or 0 < tile < bitstream.MIN_TILE
        or tile < 0
    ):
        raise InputTypeError(f"tile must be 0 (one tile) or an int >= {bitstream.MIN_TILE}")
    rgb, colour = to_rgb(image, drop_alpha)
    codec = load_codec(model, quality)
    height, width = rgb.shape[:2]
    encoded = codec.encode_maps(codec.analyse(rgb), tile)
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
    return Compressed(data, width, height, codec.entry.name, encoded.ideal_bits, payload, streams)


def compress(
    image: ImageLike,
    *,
    model: str | None = None,
    quality: int | None = None,
    drop_alpha: bool = False,
) -> bytes:
    """Compress `image` (a path, encoded image bytes, a binary file, a PIL image or a uint8
    array) to .vqz bytes with the model named `model` or the one at `quality` on the ladder
    (1 = fewest bits; neither: the default). `drop_alpha` discards real transparency."""
    return compress_image(image, model=model, quality=quality, drop_alpha=drop_alpha).data


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

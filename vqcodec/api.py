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

from vqcodec import bitstream, zoo
from vqcodec.codec import Codec, map_sizes
from vqcodec.entropy import bytes_to_words, decode_map, encode_map, words_to_bytes
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


def _index_bytes(idx_top: torch.Tensor, idx_bottom: torch.Tensor) -> bytes:
    return b"".join(i.numpy().astype("<u2").tobytes() for i in (idx_top, idx_bottom))


@dataclass(frozen=True)
class Compressed:
    """A .vqz file and what it cost."""

    data: bytes
    width: int
    height: int
    model: str
    ideal_bits: float  # sum of -log2 p of all coded indices under the priors (float64)
    payload_bytes: int  # bytes of the two range-coded streams

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
) -> Compressed:
    """Compress and report sizes (see `compress` for the plain bytes)."""
    _check_options(model, quality, drop_alpha)
    rgb, colour = to_rgb(image, drop_alpha)
    codec = load_codec(model, quality)
    height, width = rgb.shape[:2]
    idx_top, idx_bottom = codec.analyse(rgb)
    top = encode_map(codec.model.prior_top, idx_top, None)
    bottom = encode_map(codec.model.prior_bottom, idx_bottom, idx_top)
    top_bytes, bottom_bytes = words_to_bytes(top.words), words_to_bytes(bottom.words)
    header = bitstream.Header(
        model_id=codec.entry.model_id,
        fingerprint=codec.entry.fingerprint,
        colour=colour,
        backend=bitstream.BACKEND_TORCH_FP32_CPU,
        width=width,
        height=height,
        len_top=len(top_bytes),
        len_bottom=len(bottom_bytes),
    )
    crc = bitstream.crc_of(header.pack_fields(), _index_bytes(idx_top, idx_bottom))
    data = bitstream.pack(header, top_bytes, bottom_bytes, crc)
    return Compressed(
        data,
        width,
        height,
        codec.entry.name,
        top.ideal_bits + bottom.ideal_bits,
        len(top_bytes) + len(bottom_bytes),
    )


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


def decode_indices(data: bytes) -> tuple[bitstream.Header, Codec, torch.Tensor, torch.Tensor]:
    """Parse and entropy-decode a .vqz file, CRC-checked; the maps before synthesis."""
    parsed = bitstream.unpack(bytes(data))
    header = parsed.header
    entry = zoo.by_id(header.model_id)
    if entry.fingerprint != header.fingerprint:
        raise ModelError(
            f"the file was written by different weights of model {entry.name} "
            f"(fingerprint {header.fingerprint:08x}, installed {entry.fingerprint:08x})"
        )
    codec = load_codec(entry.name)
    (th, tw), (bh, bw) = map_sizes(header.width, header.height, codec.cfg.vqvae.stride)
    idx_top = decode_map(codec.model.prior_top, bytes_to_words(parsed.top), th, tw, None)
    idx_bottom = decode_map(
        codec.model.prior_bottom, bytes_to_words(parsed.bottom), bh, bw, idx_top
    )
    if bitstream.crc_of(parsed.header_fields, _index_bytes(idx_top, idx_bottom)) != parsed.crc:
        raise CorruptStreamError("corrupt .vqz payload (CRC mismatch)")
    return header, codec, idx_top, idx_bottom


def decompress(source: VqzSource) -> Image.Image:
    """Decode a .vqz file (bytes, a path or a binary file object) to a PIL image of the
    original size and colour mode."""
    header, codec, idx_top, idx_bottom = decode_indices(read_vqz(source))
    rgb = codec.synthesize(idx_top, idx_bottom, header.width, header.height)
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
        "format_version": bitstream.VERSION,
        "model": model,
        "model_id": h.model_id,
        "fingerprint": f"{h.fingerprint:08x}",
        "width": h.width,
        "height": h.height,
        "colour": "grayscale" if h.colour == bitstream.COLOUR_GRAY else "RGB",
        "header_bytes": header_bytes,
        "stream_bytes": [h.len_top, h.len_bottom],
        "total_bytes": total_bytes,
        "bpp": 8 * total_bytes / (h.width * h.height),
    }

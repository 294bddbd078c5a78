"""Per-image measurements shared by the benchmarks: real and ideal rate, distortion, timings."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vqcodec.api import compress_image, decode_indices, decompress, load_codec
from vqcodec.bench.metrics import psnr_rgb
from vqcodec.io.image_io import to_rgb

__all__ = ["ImageResult", "measure", "psnr_rgb", "teacher_forced_pass"]


@dataclass(frozen=True)
class ImageResult:
    name: str
    width: int
    height: int
    bytes: int
    bpp: float  # real: the whole .vqz file
    ideal_bpp: float  # sum of -log2 p under the priors, per pixel
    payload_bits: int  # the code maps' streams
    refine_bits: int  # the refinement layer's streams
    streams: int  # range-coded streams of the maps (tiles x maps)
    ideal_bits: float
    overhead_pct: float  # payload over ideal, in percent
    psnr: float
    encode_s: float
    decode_s: float  # the whole decode: parse, priors + range decoding, CRC, synthesis, refinement
    prior_decode_s: float  # the autoregressive part alone: parse, priors + range decoding, CRC
    teacher_forced_s: float  # one teacher-forced pass of both priors (compute lower bound)
    teacher_forced_bits: float  # cross-entropy of the indices under that full-map pass

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def teacher_forced_pass(model: str | None, maps: list) -> tuple[float, float]:
    """(seconds, bits) of one teacher-forced pass of the integer priors over every tile group
    of the coded maps: the compute lower bound of decoding, and the rate the network itself
    assigns."""
    codec = load_codec(model)
    start = time.perf_counter()
    bits = codec.teacher_forced_bits(maps)
    return time.perf_counter() - start, bits


def measure(path: Path, model: str | None = None, quality: int | None = None) -> ImageResult:
    """One image through the codec at a model (alone) or a quality level (neither: the default
    level): sizes, PSNR, times, and one teacher-forced pass over its maps."""
    rgb, _ = to_rgb(path)
    height, width = rgb.shape[:2]
    load_codec(model, quality)  # load outside the timed region
    start = time.perf_counter()
    result = compress_image(rgb, model=model, quality=quality)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = np.asarray(decompress(result.data).convert("RGB"))
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    _, _, maps = decode_indices(result.data)
    prior_decode_s = time.perf_counter() - start
    pixels = width * height
    payload_bits = 8 * result.payload_bytes
    tf_seconds, tf_bits = teacher_forced_pass(result.model, maps)
    return ImageResult(
        name=path.name,
        width=width,
        height=height,
        bytes=len(result.data),
        bpp=result.bpp,
        ideal_bpp=result.ideal_bits / pixels,
        payload_bits=payload_bits,
        refine_bits=8 * result.refine_bytes,
        streams=result.streams,
        ideal_bits=result.ideal_bits,
        overhead_pct=100 * (payload_bits / result.ideal_bits - 1),
        psnr=psnr_rgb(rgb, decoded),
        encode_s=encode_s,
        decode_s=decode_s,
        prior_decode_s=prior_decode_s,
        teacher_forced_s=tf_seconds,
        teacher_forced_bits=tf_bits,
    )

"""The library API: compress an image to .vqz bytes and back.

data = vqcodec.compress("photo.png")          # or bytes, a binary file, a PIL image, an array
image = vqcodec.decompress(data)              # or a path, or a binary file
Options are keyword-only; every failure a caller can cause is a `VQCodecError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from PIL import Image

from vqcodec import layers, pipeline, zoo
from vqcodec.bench.metrics import psnr_rgb
from vqcodec.coding.rate_control import Trial, fill_up, fit_budget
from vqcodec.errors import InputTypeError, ModelError
from vqcodec.format import bitstream
from vqcodec.format.vqz_input import VqzSource, check_layout, read_header, read_vqz
from vqcodec.io.image_io import ImageLike, to_image, to_rgb
from vqcodec.layers import refine
from vqcodec.layers.refinement import RefinementLayer
from vqcodec.layers.wiener import WienerLayer
from vqcodec.model.codec import DEFAULT_TILE, Codec
from vqcodec.pipeline import Compressed


@cache
def _load(name: str) -> Codec:
    return Codec.load(zoo.get(name))


def load_codec(model: str | None = None, quality: int | None = None) -> Codec:
    """A loaded, sha256-verified model from the zoo, by name or quality level (neither: the
    default), cached per process."""
    return _load(zoo.select(model, quality).model)


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
        or tile > bitstream.MAX_TILE
    ):
        raise InputTypeError(
            f"tile must be 0 (one tile) or an int in {bitstream.MIN_TILE}..{bitstream.MAX_TILE}"
        )


API_NAMES = {"bpp": "bpp", "max_bytes": "max_bytes", "quality": "quality", "model": "model",
             "refine_step": "refine_step"}  # fmt: skip


def check_request(
    model: object = None,
    quality: object = None,
    bpp: object = None,
    max_bytes: object = None,
    refine_step: object = None,
    names: dict[str, str] = API_NAMES,
) -> None:
    """The one check of what a caller asks for (the API's keywords or, with `names`, the CLI's
    options, in the messages): InputTypeError for a conflict, a wrong type or a value out of
    range, before any work."""
    n = names
    target = bpp is not None or max_bytes is not None
    if model is not None and quality is not None:
        raise InputTypeError(f"give {n['model']} or {n['quality']}, not both")
    if bpp is not None and max_bytes is not None:
        raise InputTypeError(f"give {n['bpp']} or {n['max_bytes']}, not both")
    if target and quality is not None:
        raise InputTypeError(f"a rate target picks the model: give it without {n['quality']}")
    if target and refine_step is not None:
        raise InputTypeError(f"a rate target picks the refinement: give no {n['refine_step']}")
    if bpp is not None and (
        not isinstance(bpp, int | float) or isinstance(bpp, bool) or not 0 < bpp < 1000
    ):
        raise InputTypeError(f"{n['bpp']} must be a number > 0, not {bpp!r}")
    if max_bytes is not None and (
        not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0
    ):
        raise InputTypeError(f"{n['max_bytes']} must be an int > 0, not {max_bytes!r}")
    low, high = refine.STEP_RANGE
    if refine_step is not None and (
        not isinstance(refine_step, int | float)
        or isinstance(refine_step, bool)
        or not (refine_step == 0 or low <= refine_step <= high)
    ):
        raise InputTypeError(
            f"{n['refine_step']} must be 0 (none) or a number in {low:g}..{high:g}"
        )


@dataclass(frozen=True)
class _Candidate:
    compressed: Compressed
    image: np.ndarray  # what the decoder will show


def _compress_to_budget(
    rgb: np.ndarray, colour: int, codecs: list[Codec], tile: int, budget: int
) -> Compressed:
    """The best file of at most `budget` bytes (`vqcodec.coding.rate_control.fit_budget`)."""
    plain = pipeline.Settings(None)

    def encode(codec: Codec, bottom_weight: float | None) -> Trial[pipeline.Analysis]:
        weights = codec.entry.rate_weights
        if bottom_weight is not None:
            weights = (*weights[:-1], bottom_weight)
        found = pipeline.analyse(rgb, colour, codec, tile, weights)
        return Trial(weights[-1], len(found.file(plain)[0].data), found)

    def refined(found: pipeline.Analysis, step: float | None) -> _Candidate:
        return _Candidate(*found.file(pipeline.Settings(step)))

    def fill(codec: Codec, base: Trial[pipeline.Analysis]) -> _Candidate:
        found = base.result

        def encode_step(step: float) -> Trial[_Candidate]:
            candidate = refined(found, step)
            return Trial(step, len(candidate.compressed.data), candidate)

        filled = fill_up(encode_step, budget)
        return filled.result if filled is not None else refined(found, None)

    def psnr(candidate: _Candidate | pipeline.Analysis) -> float:
        if isinstance(candidate, pipeline.Analysis):
            candidate = refined(candidate, None)
        return psnr_rgb(rgb, candidate.image)

    best = fit_budget(codecs, encode, psnr, budget, fill)
    return (refined(best, None) if isinstance(best, pipeline.Analysis) else best).compressed


def compress_image(
    image: ImageLike,
    *,
    model: str | None = None,
    quality: int | None = None,
    bpp: float | None = None,
    max_bytes: int | None = None,
    drop_alpha: bool = False,
    tile: int = DEFAULT_TILE,
    refine_step: float | None = None,
) -> Compressed:
    """Compress and report sizes (see `compress` for the plain bytes). `refine_step` sets the
    refinement layer's quantizer step (`vqcodec.layers.refine`; 0: none) over the chosen level's."""
    _check_options(model, quality, drop_alpha, tile)
    check_request(model, quality, bpp, max_bytes, refine_step)
    rgb, colour = to_rgb(image, drop_alpha)
    if bpp is None and max_bytes is None:
        preset = zoo.select(model, quality)
        codec = _load(preset.model)
        step = preset.refine_step if refine_step is None else refine_step or None
        weights = preset.rate_weights or codec.entry.rate_weights
        return pipeline.encode(rgb, colour, codec, pipeline.Settings(step), tile, weights)[0]
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
    refine_step: float | None = None,
) -> bytes:
    """Compress `image` (a path, encoded image bytes, a binary file, a PIL image or a uint8
    array) to .vqz bytes at level `quality` of the ladder (1 = fewest bits; a model and a
    refinement step, `vqcodec.zoo.presets`), or with the model named `model` alone (neither:
    the default level). `refine_step` overrides the refinement layer's quantizer step (smaller:
    more bits, higher quality; 0: none). A rate target instead (`bpp`, bits per pixel of the
    whole file, or `max_bytes`) gets the highest-PSNR file not above it, searched over the
    ladder's models (or only `model`), the rate-aware index choice and the refinement step
    (`vqcodec.coding.rate_control`); `RateError` if none is small enough. `drop_alpha` discards real
    transparency."""
    return compress_image(
        image,
        model=model,
        quality=quality,
        bpp=bpp,
        max_bytes=max_bytes,
        drop_alpha=drop_alpha,
        refine_step=refine_step,
    ).data


def decode_indices(data: VqzSource) -> tuple[bitstream.Header, Codec, list[torch.Tensor]]:
    """Parse and entropy-decode a .vqz file, CRC-checked; the maps (coarsest first) before
    synthesis."""
    parsed = read_vqz(data)
    codec = _load(pipeline.model_of(parsed.header).name)
    _, maps = pipeline.decode_maps(parsed, codec)
    return parsed.header, codec, maps


def decompress(source: VqzSource | bitstream.Parsed) -> Image.Image:
    """Decode a .vqz file (bytes, a path, a binary file object, or a file `read_vqz` has read
    and checked) to a PIL image of the original size and colour mode."""
    parsed = read_vqz(source)
    codec = _load(pipeline.model_of(parsed.header).name)
    return to_image(pipeline.decode(parsed, codec), parsed.header.colour)


def _layer_name(layer_id: int) -> str:
    known = layers.by_id(layer_id)
    return known.name if known else f"unknown layer {layer_id}"


def info(source: VqzSource) -> dict[str, object]:
    """Header fields of a .vqz file (bytes, a path or a binary file object), reading only the
    header of a path or file (from a pipe the sizes are the header's)."""
    h, header_bytes, total_bytes = read_header(source)
    refinement, wiener = (h.record(layer.layer_id) for layer in (RefinementLayer, WienerLayer))
    try:
        model = zoo.by_id(h.model_id).name
    except ModelError:
        model = f"id {h.model_id} (not installed)"
    else:
        check_layout(h)  # what `decompress` would refuse, `info` refuses too
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
        "refine_step": refinement.param / refine.STEP_UNITS if refinement else None,
        "refine_bytes": sum(refinement.lengths) if refinement else 0,
        "filter_bytes": sum(wiener.lengths) if wiener else 0,
        "layers": [_layer_name(r.layer) for r in h.layers],
        "header_bytes": header_bytes,
        "stream_bytes": [n for tile in h.lengths for n in tile],
        "total_bytes": total_bytes,
        "bpp": 8 * total_bytes / (h.width * h.height),
    }

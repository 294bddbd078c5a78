"""The pipeline: one owner of the chain of layers, in both directions.

    encode: pixels -> code maps (base layer) -> refinement -> restoration network -> Wiener
            filter -> container
    decode: container -> code maps (CRC) -> synthesis -> refinement -> restoration network ->
            Wiener filter -> pixels

`analyse` runs the base layer once (the expensive part: analysis and the priors); `Analysis.file`
then runs the layers above it for any setting, so the rate search tries many refinement steps on
one set of maps. The container (`vqcodec.format.bitstream`) owns the header and the checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vqcodec import layers, zoo
from vqcodec.errors import ModelError
from vqcodec.format import bitstream
from vqcodec.layers import Coded, Frame, Layer, refine
from vqcodec.layers.maps import BaseImage, MapsLayer
from vqcodec.model.codec import DEFAULT_TILE, Codec, EncodedImage, index_bytes


@dataclass(frozen=True)
class Settings:
    """What the layers above the maps do: a refinement step (None: no refinement), whether the
    Wiener filter is fitted (it is sent only where it pays), and the layers left out by name
    (e.g. "restore-net"); any other layer runs with its `default`."""

    refine_step: float | None = None
    filtered: bool = True
    without: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        names = {layer.name for layer in layers.RESIDUAL_LAYERS}
        if isinstance(self.without, str) or not set(self.without) <= names:
            raise ValueError(f"without: layer names of {sorted(names)}, not {self.without!r}")
        object.__setattr__(self, "without", frozenset(self.without))

    def of(self, layer: Layer) -> object:
        if layer.name in self.without:
            return None
        own = {"refinement": self.refine_step, "wiener": self.filtered}
        return own.get(layer.name, layer.default)


@dataclass(frozen=True)
class Compressed:
    """A .vqz file and what it cost."""

    data: bytes
    width: int
    height: int
    model: str
    ideal_bits: float  # sum of -log2 p of all coded indices under the priors (float64)
    payload_bytes: int  # bytes of the code maps' range-coded streams (what ideal_bits counts)
    streams: int  # how many (each independent stream ends with its coder's flush, <= 64 bits)
    rate_weights: tuple[float, ...]  # the rate-aware choice's weight per map (coarsest first)
    refine_step: float | None = None  # the refinement layer's quantizer step (None: no layer)
    refine_bytes: int = 0  # bytes of the refinement streams
    filter_bytes: int = 0  # bytes of the restoration filter
    layers: tuple[str, ...] = ()  # the layers above the maps the file has, in order

    @property
    def bpp(self) -> float:
        return 8 * len(self.data) / (self.width * self.height)


def channels_of(colour: int) -> int:
    """Colour-transform channels the residual layers code: luma only for a grayscale image."""
    return 1 if colour == bitstream.COLOUR_GRAY else 3


def encode_layers(frame: Frame, settings: Settings) -> dict[str, Coded]:
    """Run the layers above the maps on `frame` (its image: the base; its original: the
    target) under `settings`; `frame.image` becomes what the decoder will show."""
    return {layer.name: layer.encode(frame, settings.of(layer)) for layer in layers.RESIDUAL_LAYERS}


@dataclass
class Analysis:
    """The code maps of one image under one model (the base layer), ready to be finished with
    any setting of the layers above."""

    rgb: np.ndarray
    colour: int
    codec: Codec
    tile: int
    rate_weights: tuple[float, ...]
    image: EncodedImage
    base: BaseImage

    @property
    def maps(self) -> list[torch.Tensor]:
        return self.image.maps

    def file(self, settings: Settings) -> tuple[Compressed, np.ndarray]:
        """The file with the layers above the maps run under `settings`, and the image the
        decoder will produce from it."""
        height, width = self.rgb.shape[:2]
        frame = Frame(width, height, channels_of(self.colour), self.base.pixels, self.rgb)
        coded = encode_layers(frame, settings)
        entry = self.codec.entry
        header = bitstream.Header(entry.model_id, entry.fingerprint, self.colour, width, height,
                                  self.tile, lengths=())  # fmt: skip
        parts = [(layer.layer_id, coded[layer.name]) for layer in layers.RESIDUAL_LAYERS]
        data = bitstream.assemble(header, self.image.streams, index_bytes(self.maps), parts)
        return self._report(data, coded), frame.image

    def _report(self, data: bytes, coded: dict[str, Coded]) -> Compressed:
        height, width = self.rgb.shape[:2]
        streams = self.image.streams
        refinement = coded["refinement"]
        return Compressed(
            data,
            width,
            height,
            self.codec.entry.name,
            self.image.ideal_bits,
            sum(len(s) for t in streams for s in t),
            sum(len(t) for t in streams),
            self.rate_weights,
            refinement.param / refine.STEP_UNITS if refinement.present else None,
            sum(len(s) for s in refinement.streams),
            sum(len(s) for s in coded["wiener"].streams),
            tuple(name for name, part in coded.items() if part.present),
        )


def analyse(
    rgb: np.ndarray,
    colour: int,
    codec: Codec,
    tile: int = DEFAULT_TILE,
    rate_weights: Sequence[float] | None = None,
) -> Analysis:
    """Run the base layer: `rgb` (H x W x 3 uint8) as code maps under `codec`, with the rate
    weights given (default: the model's own)."""
    weights = tuple(codec.entry.rate_weights if rate_weights is None else rate_weights)
    height, width = rgb.shape[:2]
    frame = Frame(width, height, channels_of(colour), original=rgb)
    image, base = MapsLayer(codec).encode(frame, tile, weights)
    return Analysis(rgb, colour, codec, tile, weights, image, base)


def encode(
    rgb: np.ndarray,
    colour: int,
    codec: Codec,
    settings: Settings,
    tile: int = DEFAULT_TILE,
    rate_weights: Sequence[float] | None = None,
) -> tuple[Compressed, np.ndarray]:
    """The whole chain: the file and the image the decoder will produce."""
    return analyse(rgb, colour, codec, tile, rate_weights).file(settings)


def model_of(header: bitstream.Header) -> zoo.ZooEntry:
    """The installed model a file names, its fingerprint checked."""
    entry = zoo.by_id(header.model_id)
    weights_only = bitstream.format_of(header.version).fingerprint == "weights"
    expected = entry.fingerprint_v1 if weights_only else entry.fingerprint
    if expected != header.fingerprint:
        raise ModelError(
            f"the file was written by different weights of model {entry.name} "
            f"(fingerprint {header.fingerprint:08x}, installed {expected:08x})"
        )
    return entry


def decode_maps(parsed: bitstream.Parsed, codec: Codec) -> tuple[Frame, list[torch.Tensor]]:
    """The base layer of a checked file: the frame holding its base image, and the maps."""
    header = parsed.header
    frame = Frame(header.width, header.height, channels_of(header.colour))
    return frame, MapsLayer(codec).decode(frame, parsed)


def decode(parsed: bitstream.Parsed, codec: Codec) -> np.ndarray:
    """A checked file (`vqcodec.format.vqz_input.read_vqz`) decoded by its model:
    H x W x 3 uint8."""
    frame, _ = decode_maps(parsed, codec)
    for layer in layers.RESIDUAL_LAYERS:
        layer.decode(frame, parsed.coded(layer.layer_id))
    return frame.image

"""The base layer: the image as code maps under one model (`vqcodec.model.codec`), range-coded
under the integer priors, and the synthesis network's image of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
import torch

from vqcodec.format import bitstream, legacy_v1
from vqcodec.layers.base import Frame
from vqcodec.model.codec import Codec, EncodedImage, index_bytes


class MapsLayer:
    """Encode: pixels -> code maps -> streams, and the decoder's base image. Decode: streams ->
    maps (CRC-checked with the whole file) -> base image."""

    name = "maps"

    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def encode(
        self, frame: Frame, tile: int, rate_weights: Sequence[float]
    ) -> tuple[EncodedImage, BaseImage]:
        image = self.codec.encode_image(frame.original, tile, rate_weights)
        return image, BaseImage(self.codec, image.maps, frame.width, frame.height)

    def decode(self, frame: Frame, parsed: bitstream.Parsed) -> list[torch.Tensor]:
        """The maps of `parsed` (whose whole-file CRC is checked here, the indices being what
        it covers); `frame.image` becomes their synthesis."""
        decoder = MAP_DECODERS[bitstream.format_of(parsed.header.version).maps]
        maps = decoder(self.codec, parsed)
        frame.image = self.codec.synthesize(maps, frame.width, frame.height)
        return maps


def _decode_int8_prior(codec: Codec, parsed: bitstream.Parsed) -> list[torch.Tensor]:
    """Formats 2 and later: the tiles under the exact integer prior, then the file's CRC."""
    header = parsed.header
    maps = codec.decode_maps(parsed.streams, header.width, header.height, header.tile)
    bitstream.check_indices(parsed, index_bytes(maps))
    return maps


# how each format's maps are decoded (`vqcodec.format.schema.Format.maps`)
MAP_DECODERS: dict[str, Callable[[Codec, bitstream.Parsed], list[torch.Tensor]]] = {
    "float-prior": legacy_v1.decode_maps,  # format 1, CRC-checked inside
    "int8-prior": _decode_int8_prior,
}


class BaseImage:
    """The synthesis of a set of maps, computed when first needed (a rate search may decide
    from the maps' size alone)."""

    def __init__(self, codec: Codec, maps: list[torch.Tensor], width: int, height: int) -> None:
        self.codec, self.maps, self.width, self.height = codec, maps, width, height

    @cached_property
    def pixels(self) -> np.ndarray:
        return self.codec.synthesize(self.maps, self.width, self.height)

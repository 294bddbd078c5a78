"""The base layer: the image as code maps under one model (`vqcodec.codec`), range-coded
under the integer priors, and the synthesis network's image of them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import torch

from vqcodec import bitstream, legacy_v1
from vqcodec.codec import Codec, EncodedImage, index_bytes
from vqcodec.layers.base import Frame


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
        header = parsed.header
        if header.version == 1:
            maps = legacy_v1.decode_maps(self.codec, parsed)
        else:
            maps = self.codec.decode_maps(parsed.streams, header.width, header.height, header.tile)
            bitstream.check_indices(parsed, index_bytes(maps))
        frame.image = self.codec.synthesize(maps, frame.width, frame.height)
        return maps


class BaseImage:
    """The synthesis of a set of maps, computed when first needed (a rate search may decide
    from the maps' size alone)."""

    def __init__(self, codec: Codec, maps: list[torch.Tensor], width: int, height: int) -> None:
        self.codec, self.maps, self.width, self.height = codec, maps, width, height

    @cached_property
    def pixels(self) -> np.ndarray:
        return self.codec.synthesize(self.maps, self.width, self.height)

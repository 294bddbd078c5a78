"""What every layer of the pipeline is: encode and decode over a shared frame.

A layer turns part of what the encoder knows into streams (`Coded`) and back. Layers run in a
fixed order over one `Frame`: the code maps make the base image, each residual layer above
improves the image it finds there and may leave side information for the layers after it
(the refinement leaves its blocks' nonzero counts, which the Wiener filter's classes read). The
container (`format.bitstream`) maps each layer's `Coded` to header fields and streams; a layer
knows nothing of the header.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from vqcodec.format.bitstream import ABSENT, Coded, LayerRecord

__all__ = ["ABSENT", "Coded", "Frame", "Layer"]


@dataclass
class Frame:
    """The image as the layers so far left it, and what they pass on."""

    width: int
    height: int
    channels: int  # colour-transform channels the residual layers code: 3, or 1 for grayscale
    image: np.ndarray | None = None  # the decoder's image so far: H x W x 3 uint8
    original: np.ndarray | None = None  # the encoder's input (encoding only)
    side: dict[str, Any] = field(default_factory=dict)  # side information for later layers


class Layer(ABC):
    """A residual layer: encode with a setting, decode from what it wrote.

    `layer_id` names the layer in a file's layer records (format 6); ids increase in the order
    the layers run and are never reused. `default` is the setting an encode uses when its
    settings do not name the layer."""

    name: ClassVar[str]
    layer_id: ClassVar[int]
    default: ClassVar[Any] = None

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        """Why this layer's record in a header (parameter, stream lengths) cannot be, for an
        image of this size; None if it can. Runs before anything is decoded: no torch, no
        stream bytes."""
        return None

    @abstractmethod
    def encode(self, frame: Frame, setting: Any) -> Coded:
        """Code what `frame.image` misses of `frame.original` under `setting` (None: absent);
        update `frame.image` (and `frame.side`) to what the decoder will have."""

    @abstractmethod
    def decode(self, frame: Frame, coded: Coded) -> None:
        """Apply the layer's streams to `frame.image` (and update `frame.side`)."""

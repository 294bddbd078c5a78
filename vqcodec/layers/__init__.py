"""The layers above the code maps, in the order they run (encode and decode alike).

A new layer is one module with a `Layer` subclass and one line here (and, for the file, the
container's mapping of its `Coded` to header fields: `vqcodec.format.bitstream.LAYER_FIELDS`).
"""

from vqcodec.layers.base import ABSENT, Coded, Frame, Layer
from vqcodec.layers.refinement import RefinementLayer
from vqcodec.layers.wiener import WienerLayer

RESIDUAL_LAYERS: tuple[Layer, ...] = (
    RefinementLayer(),
    WienerLayer(),
)

__all__ = ["ABSENT", "RESIDUAL_LAYERS", "Coded", "Frame", "Layer"]

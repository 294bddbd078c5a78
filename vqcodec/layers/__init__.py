"""The layers above the code maps, in the order they run (encode and decode alike).

A new layer is one module with a `Layer` subclass (its `name`, its never-reused `layer_id`, in
the order the layers run) and one line here; the container writes any layer as a generic record
(id, parameter, streams) and needs no change.
"""

from vqcodec.layers.base import ABSENT, Coded, Frame, Layer
from vqcodec.layers.learned_filter import LearnedFilterLayer
from vqcodec.layers.refinement import RefinementLayer
from vqcodec.layers.wiener import WienerLayer

RESIDUAL_LAYERS: tuple[Layer, ...] = (
    RefinementLayer(),
    LearnedFilterLayer(),
    WienerLayer(),
)
_IDS = [layer.layer_id for layer in RESIDUAL_LAYERS]
assert sorted(set(_IDS)) == _IDS, "layer ids increase in the order the layers run"


def by_id(layer_id: int) -> Layer | None:
    """The layer a file's record names (None: a layer this release does not know)."""
    return next((layer for layer in RESIDUAL_LAYERS if layer.layer_id == layer_id), None)


__all__ = ["ABSENT", "RESIDUAL_LAYERS", "Coded", "Frame", "Layer", "by_id"]

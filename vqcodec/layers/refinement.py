"""The refinement layer: the residual transform-coded on top of the image so far
(`vqcodec.layers.refine`: 8x8 DCT, context-modelled range coding). It leaves every block's count of
nonzero coefficients as side information (`ACTIVITY`) for the layers above."""

from __future__ import annotations

from vqcodec.layers import refine
from vqcodec.layers.base import ABSENT, Coded, Frame, Layer

ACTIVITY = "nonzero"  # side information: (channels, blocks down, blocks across) nonzero counts


class RefinementLayer(Layer):
    name = "refinement"

    def encode(self, frame: Frame, setting: float | None) -> Coded:
        """`setting`: the quantizer step (None: no refinement)."""
        if setting is None:
            return ABSENT
        layer, frame.image, frame.side[ACTIVITY] = refine.encode(
            frame.original, frame.image, setting, frame.channels
        )
        return Coded(layer.step_q, tuple(layer.streams))

    def decode(self, frame: Frame, coded: Coded) -> None:
        if not coded.param:
            return
        layer = refine.Refinement(coded.param, list(coded.streams))
        frame.image, frame.side[ACTIVITY] = refine.decode(frame.image, layer, frame.channels)

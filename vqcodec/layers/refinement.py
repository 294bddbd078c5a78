"""The refinement layer: the residual transform-coded on top of the image so far
(`vqcodec.layers.refine`: 8x8 DCT, context-modelled range coding). It leaves every block's count of
nonzero coefficients as side information (`ACTIVITY`) for the layers above."""

from __future__ import annotations

from vqcodec.format.bitstream import LayerRecord
from vqcodec.layers import refine
from vqcodec.layers.base import ABSENT, Coded, Frame, Layer

ACTIVITY = "nonzero"  # side information: (channels, blocks down, blocks across) nonzero counts
STEP = "refine_step"  # side information: the quantizer step (None: no refinement)


class RefinementLayer(Layer):
    name = "refinement"
    layer_id = 1

    def encode(self, frame: Frame, setting: float | None) -> Coded:
        """`setting`: the quantizer step (None: no refinement)."""
        frame.side[STEP] = None
        if setting is None:
            return ABSENT
        layer, frame.image, frame.side[ACTIVITY] = refine.encode(
            frame.original, frame.image, setting, frame.channels
        )
        frame.side[STEP] = layer.step_q / refine.STEP_UNITS  # what the decoder will read
        return Coded(layer.step_q, tuple(layer.streams))

    def decode(self, frame: Frame, coded: Coded) -> None:
        frame.side[STEP] = coded.param / refine.STEP_UNITS if coded.param else None
        if not coded.param:
            return
        layer = refine.Refinement(coded.param, list(coded.streams))
        frame.image, frame.side[ACTIVITY] = refine.decode(frame.image, layer, frame.channels)

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        """The step range and one stream per stripe of the image's height."""
        if not refine.MIN_STEP_Q <= record.param <= refine.MAX_STEP_Q:
            return f"refinement step {record.param} (in quarters; {refine.MIN_STEP_Q} to " \
                f"{refine.MAX_STEP_Q})"  # fmt: skip
        need = len(refine.stripes(height))
        if len(record.lengths) != need:
            return f"{len(record.lengths)} refinement stripes where its height makes {need}"
        return None

"""The restoration layer: a per-image Wiener filter fitted by the encoder where it pays
(`vqcodec.layers.restore`), its classes from the refinement's side information."""

from __future__ import annotations

from vqcodec.format.bitstream import LayerRecord
from vqcodec.layers import restore
from vqcodec.layers.base import ABSENT, Coded, Frame, Layer
from vqcodec.layers.refinement import ACTIVITY, STEP


class WienerLayer(Layer):
    """`default`: fit a filter (sent only where it pays)."""

    name = "wiener"
    layer_id = 3
    default = True

    def _classes(self, frame: Frame):
        if ACTIVITY in frame.side:
            return restore.activity_classes(frame.side[ACTIVITY], frame.height, frame.width)
        return restore.unrefined_classes(frame.channels, frame.height, frame.width)

    def encode(self, frame: Frame, setting: bool | None) -> Coded:
        """`setting`: whether to fit a filter (it is sent only where it pays)."""
        if not setting:
            return ABSENT
        classes = self._classes(frame)
        trade = restore.trade(frame.side.get(STEP))
        filt = restore.fit(frame.original, frame.image, classes, trade)
        frame.image = restore.apply(frame.image, filt, classes)
        stream = restore.encode(filt)
        return Coded(0, (stream,)) if stream else ABSENT

    def decode(self, frame: Frame, coded: Coded) -> None:
        if not any(coded.streams):
            return
        filt = restore.decode(coded.streams[0], frame.channels)
        frame.image = restore.apply(frame.image, filt, self._classes(frame))

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        if record.param or len(record.lengths) != 1 or not record.lengths[0]:
            return "a Wiener filter record needs one non-empty stream and no parameter"
        return None

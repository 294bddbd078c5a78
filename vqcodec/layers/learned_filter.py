"""The learned restoration layer: a small CNN (`vqcodec.layers.restore_net`) over the image the
refinement left, conditioned on the refinement step, before the per-image Wiener filter fits on
its output.

It sends no stream: its record names the shipped network (the zoo's append-only network id),
and the encoder leaves it out of an image it does not improve. Torch is imported only when the
layer runs, so reading and checking a header stays torch-free.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from vqcodec import zoo
from vqcodec.errors import ModelError
from vqcodec.format.bitstream import LayerRecord
from vqcodec.layers.base import ABSENT, Coded, Frame, Layer
from vqcodec.layers.refinement import STEP

if TYPE_CHECKING:
    from vqcodec.layers.restore_net import RestoreNet

KIND = "restore-net"


@cache
def _network(net_id: int) -> RestoreNet:
    """A shipped network, its sha256 checked, loaded once per process."""
    from vqcodec.layers import restore_net

    return restore_net.load(zoo.verified_network(zoo.network(net_id, KIND)))


def _squared_error(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.sum((a.astype(np.int32) - b.astype(np.int32)) ** 2))


class LearnedFilterLayer(Layer):
    """`default`: run the newest shipped network where it lowers the squared error."""

    name = "restore-net"
    layer_id = 2
    default = True

    def encode(self, frame: Frame, setting: bool | None) -> Coded:
        entry = zoo.latest_network(KIND) if setting else None
        if entry is None:
            return ABSENT
        restored = _network(entry.net_id).apply(frame.image, frame.side.get(STEP))
        if _squared_error(restored, frame.original) >= _squared_error(frame.image, frame.original):
            return ABSENT
        frame.image = restored
        return Coded(entry.net_id)

    def decode(self, frame: Frame, coded: Coded) -> None:
        if coded.param:
            frame.image = _network(coded.param).apply(frame.image, frame.side.get(STEP))

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        if record.lengths:
            return "a restoration network record has no streams"
        try:
            zoo.network(record.param, KIND)
        except ModelError as exc:
            return str(exc)
        return None

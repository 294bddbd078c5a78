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


ROWS = 256  # rows compared at once: bounds the temporaries on a large image
LUMA = np.array([19595, 38470, 7471], np.int64)  # PIL's RGB-to-L weights, in 1/65536


def _squared_error(a: np.ndarray, b: np.ndarray, channels: int) -> int:
    """Squared error of what the user gets: RGB, or for a grayscale file (`channels` 1) the
    luma it is saved as (PIL's RGB-to-L, FORMAT.md section 9.4)."""
    total = 0
    for y in range(0, a.shape[0], ROWS):
        x, z = a[y : y + ROWS].astype(np.int64), b[y : y + ROWS].astype(np.int64)
        if channels == 1:
            x, z = ((x @ LUMA + 32768) >> 16, (z @ LUMA + 32768) >> 16)
        total += int(np.sum((x - z) ** 2))
    return total


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
        before = _squared_error(frame.image, frame.original, frame.channels)
        if _squared_error(restored, frame.original, frame.channels) >= before:
            return ABSENT
        frame.image = restored
        return Coded(entry.net_id)

    def decode(self, frame: Frame, coded: Coded) -> None:
        if coded.param:
            frame.image = _network(coded.param).apply(frame.image, frame.side.get(STEP))

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        """No streams and a network id; ModelError if that network is not installed (a file
        of a newer release), as for a model."""
        if record.lengths or not record.param:
            return "a restoration network record has a network id and no streams"
        entry = zoo.network(record.param, KIND)
        if not (entry.folder / zoo.WEIGHTS_FILE).is_file():
            raise ModelError(f"network {entry.name}: {zoo.WEIGHTS_FILE} missing ({entry.folder})")
        return None

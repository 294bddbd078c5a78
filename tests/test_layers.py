"""A new layer is one module and one registry line: shown with a toy layer the container, the
pipeline and the checks have never heard of."""

from __future__ import annotations

import numpy as np
import pytest

import vqcodec
from vqcodec import layers
from vqcodec.errors import CorruptStreamError
from vqcodec.format import bitstream
from vqcodec.format.bitstream import LayerRecord
from vqcodec.layers.base import Coded, Frame, Layer

from .conftest import photo


class MeanShiftLayer(Layer):
    """Toy layer 9: moves every pixel by its setting (param: the shift + 256), no streams."""

    name = "mean-shift"
    layer_id = 9
    default = 3

    def encode(self, frame: Frame, setting: object) -> Coded:
        shift = int(setting)  # type: ignore[call-overload]
        frame.image = self._shifted(frame.image, shift)
        return Coded(shift + 256)

    def decode(self, frame: Frame, coded: Coded) -> None:
        if coded.param:
            frame.image = self._shifted(frame.image, coded.param - 256)

    def layout_problem(self, record: LayerRecord, width: int, height: int) -> str | None:
        ok = 1 <= record.param <= 511 and not record.lengths
        return None if ok else "a mean-shift record has a shift in 1..511 and no streams"

    @staticmethod
    def _shifted(image: np.ndarray, shift: int) -> np.ndarray:
        return np.clip(image.astype(int) + shift, 0, 255).astype(np.uint8)


@pytest.fixture
def with_toy_layer(monkeypatch):
    monkeypatch.setattr(layers, "RESIDUAL_LAYERS", (*layers.RESIDUAL_LAYERS, MeanShiftLayer()))


def dark_photo() -> np.ndarray:
    return (photo(48, 40).astype(int) // 2).astype(np.uint8)


def test_a_registered_layer_is_written_read_checked_and_decoded(with_toy_layer):
    report = vqcodec.compress_image(dark_photo(), quality=5)
    header = bitstream.unpack(report.data).header
    assert header.layers[-1].layer == 9 and not header.layers[-1].lengths
    assert vqcodec.info(report.data)["layers"][-1] == "mean-shift"
    assert report.layers[-1] == "mean-shift"
    bad = bitstream.Header(**{**header.__dict__, "layers": (
        *header.layers[:-1], LayerRecord(9, 600))})  # fmt: skip
    parsed = bitstream.unpack(report.data)
    forged = bitstream.pack(bad, parsed.streams, parsed.crc, parsed.layer_streams)
    with pytest.raises(CorruptStreamError, match="mean-shift record"):
        vqcodec.decompress(forged)


def test_without_the_layer_registered_its_files_are_refused(with_toy_layer, monkeypatch):
    data = vqcodec.compress_image(dark_photo(), quality=5).data
    monkeypatch.setattr(layers, "RESIDUAL_LAYERS", layers.RESIDUAL_LAYERS[:-1])
    with pytest.raises(CorruptStreamError, match="layer 9, which this version"):
        vqcodec.decompress(data)


def test_the_layer_changes_the_pixels_by_its_shift(with_toy_layer, monkeypatch):
    data = vqcodec.compress_image(dark_photo(), quality=5).data
    parsed = bitstream.unpack(data)
    shift = parsed.header.layers[-1].param - 256
    with_layer = np.asarray(vqcodec.decompress(data)).astype(int)
    monkeypatch.setattr(MeanShiftLayer, "decode", lambda self, frame, coded: None)
    without = np.asarray(vqcodec.decompress(data)).astype(int)
    assert shift == 3
    np.testing.assert_array_equal(with_layer, np.clip(without + shift, 0, 255))

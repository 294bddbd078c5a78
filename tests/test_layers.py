"""A new layer is one module and one registry line: shown with a toy layer the container, the
pipeline and the checks have never heard of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vqcodec
from vqcodec import layers
from vqcodec.errors import CorruptStreamError, FormatError, ModelError
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
    with pytest.raises(FormatError, match="needs layer 9, which this version"):
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


def test_a_file_naming_a_network_this_release_lacks_asks_for_the_network():
    data = (Path(__file__).parent / "data" / "golden_v6_layers.vqz").read_bytes()
    parsed = bitstream.unpack(data)
    for net_id, error, message in ((7, ModelError, "network 7"), (0, CorruptStreamError, "id")):
        records = tuple(LayerRecord(2, net_id) if r.layer == 2 else r for r in parsed.header.layers)
        header = bitstream.Header(**{**parsed.header.__dict__, "layers": records})
        forged = bitstream.pack(header, parsed.streams, parsed.crc, parsed.layer_streams)
        with pytest.raises(error, match=message):
            vqcodec.decompress(forged)


@pytest.mark.parametrize("step", [10.3, 37 / 3])
def test_the_encoder_s_image_is_the_decoder_s_for_any_step(step):
    """The layers above the refinement see the step the file stores (quarters), not the one
    asked for: the encoder's image is what the decoder computes."""
    report = vqcodec.compress_image(photo(64, 96, seed=3), model="s4-t64-b32", refine_step=step)
    from vqcodec import pipeline
    from vqcodec.api import load_codec
    from vqcodec.format.vqz_input import read_vqz

    found = pipeline.analyse(photo(64, 96, seed=3), 0, load_codec("s4-t64-b32"))
    compressed, image = found.file(pipeline.Settings(step))
    assert compressed.data == report.data
    decoded = pipeline.decode(read_vqz(report.data), load_codec("s4-t64-b32"))
    np.testing.assert_array_equal(image, decoded)


def test_settings_name_layers_that_exist():
    from vqcodec.pipeline import Settings

    with pytest.raises(ValueError, match="layer names"):
        Settings(80, without=frozenset({"restorenet"}))
    with pytest.raises(ValueError, match="layer names"):
        Settings(80, without="restore-net")  # type: ignore[arg-type]

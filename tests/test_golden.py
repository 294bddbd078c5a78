"""Files written by earlier versions keep decoding (format stability).

Format 2: `tests/data/golden_v2_<model>.vqz`, one per model shipped then, written from a 96x64
crop of examples/sample.png in tiles of 4 coarse codes (6 tiles: the tiling is pinned too) by
`python -m tests.test_golden --write`; never regenerate them: bump bitstream.VERSION instead.
Their indices are pinned by sha256 and must decode on every machine; their pixels come from
float synthesis, so they are pinned to +-1 level (`golden_v2_*.png`). A model added later gets
the same file in the format of its day (`golden_v4_<model>.vqz`, by `python -m
tests.test_golden --write-model NAME`; pixels to +-2, the filter being float too). A retired
model's golden file stays, to show that its files fail with one line naming it.

Format 3: `tests/data/golden_v3_refined.vqz`, the same crop with model s4-t64-b32 and a
refinement layer at step 24, by `python -m tests.test_golden --write-v3`. Its indices and its
refinement's integer coefficients are pinned by sha256; its pixels (float synthesis plus a float
inverse DCT) to +-2 levels.

Format 6: `tests/data/golden_v6_layers.vqz`, the same crop, model and step with every layer the
encoder ran then (refinement, restoration network 1, Wiener filter) as layer records, by
`python -m tests.test_golden --write-v6`; pixels to +-2. A restoration network shipped later gets
the same file written with it, `golden_v6_<network>.vqz` (`--write-network`); the newest one's is
what the encoder writes today.

Format 4: `tests/data/golden_v4_filtered.vqz`, the same crop, model and step with the restoration
filter the encoder chose for it, by `python -m tests.test_golden --write-v4`. Indices and
coefficients are pinned as in format 3, the filter's integer weights exactly; pixels to +-2.

Format 1: `tests/data/golden_v1.vqz` (model id 1, from the same crop) was written on an AMD EPYC;
its float prior is machine-bound, so it decodes to its pinned pixels only where the float
arithmetic matches the writer's, and elsewhere fails with the one-line portability error (this
is the failure format 2 exists to end). A format 1 file written on the machine running the tests
checks the format 1 reader itself.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vqcodec
from vqcodec import zoo
from vqcodec.api import decode_indices, load_codec
from vqcodec.errors import CorruptStreamError, ModelError
from vqcodec.format import bitstream, legacy_v1
from vqcodec.layers import refine, restore
from vqcodec.model.codec import index_bytes

from .conftest import SAMPLE

DATA = Path(__file__).parent / "data"
GOLDEN_V1 = DATA / "golden_v1.vqz"
V1_PIXELS_SHA256 = "487b60dd62e5a179873eebad722f1f4ee3bf81d77526917267086f2d931bb540"
V2_INDICES_SHA256 = {
    "s4-t512-b512": "96785c1bc9b357dccc471ce2fe43ead76f81b79af08b4c949c9174a1e31c3e44",
    "s4-t64-b32": "9ed6c83df90bdff2a0fec0c8013f940443a8e1aa6bed220d931a9381831dc935",
    "s8-t512-b1024": "fe99b34f7ef21c8b473771a17eaabf8e1ac243b31c873f1d5fd90e1f596c9a5f",
}
MODEL_GOLDENS = {  # (format, indices sha256) of the models added since
    "s4-t64-b32-v2": (4, "9671dcf214cf2b23870e7612a6d8fe101bc3dbe4dd5d52ac4b1074fd2a3ee1a6"),
}
RETIRED_GOLDEN = DATA / "golden_v2_s4-t1024-b4096.vqz"  # id 4, retired in session 7


GOLDEN_V3 = DATA / "golden_v3_refined.vqz"
V3_MODEL, V3_STEP = "s4-t64-b32", 24.0
V3_SHA256 = {
    "indices": "9ed6c83df90bdff2a0fec0c8013f940443a8e1aa6bed220d931a9381831dc935",
    "coefficients": "b62e5e9a5dd9e08370ba583a9bfa352ecdfcfba956a2fab354e39efab508e70b",
}


def golden_crop() -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(SAMPLE).convert("RGB"))[100:164, 150:246])


GOLDENS = {name: (2, sha) for name, sha in V2_INDICES_SHA256.items()} | MODEL_GOLDENS


def golden_file(name: str) -> Path:
    """The golden file of a shipped model."""
    return DATA / f"golden_v{GOLDENS[name][0]}_{name}.vqz"


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden_model_files_decode_to_their_indices_and_pixels(name):
    version, indices_sha256 = GOLDENS[name]
    golden = golden_file(name)
    data = golden.read_bytes()
    header, codec, maps = decode_indices(data)
    assert header.version == version and codec.entry.name == name
    assert hashlib.sha256(index_bytes(maps)).hexdigest() == indices_sha256
    pixels = np.asarray(vqcodec.decompress(data)).astype(int)
    expected = np.asarray(Image.open(golden.with_suffix(".png"))).astype(int)
    assert pixels.shape == expected.shape and np.abs(pixels - expected).max() <= (version > 2) + 1


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden_streams_are_what_the_coder_writes_today(name):
    """The entropy-coding half of the encoder is machine-independent: coding the golden's
    indices again gives the golden's bytes exactly."""
    data = golden_file(name).read_bytes()
    header, codec, maps = decode_indices(data)
    again = codec.encode_maps(maps, header.tile)
    stream_bytes = b"".join(s for tile in again.streams for s in tile)
    assert data.endswith(stream_bytes)


def test_every_shipped_model_has_a_golden_file():
    assert set(GOLDENS) == set(zoo.entries())


def test_a_golden_file_of_a_retired_model_fails_naming_it():
    with pytest.raises(ModelError, match=r"model s4-t1024-b4096 \(id 4\).*no longer ships"):
        vqcodec.decompress(RETIRED_GOLDEN.read_bytes())


def test_golden_v1_file_decodes_where_its_arithmetic_matches_and_says_why_elsewhere():
    try:
        image = vqcodec.decompress(GOLDEN_V1.read_bytes())
    except CorruptStreamError as exc:
        assert str(exc) == legacy_v1.NOT_PORTABLE
    else:
        assert image.size == (96, 64) and image.mode == "RGB"
        assert hashlib.sha256(np.asarray(image).tobytes()).hexdigest() == V1_PIXELS_SHA256


def test_format_1_reader_decodes_a_file_written_on_this_machine():
    codec = load_codec("s4-t512-b512")
    crop = golden_crop()
    data = legacy_v1.encode(codec, crop, colour=0)
    assert data[3] == 1
    header, _, maps = decode_indices(data)
    assert header.version == 1
    assert all(np.array_equal(a, b) for a, b in zip(maps, codec.analyse(crop), strict=True))
    assert np.asarray(vqcodec.decompress(data)).shape == crop.shape


def v3_coefficients(data: bytes) -> np.ndarray:
    parsed = bitstream.unpack(data)
    (stream,) = parsed.coded(bitstream.REFINEMENT_ID).streams
    blocks = [-(-n // refine.BLOCK) for n in (parsed.header.height, parsed.header.width)]
    return refine.decode_stripe(stream, 3, *blocks)


def test_golden_v3_refinement_is_what_the_coder_writes_today():
    data = GOLDEN_V3.read_bytes()
    (stream,) = bitstream.unpack(data).coded(bitstream.REFINEMENT_ID).streams
    assert refine.encode_stripe(v3_coefficients(data)) == stream


def write_golden_v3() -> None:
    """Write the format 3 golden file (once, when format 3 was introduced)."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    GOLDEN_V3.write_bytes(data)
    vqcodec.decompress(data).save(GOLDEN_V3.with_suffix(".png"))
    _, _, maps = decode_indices(data)
    print("indices", hashlib.sha256(index_bytes(maps)).hexdigest())
    coefficients = v3_coefficients(data).astype("<i4").tobytes()
    print("coefficients", hashlib.sha256(coefficients).hexdigest())


GOLDEN_V4 = DATA / "golden_v4_filtered.vqz"
V4_FILTER = (  # one filter per channel (none per class on so small an image)
    ((0, 0, 6, -15, 25, 15, -4, -2, 4, -7, 11, 1, 9),),
    ((3, 3, 0, 3, 5, 5, 8, -5, 4, 6, 11, 18, 3),),
    ((4, 1, -2, 8, 8, 11, 5, -10, -3, 6, 11, 19, 1),),
)


GOLDEN_V5 = DATA / "golden_v5_filtered.vqz"
GOLDEN_V6 = DATA / "golden_v6_layers.vqz"  # restoration network 1


def network_golden(name: str) -> Path:
    """The golden file of a restoration network shipped after format 6 came in."""
    return DATA / f"golden_v6_{name}.vqz"


NEWEST_NETWORK = zoo.latest_network("restore-net")
GOLDEN_V6_FILES = [GOLDEN_V6, *sorted(DATA.glob("golden_v6_restore-net-*.vqz"))]


@pytest.mark.parametrize("version", [3, 4, 5])
def test_golden_refined_files_decode_to_their_indices_coefficients_and_pixels(version):
    """Formats 3, 4 and 5 (the same crop, model and step; format 4 adds the filter, format 5
    the payload CRC: its streams are format 4's)."""
    golden = {3: GOLDEN_V3, 4: GOLDEN_V4, 5: GOLDEN_V5}[version]
    data = golden.read_bytes()
    header, codec, maps = decode_indices(data)
    step_q = header.record(bitstream.REFINEMENT_ID).param
    assert (header.version, step_q, codec.entry.name) == (version, 96, V3_MODEL)
    assert hashlib.sha256(index_bytes(maps)).hexdigest() == V3_SHA256["indices"]
    coefficients = v3_coefficients(data).astype("<i4").tobytes()
    assert hashlib.sha256(coefficients).hexdigest() == V3_SHA256["coefficients"]
    if version >= 4:
        filt = restore.decode(bitstream.unpack(data).coded(bitstream.FILTER_ID).streams[0], 3)
        assert filt.weights == V4_FILTER
    pixels = np.asarray(vqcodec.decompress(data)).astype(int)
    expected = np.asarray(Image.open(golden.with_suffix(".png"))).astype(int)
    assert pixels.shape == expected.shape and np.abs(pixels - expected).max() <= 2


def write_golden_v4() -> None:
    """Write the format 4 golden file (once, when format 4 was introduced)."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    GOLDEN_V4.write_bytes(data)
    vqcodec.decompress(data).save(GOLDEN_V4.with_suffix(".png"))
    (stream,) = bitstream.unpack(data).coded(bitstream.FILTER_ID).streams
    print("filter", restore.decode(stream, 3).weights)


def test_golden_v5_holds_the_format_4_file_s_streams():
    assert (
        bitstream.unpack(GOLDEN_V5.read_bytes()).layers
        == bitstream.unpack(GOLDEN_V4.read_bytes()).layers
    )


def test_golden_v6_is_what_the_encoder_writes_today():
    """Format 6: the same crop with every layer the encoder runs (refinement, the newest
    restoration network, Wiener filter on the network's output) as generic layer records."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    newest = network_golden(NEWEST_NETWORK.name) if NEWEST_NETWORK.net_id > 1 else GOLDEN_V6
    assert data == newest.read_bytes()
    parsed = bitstream.unpack(data)
    assert [r.layer for r in parsed.header.layers] == [1, 2, 3]
    assert parsed.header.record(2).param == NEWEST_NETWORK.net_id
    v5 = bitstream.unpack(GOLDEN_V5.read_bytes())
    assert parsed.coded(bitstream.REFINEMENT_ID) == v5.coded(bitstream.REFINEMENT_ID)


def test_every_shipped_network_has_its_golden_file():
    ids = {bitstream.unpack(p.read_bytes()).header.record(2).param for p in GOLDEN_V6_FILES}
    assert ids == set(range(1, NEWEST_NETWORK.net_id + 1))


@pytest.mark.parametrize("golden", GOLDEN_V6_FILES, ids=lambda p: p.stem)
def test_golden_v6_decodes_to_its_pixels(golden):
    pixels = np.asarray(vqcodec.decompress(golden.read_bytes())).astype(int)
    expected = np.asarray(Image.open(golden.with_suffix(".png"))).astype(int)
    assert pixels.shape == expected.shape and np.abs(pixels - expected).max() <= 2


def write_golden_v6() -> None:
    """Write the format 6 golden file (once, when format 6 was introduced)."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    GOLDEN_V6.write_bytes(data)
    vqcodec.decompress(data).save(GOLDEN_V6.with_suffix(".png"))


def write_network_golden() -> None:
    """Write the golden file of the newest restoration network (once, when it is shipped)."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    golden = network_golden(NEWEST_NETWORK.name)
    golden.write_bytes(data)
    vqcodec.decompress(data).save(golden.with_suffix(".png"))


def write_golden_v5() -> None:
    """Write the format 5 golden file (once, when format 5 was introduced)."""
    data = vqcodec.compress_image(golden_crop(), model=V3_MODEL, tile=4, refine_step=V3_STEP).data
    GOLDEN_V5.write_bytes(data)
    vqcodec.decompress(data).save(GOLDEN_V5.with_suffix(".png"))


def write_goldens() -> None:
    """Write the format 2 golden files (run once, when format 2 was introduced)."""
    crop = golden_crop()
    for name in sorted(zoo.entries()):
        data = vqcodec.compress_image(crop, model=name, tile=4).data
        (DATA / f"golden_v2_{name}.vqz").write_bytes(data)
        vqcodec.decompress(data).save(DATA / f"golden_v2_{name}.png")
        _, _, maps = decode_indices(data)
        print(f'    "{name}": "{hashlib.sha256(index_bytes(maps)).hexdigest()}",')


def write_model_golden(name: str) -> None:
    """Write the golden file of a model added after format 2 (once, when it is added)."""
    data = vqcodec.compress_image(golden_crop(), model=name, tile=4).data
    golden = DATA / f"golden_v{data[3]}_{name}.vqz"
    golden.write_bytes(data)
    vqcodec.decompress(data).save(golden.with_suffix(".png"))
    _, _, maps = decode_indices(data)
    print(f'    "{name}": ({data[3]}, "{hashlib.sha256(index_bytes(maps)).hexdigest()}"),')


if __name__ == "__main__" and "--write-model" in sys.argv:
    write_model_golden(sys.argv[sys.argv.index("--write-model") + 1])
if __name__ == "__main__" and "--write-v5" in sys.argv:
    write_golden_v5()
if __name__ == "__main__" and "--write" in sys.argv:
    write_goldens()
if __name__ == "__main__" and "--write-v3" in sys.argv:
    write_golden_v3()
if __name__ == "__main__" and "--write-v4" in sys.argv:
    write_golden_v4()
if __name__ == "__main__" and "--write-v6" in sys.argv:
    write_golden_v6()
if __name__ == "__main__" and "--write-network" in sys.argv:
    write_network_golden()

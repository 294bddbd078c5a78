"""Model lookup: sha256 verification, unknown ids, fingerprint mismatches."""

import json
import shutil

import pytest

import vqcodec
from vqcodec import api, zoo
from vqcodec.errors import ModelError
from vqcodec.format import bitstream

from .conftest import photo


@pytest.fixture()
def model_copy(tmp_path, monkeypatch):
    """A writable copy of the installed zoo, selected through VQCODEC_MODEL_DIR."""
    src = zoo.models_dir()
    dst = tmp_path / "models"
    shutil.copytree(src, dst)
    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(dst))
    api._load.cache_clear()
    yield dst
    api._load.cache_clear()


def test_default_model_is_installed_and_verified():
    entry = zoo.get(None)
    assert zoo.verified_weights(entry).is_file()
    assert vqcodec.load_codec().entry == entry


def test_tampered_weights_are_refused(model_copy):
    entry = zoo.get(None)
    weights = model_copy / entry.name / zoo.WEIGHTS_FILE
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 1
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256"):
        vqcodec.load_codec()


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        vqcodec.compress(photo(8, 8), model="nope")


def _with_header(data: bytes, **changes) -> bytes:
    parsed = bitstream.unpack(data)
    fields = {**parsed.header.__dict__, **changes}
    header = bitstream.Header(**fields)
    return bitstream.pack(header, parsed.streams, parsed.crc, parsed.layer_streams)


def test_file_from_a_model_that_is_not_installed():
    data = _with_header(vqcodec.compress(photo(8, 8)), model_id=999)
    with pytest.raises(ModelError, match="model id 999"):
        vqcodec.decompress(data)
    assert "not installed" in str(vqcodec.info(data)["model"])


def test_fingerprint_mismatch():
    data = _with_header(vqcodec.compress(photo(8, 8)), fingerprint=0x12345678)
    with pytest.raises(ModelError, match="different weights"):
        vqcodec.decompress(data)


def test_registry_ids_are_unique(model_copy):
    registry = json.loads((model_copy / zoo.REGISTRY_FILE).read_text())
    ids = [m["id"] for m in registry["models"]]
    assert len(ids) == len(set(ids)) and registry["default"] in {
        m["name"] for m in registry["models"]
    }


def test_shipped_ladder_is_contiguous_and_ordered_by_measured_rate():
    """Quality 1..N, each an installed model, and the committed Kodak results rise in rate with
    quality (so `--quality` means what users expect, and the bench JSON covers every level)."""
    presets = zoo.presets()
    assert [p.quality for p in presets] == list(range(1, len(presets) + 1))
    assert all(p.model in zoo.entries() for p in presets)
    assert zoo.default_preset() in presets
    results = json.loads(
        (zoo.models_dir().parent / "benchmarks/results/kodak/vqcodec.json").read_text()
    )
    bpp = {m["setting"]: m["bpp"] for m in results["models"]}
    levels = [f"q{p.quality}" for p in presets]
    assert set(levels) <= set(bpp), "benchmark results are missing a quality level"
    rates = [bpp[level] for level in levels]
    assert rates == sorted(rates)


def test_presets_come_from_the_ladder_or_from_model_qualities(model_copy):
    registry = json.loads((model_copy / zoo.REGISTRY_FILE).read_text())
    names = [m["name"] for m in registry["models"]]
    registry["ladder"] = [
        {"quality": 2, "model": names[0], "refine_step": 40.0},
        {"quality": 1, "model": names[1], "rate_weights": [0, 2]},
    ]
    registry["default_quality"] = 2
    zoo.write_registry(model_copy, registry)
    assert zoo.presets() == [zoo.Preset(1, names[1], None, (0.0, 2.0)),
                             zoo.Preset(2, names[0], 40.0)]  # fmt: skip
    assert zoo.default_preset() == zoo.Preset(2, names[0], 40.0)
    assert zoo.default_name() == names[0] and zoo.ladder() == [names[1], names[0]]
    assert zoo.select(names[1]) == zoo.Preset(None, names[1])  # a named model: alone
    with pytest.raises(ModelError, match="no quality level 5"):
        zoo.by_quality(5)
    del registry["ladder"], registry["default_quality"]
    for i, m in enumerate(registry["models"]):
        m["quality"] = len(names) - i
    zoo.write_registry(model_copy, registry)
    assert [p.model for p in zoo.presets()] == names[::-1]
    assert zoo.default_preset() == zoo.Preset(None, registry["default"])


def test_a_file_of_a_retired_model_names_it(tmp_path, monkeypatch):
    data = _with_header(vqcodec.compress(photo(8, 8)), model_id=77)
    registry = json.loads((zoo.models_dir() / zoo.REGISTRY_FILE).read_text())
    registry["retired"] = [{"id": 77, "name": "s4-old"}]
    (tmp_path / zoo.REGISTRY_FILE).write_text(json.dumps(registry))
    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"written by model s4-old \(id 77\).*no longer ships"):
        vqcodec.decompress(data)
    assert zoo.next_id(registry) == 78  # a retired id is never given again

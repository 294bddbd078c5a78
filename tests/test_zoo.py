"""Model lookup: sha256 verification, unknown ids, fingerprint mismatches."""

import json
import shutil

import pytest

import vqcodec
from vqcodec import api, bitstream, zoo
from vqcodec.errors import ModelError

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
    return bitstream.pack(bitstream.Header(**fields), parsed.streams, parsed.crc)


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
    """Quality 1..N, one model each, and the committed Kodak results rise in rate with quality
    (so `--quality` means what users expect, and the bench JSON covers every shipped model)."""
    ladder = zoo.ladder()
    assert [zoo.get(name).quality for name in ladder] == list(range(1, len(ladder) + 1))
    results = json.loads(
        (zoo.models_dir().parent / "benchmarks/results/kodak/vqcodec.json").read_text()
    )
    bpp = {m["setting"]: m["bpp"] for m in results["models"]}
    assert set(ladder) <= set(bpp), "benchmark results are missing a shipped model"
    rates = [bpp[name] for name in ladder]
    assert rates == sorted(rates)


def test_a_file_of_a_retired_model_names_it(tmp_path, monkeypatch):
    data = _with_header(vqcodec.compress(photo(8, 8)), model_id=77)
    registry = json.loads((zoo.models_dir() / zoo.REGISTRY_FILE).read_text())
    registry["retired"] = [{"id": 77, "name": "s4-old"}]
    (tmp_path / zoo.REGISTRY_FILE).write_text(json.dumps(registry))
    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"written by model s4-old \(id 77\).*no longer ships"):
        vqcodec.decompress(data)
    assert zoo.next_id(registry) == 78  # a retired id is never given again

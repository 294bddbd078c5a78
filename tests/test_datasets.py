"""Dataset lookup and the Kodak download, for real, against a local HTTP server."""

import functools
import hashlib
import http.server
import shutil
import threading

import pytest
from PIL import Image

from vqcodec.bench import datasets
from vqcodec.bench.datasets import DatasetError

from .conftest import KODAK, photo


@pytest.fixture()
def kodak_like(tmp_path, monkeypatch):
    """The real Kodak folder when it is beside the repo; otherwise three small PNGs whose sha256
    replace the registry's, so the download machinery is tested on every machine."""
    if KODAK.is_dir():
        return KODAK
    folder = tmp_path / "fake_kodak"
    folder.mkdir()
    hashes = {}
    for i in range(1, 4):
        name = f"kodim{i:02d}.png"
        Image.fromarray(photo(16, 24, seed=i)).save(folder / name)
        hashes[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(datasets, "KODAK_SHA256", hashes)
    return folder


@pytest.fixture()
def serve(monkeypatch, tmp_path):
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1; the cache is a fresh tmp dir."""
    servers = []
    monkeypatch.setenv("VQCODEC_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VQCODEC_DATA", raising=False)

    def start(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_download_verifies_and_caches(serve, monkeypatch, tmp_path, kodak_like):
    monkeypatch.setenv("VQCODEC_KODAK_URL", serve(kodak_like))
    paths = datasets.resolve("kodak")
    assert [p.name for p in paths] == sorted(datasets.KODAK_SHA256)
    assert all(p.parent == tmp_path / "cache" / "kodak" for p in paths)
    assert paths[0].read_bytes() == (kodak_like / "kodim01.png").read_bytes()
    monkeypatch.setenv("VQCODEC_KODAK_URL", "http://127.0.0.1:9/")  # now offline: cache suffices
    assert datasets.resolve("kodak") == paths


def test_corrupt_download_is_refused(serve, monkeypatch, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "kodim01.png").write_bytes(b"not the kodak image")
    monkeypatch.setenv("VQCODEC_KODAK_URL", serve(bad))
    with pytest.raises(DatasetError, match="sha256"):
        datasets.resolve("kodak")


def test_offline_without_a_copy_says_how_to_point_at_one(serve, monkeypatch):
    monkeypatch.setenv("VQCODEC_KODAK_URL", "http://127.0.0.1:9/")  # discard port: refused
    with pytest.raises(DatasetError, match="--data-dir"):
        datasets.resolve("kodak")


def test_local_copies_are_found_in_order(serve, monkeypatch, tmp_path, kodak_like):
    assert datasets.find_kodak(kodak_like) == kodak_like  # --data-dir naming the folder itself
    parent = tmp_path / "data"
    shutil.copytree(kodak_like, parent / "kodak")
    assert datasets.find_kodak(parent) == parent / "kodak"  # ... or the folder holding kodak/
    monkeypatch.setenv("VQCODEC_DATA", str(kodak_like))
    assert datasets.find_kodak(None) == kodak_like
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(kodak_like / "kodim01.png", partial)
    assert datasets.find_kodak(partial) == kodak_like  # incomplete: $VQCODEC_DATA is used


def test_any_folder_is_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        datasets.resolve(str(tmp_path))
    with pytest.raises(DatasetError, match="unknown dataset"):
        datasets.resolve("imagenet")

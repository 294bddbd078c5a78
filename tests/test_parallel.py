"""Tile groups on worker processes: the same files and indices as in one process, and a
worker's error reaches the caller as itself."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from vqcodec.api import compress_image, decode_indices, load_codec
from vqcodec.coding import parallel
from vqcodec.errors import CorruptStreamError
from vqcodec.format.tiles import TileGrid
from vqcodec.model import codec as codec_module
from vqcodec.model.codec import map_sizes

from .conftest import photo


def test_worker_count(monkeypatch):
    monkeypatch.setenv("VQCODEC_WORKERS", "3")
    assert parallel.worker_count(10) == 3
    assert parallel.worker_count(2) == 2
    monkeypatch.setenv("VQCODEC_WORKERS", "1")
    assert parallel.worker_count(10) == 1
    monkeypatch.setenv("VQCODEC_WORKERS", "junk")
    assert parallel.worker_count(1) == 1


def _square(shared: int, x: int) -> int:
    if x < 0:
        raise CorruptStreamError(f"bad {x}")
    return shared + x * x


def test_run_in_order_and_errors_come_back(monkeypatch):
    monkeypatch.setenv("VQCODEC_WORKERS", "2")
    assert parallel.run(_square, [(x,) for x in range(7)], 100) == [100 + x * x for x in range(7)]
    with pytest.raises(CorruptStreamError, match="bad -1"):
        parallel.run(_square, [(1,), (-1,)], 0)


@pytest.mark.parametrize("weights", [None, (1.0, 0.5)])
def test_workers_write_and_read_the_same_files(monkeypatch, weights):
    monkeypatch.setattr(codec_module, "PARALLEL_POSITIONS", 0)  # fork even for a small image
    rgb = photo(96, 160, seed=11)
    codec = load_codec()
    files = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("VQCODEC_WORKERS", workers)
        assert len(codec._groups(_grid(codec, rgb), 1)) == int(workers)
        if weights is None:
            files[workers] = compress_image(rgb, tile=4).data
        else:
            files[workers] = codec.encode_image(rgb, 4, weights).streams
    assert files["1"] == files["2"]
    if weights is None:
        monkeypatch.setenv("VQCODEC_WORKERS", "2")
        _, _, two = decode_indices(files["2"])
        monkeypatch.setenv("VQCODEC_WORKERS", "1")
        _, _, one = decode_indices(files["2"])
        assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def _grid(codec, rgb) -> TileGrid:
    shapes = map_sizes(rgb.shape[1], rgb.shape[0], codec.cfg.vqvae.stride)
    return TileGrid(shapes[0], len(shapes), 4)


def test_a_damaged_tile_fails_in_a_worker_with_one_message(monkeypatch):
    monkeypatch.setattr(codec_module, "PARALLEL_POSITIONS", 0)
    monkeypatch.setenv("VQCODEC_WORKERS", "2")
    data = bytearray(compress_image(photo(96, 160, seed=12), tile=4).data)
    data[-40:] = bytes(40)  # the last tiles' streams
    with pytest.raises(CorruptStreamError):
        decode_indices(bytes(data))


SLEEPER = """
import os, sys, time
from vqcodec.coding import parallel

def nap(shared, seconds):
    time.sleep(seconds)
    return seconds

os.environ["VQCODEC_WORKERS"] = "2"
print("ready", flush=True)
try:
    parallel.run(nap, [(30,), (30,)], None)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def _start_sleeper():
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    assert proc.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 30
    while len(_group(proc.pid)) < 3 and time.monotonic() < deadline:  # the two workers
        time.sleep(0.1)
    return proc


def _group(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, prctl")
def test_ctrl_c_stops_the_workers_at_once_and_quietly():
    proc = _start_sleeper()
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 10 and out.endswith("interrupted\n") and err == ""
    time.sleep(0.5)
    assert _group(proc.pid) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, prctl")
def test_workers_die_with_a_killed_parent():
    proc = _start_sleeper()
    proc.kill()
    proc.communicate(timeout=20)
    deadline = time.monotonic() + 5
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == []

"""Both training stages under torchrun with 2 CPU processes (gloo): a few steps, then export."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from .conftest import photo

pytestmark = pytest.mark.slow


def torchrun(*args):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "vqcodec.cli",
        "train",
        *map(str, args),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_process_training(tmp_path):
    data = tmp_path / "train"
    data.mkdir()
    for i in range(6):
        Image.fromarray(photo(72, 96, seed=i)).save(data / f"img{i}.png")
    run = tmp_path / "run"
    torchrun(
        "vqvae",
        "--data",
        data,
        "--out",
        run,
        "--steps",
        4,
        "--batch",
        2,
        "--crop",
        32,
        "--channels",
        16,
        "--codes-top",
        16,
        "--codes-bottom",
        32,
    )
    torchrun(
        "prior",
        "--run-dir",  # torchrun's own --run-path would claim "--run"
        run,
        "--data",
        data,
        "--steps",
        3,
        "--batch",
        2,
        "--crop",
        8,
        "--channels",
        8,
        "--layers",
        1,
    )
    torchrun("decoder", "--run-dir", run, "--data", data, "--steps", 2, "--batch", 2, "--crop", 32)
    assert (run / "decoder.ckpt").exists()
    log = [json.loads(x) for x in (run / "vqvae_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [4]  # rank 0 alone logs
    assert (run / "prior.ckpt").exists() and (run / "codes.pt").exists()

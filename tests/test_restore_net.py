"""The restoration CNN: shapes, windows, determinism, the saved form, and a training smoke."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from vqcodec.layers import restore_net
from vqcodec.layers.restore_net import RestoreNet, RestoreNetConfig

from .conftest import photo


@pytest.fixture
def net() -> RestoreNet:
    """A small network whose output is not the identity (the trained tail starts at zero)."""
    torch.manual_seed(1)
    net = RestoreNet(RestoreNetConfig(channels=8, layers=4))
    with torch.no_grad():
        for p in [net.tail.weight, net.film[-1].weight]:
            p.normal_(0, 0.05)
    return net.eval()


def test_untrained_network_is_the_identity():
    rgb = photo(40, 56, seed=1)
    assert np.array_equal(RestoreNet(RestoreNetConfig()).apply(rgb, 32.0), rgb)


def test_shapes_including_odd_sizes(net):
    x = torch.rand(2, 3, 32, 48)
    assert net(x, torch.tensor([8.0, 0.0])).shape == x.shape
    rgb = photo(37, 53, seed=2)
    out = net.apply(rgb, 64.0)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not np.array_equal(out, rgb)


def test_windows_equal_a_whole_image_pass(net):
    rgb = photo(100, 141, seed=3)
    whole = restore_net.apply(rgb, 24.0, net, window=1024)
    tiled = restore_net.apply(rgb, 24.0, net, window=32)
    assert np.abs(whole.astype(int) - tiled).max() <= 1


def test_deterministic_and_conditioned_on_the_step(net):
    rgb = photo(64, 64, seed=4)
    assert np.array_equal(net.apply(rgb, 16.0), net.apply(rgb, 16.0))
    assert not np.array_equal(net.apply(rgb, 16.0), net.apply(rgb, None))


def test_save_and_load_round_trip(net, tmp_path):
    path = tmp_path / "net.safetensors"
    restore_net.save(net, path)
    loaded = restore_net.load(path)
    assert loaded.config == net.config
    rgb = photo(48, 40, seed=5)
    assert np.array_equal(loaded.apply(rgb, 48.0), net.apply(rgb, 48.0))
    assert not loaded.training
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[:20])
    with pytest.raises(Exception):  # noqa: B017 (safetensors' own error types vary)
        restore_net.load(tmp_path / "bad.safetensors")


def test_deepen_keeps_what_the_network_computes(net):
    """Appended hidden layers start as the identity, at every step (their FiLM rows are zero)."""
    from vqcodec.training.restore_net_stage import deepen

    with torch.no_grad():  # a network whose every layer acts, FiLM included
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    deep = deepen(net, net.config.layers + 2)
    assert deep.config.layers == net.config.layers + 2
    x = torch.rand(2, 3, 24, 40)
    steps = torch.tensor([24.0, 0.0])
    with torch.no_grad():
        assert torch.allclose(deep(x, steps), net(x, steps), atol=1e-6)
        assert not torch.allclose(net(x, steps), x, atol=1e-3)


def test_training_smoke(tmp_path):
    from vqcodec.training import restore_net_stage

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):  # the first is held out (split_holdout), two train
        Image.fromarray(photo(128, 160, seed=10 + i)).save(data / f"p{i}.png")
    run = tmp_path / "run"
    args = ["--data", str(data), "--run", str(run), "--no-val", "--full-every", "0"]
    args += ["--batch", "2", "--crop", "32", "--channels", "8"]
    restore_net_stage.main([*args, "--steps", "6"])
    assert len(list((run / "data" / "train").glob("*.npz"))) == 2
    config = json.loads((run / "config.json").read_text())
    assert config == asdict(RestoreNetConfig(channels=8, layers=RestoreNetConfig.layers))
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["step"] == 6
    assert restore_net.load(run / "export" / "latest.safetensors").config.channels == 8
    restore_net_stage.main([*args, "--steps", "8"])  # resumes
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 8
    deeper = tmp_path / "deeper"  # a new run from those weights, two layers deeper
    deeper.mkdir()
    (deeper / "data").symlink_to(run / "data")
    init = ["--init", str(run / "export" / "latest.safetensors"), "--layers", "6"]
    restore_net_stage.main([*args[:3], str(deeper), *args[4:], *init, "--steps", "0"])
    start = restore_net.load(deeper / "export" / "latest.safetensors")
    assert start.config.layers == 6
    rgb = photo(48, 64, seed=3)
    trained = restore_net.load(run / "export" / "latest.safetensors")
    assert np.abs(start.apply(rgb, 24.0).astype(int) - trained.apply(rgb, 24.0)).max() <= 1

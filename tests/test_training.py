"""Smoke run of the whole training pipeline with a tiny model: stage 1, stage 2, export, use."""

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file

import vqcodec
from vqcodec import api
from vqcodec.cli import main
from vqcodec.model.config import ModelConfig
from vqcodec.model.vqvae import HierarchicalVQVAE
from vqcodec.training.decoder_stage import refined_vqvae_state

from .conftest import coded_maps, photo


@pytest.fixture()
def tiny_data(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(photo(72, 96, seed=i)).save(folder / f"img{i}.png")
    Image.fromarray(photo(20, 20)).save(folder / "small.png")  # smaller than the crop: skipped
    return folder


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_train_export_and_code(tmp_path, tiny_data, monkeypatch):
    run = tmp_path / "run"
    invoke("train", "vqvae", "--data", tiny_data, "--out", run, "--steps", 3, "--batch", 2,
           "--crop", 32, "--channels", 16, "--codes-top", 16, "--codes-bottom", 32)  # fmt: skip
    invoke("train", "vqvae", "--data", tiny_data, "--out", run, "--steps", 4, "--batch", 2,
           "--crop", 32)  # resumes from step 3 with the run's own config  # fmt: skip
    log = [json.loads(line) for line in (run / "vqvae_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [3, 4] and "val_psnr" in log[-1]
    invoke("train", "prior", "--run", run, "--data", tiny_data, "--steps", 2, "--batch", 2,
           "--crop", 8, "--channels", 8, "--layers", 1)  # fmt: skip
    assert (run / "codes.pt").exists()
    invoke(
        "train",
        "prior",
        "--run",
        run,
        "--data",
        tiny_data,
        "--steps",
        3,
        "--batch",
        2,
        "--crop",
        8,
        "--channels",
        16,
    )  # resumes with the run's own prior shapes
    stage1 = torch.load(run / "vqvae.ckpt", weights_only=True)["model"]
    invoke("train", "decoder", "--run", run, "--data", tiny_data, "--steps", 2, "--batch", 2,
           "--crop", 32)  # fmt: skip
    refined = torch.load(run / "decoder.ckpt", weights_only=True)["synthesis"]
    assert refined and all(k.startswith(("dec.", "upsample_top.")) for k in refined)
    models = tmp_path / "models"
    out = invoke("export", run, "-o", models / "tiny", "--data", tiny_data, "--quality", 1).output
    assert "integer priors" in out and (models / "tiny" / "prior_int.safetensors").is_file()
    shipped = load_file(models / "tiny" / "weights.safetensors")
    for name, tensor in stage1.items():  # the analysis side (hence the codes) is stage 1's
        expected = refined.get(name, tensor)
        assert torch.equal(shipped[f"vqvae.{name}"], expected), name
    assert any(not torch.equal(refined[k], stage1[k]) for k in refined)
    registry = json.loads((models / "zoo.json").read_text())
    assert registry["default"] == "tiny" and registry["models"][0]["id"] == 1
    assert registry["models"][0]["quality"] == 1
    assert {"config_sha256", "int_prior_sha256"} <= set(registry["models"][0])
    again = ["export", str(run), "-o", str(models / "tiny"), "--data", str(tiny_data)]
    assert CliRunner().invoke(main, again).exit_code != 0
    taken = CliRunner().invoke(
        main, ["export", str(run), "-o", str(models / "t2"), "-q", "1", "--data", str(tiny_data)]
    )
    assert taken.exit_code != 0 and not (models / "t2").exists()

    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(models))
    api._load.cache_clear()
    try:
        rgb = photo(19, 27)
        data = vqcodec.compress(rgb, model="tiny")
        listing = CliRunner().invoke(main, ["models"]).output.splitlines()
        assert listing[0].split()[:2] == ["1", "tiny"] and listing[1].split()[:2] == ["q1", "tiny"]
        assert vqcodec.info(data)["model"] == "tiny"
        assert np.asarray(vqcodec.decompress(data)).shape == rgb.shape

        # an installed model back as a run folder: exported again, the same weights
        seeded = tmp_path / "seeded"
        invoke("train", "from-model", "tiny", "--out", seeded)
        for args in (["tiny", "--out", seeded], ["nope", "--out", tmp_path / "nope"]):
            failed = CliRunner().invoke(main, ["train", "from-model", *map(str, args)])
            assert failed.exit_code != 0 and len(failed.output.strip().splitlines()) == 1
        invoke("export", seeded, "-o", models / "again", "--data", tiny_data)
        again = load_file(models / "again" / "weights.safetensors")
        assert again.keys() == shipped.keys()
        assert all(torch.equal(again[k], shipped[k]) for k in shipped)
        invoke("train", "prior", "--run", seeded, "--data", tiny_data, "--steps", 1, "--batch", 2,
               "--crop", 8)  # starts at step 0 from the model's priors  # fmt: skip
        log = [json.loads(line) for line in (seeded / "prior_log.jsonl").read_text().splitlines()]
        assert [row["step"] for row in log] == [1]

        # a wider synthesis: decodes as before until stage 1b (here on downscaled copies too)
        wide = tmp_path / "wide"
        invoke("train", "widen", "--run", run, "--out", wide, "--blocks", 2, "--hidden", 8)
        assert CliRunner().invoke(main, ["train", "widen", "--run", run, "--out", wide]).exit_code
        before, after = (_vqvae(folder) for folder in (run, wide))
        assert after.cfg.synthesis_blocks == 2 and len(after.dec) == len(before.dec) + 2
        x = torch.rand(1, 3, 32, 32)
        assert torch.equal(before.encode(x)[1], after.encode(x)[1])
        torch.testing.assert_close(after.decode(after.encode(x)), before.decode(before.encode(x)))
        invoke("train", "decoder", "--run", wide, "--data", tiny_data, "--steps", 1, "--batch", 2,
               "--crop", 32, "--downscale", 2)  # fmt: skip
        invoke("export", wide, "-o", models / "wide", "--data", tiny_data)
        api._load.cache_clear()
        data = vqcodec.compress(rgb, model="wide")
        assert np.asarray(vqcodec.decompress(data)).shape == rgb.shape
    finally:
        api._load.cache_clear()


def _vqvae(run):
    """A run's VQ-VAE with its stage 1b synthesis, in eval mode."""
    model = HierarchicalVQVAE(ModelConfig.from_json((run / "config.json").read_text()).vqvae)
    model.load_state_dict(refined_vqvae_state(run))
    return model.eval()


@pytest.mark.parametrize("stride", [2, 8])
def test_other_strides_train_initialize_and_code(tmp_path, tiny_data, monkeypatch, stride):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ("--data", tiny_data, "--batch", 2, "--crop", 32, "--channels", 16,
              "--stride", stride)  # fmt: skip
    invoke("train", "vqvae", *common, "--out", first, "--steps", 2, "--codes-top", 16,
           "--codes-bottom", 16)  # fmt: skip
    out = invoke("train", "vqvae", *common, "--out", second, "--steps", 1, "--codes-top", 16,
                 "--codes-bottom", 8, "--init", first / "vqvae.ckpt").output  # fmt: skip
    copied, total = map(int, re.search(r"initialized (\d+) of (\d+) tensors", out).groups())
    assert copied == total - 4  # all but the resized bottom quantizer's state
    models = tmp_path / "models"
    for rank, run in enumerate([first, second], start=1):
        invoke("train", "prior", "--run", run, "--data", tiny_data, "--steps", 1, "--batch", 2,
               "--crop", 8, "--channels", 8, "--layers", 1)  # fmt: skip
        invoke("export", run, "-o", models / run.name, "--quality", rank, "--data", tiny_data)

    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(models))
    api._load.cache_clear()
    try:
        rgb = photo(19, 27)
        for quality in (1, 2):
            data = vqcodec.compress(rgb, quality=quality)
            _, codec, maps = api.decode_indices(data)
            assert codec.cfg.vqvae.stride == stride
            assert maps[0].shape == (-(-19 // (2 * stride)), -(-27 // (2 * stride)))
            assert all(torch.equal(a, b) for a, b in zip(maps, coded_maps(codec, rgb), strict=True))
            assert np.asarray(vqcodec.decompress(data)).shape == rgb.shape
    finally:
        api._load.cache_clear()


def test_three_levels_train_export_and_code(tmp_path, tiny_data, monkeypatch):
    run, models = tmp_path / "run", tmp_path / "models"
    common = ("--data", tiny_data, "--batch", 2, "--steps", 1)
    mixed = ["train", "vqvae", "--data", str(tiny_data), "--out", str(run), "--codes", "8,8",
             "--codes-top", "8"]  # fmt: skip
    assert "not both" in CliRunner().invoke(main, mixed).output
    invoke("train", "vqvae", *common, "--out", run, "--crop", 32, "--channels", 16,
           "--codes", "8,12,16")  # fmt: skip
    cfg = ModelConfig.from_json((run / "config.json").read_text())
    assert cfg.vqvae.codes == (8, 12, 16) and cfg.names == ("top", "mid1", "bottom")
    invoke("train", "prior", "--run", run, *common, "--crop", 8, "--channels", 8, "--layers", 1)
    log = json.loads((run / "prior_log.jsonl").read_text().splitlines()[-1])
    assert {"bits_top", "bits_mid1", "bits_bottom", "val_bits_mid1"} <= set(log)
    invoke("export", run, "-o", models / "three", "--data", tiny_data)
    assert json.loads((models / "zoo.json").read_text())["models"][0]["rate_weights"] == [0] * 3
    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(models))
    api._load.cache_clear()
    try:
        rgb = photo(19, 27)
        data = vqcodec.compress(rgb, model="three")
        _, codec, maps = api.decode_indices(data)
        assert [tuple(m.shape) for m in maps] == [(2, 2), (4, 4), (8, 8)]
        assert all(torch.equal(a, b) for a, b in zip(maps, coded_maps(codec, rgb), strict=True))
        assert np.asarray(vqcodec.decompress(data)).shape == rgb.shape
    finally:
        api._load.cache_clear()

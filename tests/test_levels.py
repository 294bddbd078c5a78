"""Code-map levels as a list: today's two-level configs and weights read as before, and a tiny
random three-level model (maps at 1/16, 1/8, 1/4) codes and decodes through the shipped path."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

import vqcodec
from vqcodec import api, zoo
from vqcodec.coding.intprior import save_priors
from vqcodec.format.tiles import map_sizes
from vqcodec.model.codec import Codec, CodecModel, save_model
from vqcodec.model.config import ModelConfig, PriorConfig, VQVAEConfig, default_priors
from vqcodec.model.quantize import calibrate, quantize_prior
from vqcodec.web_export import SYNTHESIS_PREFIXES

from .conftest import photo

SHIPPED = sorted(zoo.entries().values(), key=lambda e: e.model_id)


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_a_shipped_config_reads_as_two_levels(entry):
    old = json.loads((entry.folder / zoo.CONFIG_FILE).read_text())
    vq = dict(old["vqvae"])
    codes = (vq.pop("codes_top"), vq.pop("codes_bottom"))
    expected = ModelConfig(
        vqvae=VQVAEConfig(**vq, codes=codes),
        priors=(PriorConfig(**old["prior_top"]), PriorConfig(**old["prior_bottom"])),
    )
    cfg = ModelConfig.from_json(json.dumps(old))
    assert cfg == expected and cfg.names == ("top", "bottom")
    written = json.loads(cfg.to_json())  # still the documented form (docs/FORMAT.md, web/)
    assert set(written) == set(old)
    assert all(fields.items() <= written[part].items() for part, fields in old.items())
    assert ModelConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda e: e.name)
def test_shipped_weights_match_the_modules_by_name(entry):
    cfg = ModelConfig.from_json(zoo.verified_file(entry, zoo.CONFIG_FILE).read_text())
    with safe_open(zoo.verified_weights(entry), "pt") as f:
        shipped = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    built = {k: tuple(t.shape) for k, t in CodecModel(cfg).state_dict().items()}
    assert shipped == built
    assert all(any(k.startswith(p) for k in shipped) for p in SYNTHESIS_PREFIXES)


def test_config_levels_round_trip_under_level_names():
    cfg = ModelConfig(VQVAEConfig(codes=[8, 16, 32]), default_priors((8, 16, 32)))
    d = json.loads(cfg.to_json())
    assert set(d) == {"vqvae", "prior_top", "prior_mid1", "prior_bottom"}
    assert [d["vqvae"][f"codes_{n}"] for n in cfg.names] == [8, 16, 32]
    assert [d[f"prior_{n}"]["cond_codes"] for n in cfg.names] == [0, 8, 16]
    assert ModelConfig.from_json(cfg.to_json()) == cfg and cfg.vqvae.strides == [16, 8, 4]
    with pytest.raises(ValueError, match="priors over"):
        ModelConfig(VQVAEConfig(codes=(8, 16, 32)), default_priors((8, 16)))
    with pytest.raises(ValueError, match="at least 2 levels"):
        VQVAEConfig(codes=(8,))


CODES = (16, 24, 32)  # top (1/16), mid1 (1/8), bottom (1/4)


@pytest.fixture(scope="module")
def three_levels(tmp_path_factory):
    """A random-weight three-level model installed as the only model of a zoo folder, with
    integer priors calibrated on its own maps."""
    torch.manual_seed(0)
    vqvae = VQVAEConfig(channels=16, res_blocks=1, res_channels=8, embed_dim=8, codes=CODES)
    cfg = ModelConfig(vqvae, default_priors(CODES, embed_dim=8, channels=16, layers=1))
    model = CodecModel(cfg)
    images = [torch.from_numpy(photo(64, 64, seed=s)).permute(2, 0, 1)[None] / 255 for s in (1, 2)]
    with torch.no_grad():
        model.vqvae(torch.cat(images))  # training mode: codebooks seeded from the latents
    model.eval()
    models = tmp_path_factory.mktemp("models")
    folder = models / "three"
    sha = save_model(model, folder)
    maps = [[m[0] for m in model.vqvae.encode(x)] for x in images]
    priors = {}
    for level, (name, net) in enumerate(zip(cfg.names, model.priors(), strict=True)):
        pairs = [(m[level], m[level - 1] if level else None) for m in maps]
        priors[name] = quantize_prior(net, calibrate(net, pairs))
    save_priors(priors, folder / zoo.INT_PRIOR_FILE)
    entry = {"id": 1, "name": "three", "sha256": sha, "rate_weights": [0, 0, 0]}
    entry["config_sha256"] = zoo.sha256_file(folder / zoo.CONFIG_FILE)
    entry["int_prior_sha256"] = zoo.sha256_file(folder / zoo.INT_PRIOR_FILE)
    zoo.write_registry(models, {"models": [entry], "default": "three"})
    return models, Codec.load(zoo._registry(models).entries["three"])


@pytest.mark.parametrize(("tile", "weights"), [(0, ()), (2, ()), (1, (0, 0.5, 1))])
def test_three_levels_code_and_decode_the_same_indices(three_levels, tile, weights):
    _, codec = three_levels
    rgb = photo(37, 53, seed=3)
    encoded = codec.encode_image(rgb, tile, weights)
    assert (
        [tuple(m.shape) for m in encoded.maps]
        == map_sizes(53, 37, 4, 3)
        == [
            (3, 4),
            (6, 8),
            (12, 16),
        ]
    )
    assert all(len(set(m.unique().tolist())) > 1 for m in encoded.maps)  # not a constant map
    if not weights:
        assert all(torch.equal(a, b) for a, b in zip(encoded.maps, codec.analyse(rgb), strict=True))
    decoded = codec.decode_maps(encoded.streams, 53, 37, tile)
    assert all(torch.equal(a, b) for a, b in zip(decoded, encoded.maps, strict=True))
    assert codec.teacher_forced_bits(decoded, tile) == pytest.approx(encoded.ideal_bits)
    assert codec.synthesize(decoded, 53, 37).shape == (37, 53, 3)


def test_three_levels_latents_quantize_to_the_analysed_indices(three_levels):
    _, codec = three_levels
    rgb = photo(40, 48, seed=4)
    maps = codec.analyse(rgb)
    for level in range(3):
        assert torch.equal(codec.latents(rgb, maps[:level], nearest=True), maps[level])


def test_three_levels_through_the_file_format(three_levels, monkeypatch):
    models, codec = three_levels
    monkeypatch.setenv("VQCODEC_MODEL_DIR", str(models))
    api._load.cache_clear()
    try:
        rgb = photo(37, 53, seed=5)
        data = vqcodec.compress(rgb, model="three")
        header, _, maps = api.decode_indices(data)
        assert header.maps == 3 and [tuple(m.shape) for m in maps] == map_sizes(53, 37, 4, 3)
        expected = codec.encode_image(rgb).maps
        assert all(torch.equal(a, b) for a, b in zip(maps, expected, strict=True))
        assert np.asarray(vqcodec.decompress(data)).shape == rgb.shape
    finally:
        api._load.cache_clear()


def test_a_config_missing_a_codebook_size_takes_the_default_and_other_keys_are_not_levels():
    assert VQVAEConfig.from_dict({"codes_top": 64}).codes == (64, 512)
    d = json.loads(ModelConfig().to_json()) | {"prior_notes": {}}
    assert len(ModelConfig.from_dict(d).priors) == 2

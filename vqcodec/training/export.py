"""Turn a finished run into a shipped model: safetensors + config + a zoo entry (append-only)."""

from __future__ import annotations

import json
from pathlib import Path

from vqcodec import zoo
from vqcodec.errors import ModelError
from vqcodec.model.codec import Codec, CodecModel, save_model
from vqcodec.model.config import ModelConfig
from vqcodec.training.common import load_checkpoint, save_checkpoint
from vqcodec.training.decoder_stage import refined_vqvae_state


def export_run(
    run: Path, out: Path, make_default: bool = False, quality: int | None = None
) -> zoo.ZooEntry:
    """Write `out/` (named after the model) and append it to `out.parent/zoo.json`."""
    cfg = ModelConfig.from_json((run / "config.json").read_text())
    model = CodecModel(cfg)
    stage2 = load_checkpoint(run / "prior.ckpt")
    if not (run / "vqvae.ckpt").exists() or stage2 is None:
        raise FileNotFoundError(f"{run}: both training stages must be finished before export")
    model.vqvae.load_state_dict(refined_vqvae_state(run))
    for name, prior in zip(cfg.names, model.priors(), strict=True):
        prior.load_state_dict(stage2[f"prior_{name}"])
    registry_path = out.parent / zoo.REGISTRY_FILE
    registry = json.loads(registry_path.read_text()) if registry_path.exists() else {"models": []}
    name = out.name
    if any(m["name"] == name for m in registry["models"]):
        raise ModelError(f"model {name!r} is already in the zoo; ids and weights are append-only")
    levels = registry.get("ladder", registry["models"])  # the ladder's presets, or models
    holder = next(
        (m.get("model", m.get("name")) for m in levels if quality and m.get("quality") == quality),
        None,
    )
    if holder is not None:
        raise ModelError(
            f"quality {quality} belongs to model {holder!r}; re-rank the ladder in zoo.json first"
        )
    sha = save_model(model, out)
    model_id = zoo.next_id(registry)
    # no rate weights until measured (zoo.json's implicit default holds two maps' only)
    entry = {"id": model_id, "name": name, "sha256": sha, "rate_weights": [0.0] * cfg.vqvae.levels}
    if quality is not None and "ladder" in registry:
        registry["ladder"].append({"quality": quality, "model": name})
    elif quality is not None:
        entry["quality"] = quality
    registry["models"].append(entry)
    if make_default or "default" not in registry:
        registry["default"] = name
    zoo.write_registry(out.parent, registry)
    return zoo.ZooEntry(model_id, name, sha, out, quality)


def run_from_model(name: str, out: Path) -> ModelConfig:
    """The inverse of `export_run`: a new run folder `out` holding an installed model (its
    sha256 checked) as a finished stage 1 and stage 2, so its training can go on (`train
    decoder`, `widen`, `prior`) after the run folder it came from is gone. Its priors are a
    starting point, not a resumable state: `train prior` on `out` starts at step 0 from them."""
    model = Codec.load(zoo.get(name)).model
    out.mkdir(parents=True, exist_ok=False)
    (out / "config.json").write_text(model.cfg.to_json())
    save_checkpoint(out / "vqvae.ckpt", {"model": model.vqvae.state_dict(), "from_model": name})
    names = model.cfg.names
    priors = {f"prior_{n}": p.state_dict() for n, p in zip(names, model.priors(), strict=True)}
    save_checkpoint(out / "prior.ckpt", {**priors, "from_model": name})
    return model.cfg

"""Turn a finished run into a shipped model: safetensors + config + a zoo entry (append-only)."""

from __future__ import annotations

import json
from pathlib import Path

from vqcodec import zoo
from vqcodec.errors import ModelError
from vqcodec.model.codec import CodecModel, save_model
from vqcodec.model.config import ModelConfig
from vqcodec.training.common import load_checkpoint
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

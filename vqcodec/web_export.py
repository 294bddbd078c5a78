"""Export the browser decoder (`web/`) with the shipped models' assets, as a static site.

`export_web(out_dir)` writes the page (index.html, style.css, js/) and, per model of the zoo,
`models/<name>/config.json` and `prior_int.safetensors` (copies, verified against zoo.json) and
`synthesis.safetensors` (the float32 tensors the synthesis network reads, FORMAT.md 9.4, taken
from `weights.safetensors`); per network of the zoo's "networks" (the layers' networks, e.g.
the restoration network of FORMAT.md section 7) `models/networks/<name>/weights.safetensors`
(a verified copy; its config from the file's metadata goes into the index); plus
`models/index.json` listing ids, names, fingerprints, configs and the sha256 of every exported
file. The page fetches a model's or a network's files only when a file needs them, and nothing
from another origin: serve `out_dir` with any static file server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from vqcodec import zoo


def _web_source() -> Path:
    """The page's files: inside the installed package, else the checkout's `web/`."""
    here = Path(__file__).resolve().parent
    for folder in (here / "web", here.parent / "web"):
        if (folder / "index.html").is_file():
            return folder
    raise FileNotFoundError("the browser decoder's files (web/) are not installed")


WEB_SOURCE = _web_source()
PAGE_FILES = ["index.html", "style.css"]
SYNTHESIS_PREFIXES = (
    "vqvae.quant_top.codebook",
    "vqvae.quant_bottom.codebook",
    "vqvae.upsample_top.",
    "vqvae.dec.",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _export_model(entry: zoo.ZooEntry, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    config_src = zoo.verified_file(entry, zoo.CONFIG_FILE)
    prior_src = zoo.verified_file(entry, zoo.INT_PRIOR_FILE)
    weights = load_file(str(zoo.verified_weights(entry)))
    shutil.copyfile(config_src, folder / "config.json")
    shutil.copyfile(prior_src, folder / "prior_int.safetensors")
    synthesis = {k: v for k, v in weights.items() if k.startswith(SYNTHESIS_PREFIXES)}
    save_file(synthesis, str(folder / "synthesis.safetensors"), metadata={"source": entry.sha256})
    config = json.loads(config_src.read_text())
    files = {
        what: {"path": name, "sha256": _sha256(folder / name)}
        for what, name in (
            ("config", "config.json"),
            ("prior", "prior_int.safetensors"),
            ("synthesis", "synthesis.safetensors"),
        )
    }
    return {
        "id": entry.model_id,
        "name": entry.name,
        "stride": config["vqvae"].get("stride", 4),
        "fingerprint": entry.fingerprint,
        "files": files,
    }


def _export_network(entry: zoo.NetworkEntry, models_dir: Path) -> dict:
    """A layer's network: its weights (sha256 checked) and, for the index, its metadata."""
    source = zoo.verified_network(entry)
    with safe_open(str(source), "np") as f:
        meta = f.metadata() or {}
    folder = f"networks/{entry.name}"
    (models_dir / folder).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, models_dir / folder / "weights.safetensors")
    return {
        "id": entry.net_id,
        "name": entry.name,
        "kind": entry.kind,
        "format": meta.get("format"),
        "config": json.loads(meta.get("config", "{}")),
        "folder": folder,
        "files": {"weights": {"path": "weights.safetensors", "sha256": entry.sha256}},
    }


def export_web(out_dir: Path, models: list[str] | None = None) -> None:
    """Write the browser decoder, the assets of `models` (names; default: every shipped model)
    and every shipped network into `out_dir` (created; existing files of the same names are
    replaced)."""
    out_dir = Path(out_dir)
    entries = zoo.entries()
    names = list(entries) if models is None else list(models)
    unknown = [n for n in names if n not in entries]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; shipped: {sorted(entries)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(WEB_SOURCE / name, out_dir / name)
    (out_dir / "js").mkdir(exist_ok=True)
    for path in sorted((WEB_SOURCE / "js").glob("*.js")):
        shutil.copyfile(path, out_dir / "js" / path.name)
    registry = zoo._registry(zoo.models_dir())
    index = {
        "models": [_export_model(entries[n], out_dir / "models" / n) for n in names],
        "networks": [
            _export_network(registry.networks[i], out_dir / "models")
            for i in sorted(registry.networks)
        ],
        "retired": [{"id": i, "name": n} for i, n in sorted(registry.retired.items())],
    }
    (out_dir / "models" / "index.json").write_text(json.dumps(index, indent=1) + "\n")

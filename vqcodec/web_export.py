"""Export the browser decoder (`web/`) with the shipped models' assets, as a static site.

`export_web(out_dir)` writes the page (index.html, style.css, js/) and, per model of the zoo,
`models/<name>/config.json` and `prior_int.safetensors` (copies, verified against zoo.json) and
`synthesis.safetensors` (the float32 tensors the synthesis network reads, FORMAT.md 9.4, taken
from `weights.safetensors`), plus `models/index.json` listing ids, names, fingerprints and the
sha256 of every exported file. The page fetches a model's files only when a file needs that
model, and nothing from another origin: serve `out_dir` with any static file server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

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


def export_web(out_dir: Path, models: list[str] | None = None) -> None:
    """Write the browser decoder and the assets of `models` (names; default: every shipped
    model) into `out_dir` (created; existing files of the same names are replaced)."""
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
    index = {
        "models": [_export_model(entries[n], out_dir / "models" / n) for n in names],
        "retired": [
            {"id": i, "name": n} for i, n in sorted(zoo._registry(zoo.models_dir()).retired.items())
        ],
    }
    (out_dir / "models" / "index.json").write_text(json.dumps(index, indent=1) + "\n")

"""Registry of shipped models: a stable numeric id per model, its files and their sha256.

The registry is `zoo.json` in the models folder, append-only: ids are written into every .vqz
file, so an id is never reused and a model's weights are never replaced in place.
Models are looked up in $VQCODEC_MODEL_DIR, then inside the installed package, then in the
`models/` folder of a source checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vqcodec.errors import ModelError

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
REGISTRY_FILE = "zoo.json"


@dataclass(frozen=True)
class ZooEntry:
    model_id: int
    name: str
    sha256: str  # of the weights file
    folder: Path
    quality: int | None = None  # position on the rate ladder (1 = lowest rate)

    @property
    def fingerprint(self) -> int:
        """The 32-bit weights fingerprint stored in .vqz headers."""
        return int(self.sha256[:8], 16)


def models_dir() -> Path:
    """The first folder holding a zoo registry, in the documented search order."""
    here = Path(__file__).resolve().parent
    candidates = [here / "models", here.parent / "models"]
    if env := os.environ.get("VQCODEC_MODEL_DIR"):
        candidates.insert(0, Path(env))
    for folder in candidates:
        if (folder / REGISTRY_FILE).is_file():
            return folder
    raise ModelError("no vqcodec models are installed (zoo.json not found); reinstall vqcodec")


@cache
def _registry(folder: Path) -> tuple[dict[str, ZooEntry], str]:
    raw = json.loads((folder / REGISTRY_FILE).read_text())
    entries = {
        m["name"]: ZooEntry(
            int(m["id"]), m["name"], m["sha256"], folder / m["name"], m.get("quality")
        )
        for m in raw["models"]
    }
    return entries, raw["default"]


def entries() -> dict[str, ZooEntry]:
    return _registry(models_dir())[0]


def default_name() -> str:
    return _registry(models_dir())[1]


def get(name: str | None) -> ZooEntry:
    """Entry by name (None: the default model)."""
    known = entries()
    name = default_name() if name is None else name
    if name not in known:
        raise ModelError(f"unknown model {name!r}; installed: {', '.join(sorted(known))}")
    return known[name]


def ladder() -> list[str]:
    """Names of the models that have a quality level, lowest level first."""
    ranked = [e for e in entries().values() if e.quality is not None]
    return [e.name for e in sorted(ranked, key=lambda e: e.quality)] or [default_name()]


def by_quality(quality: int) -> ZooEntry:
    for entry in entries().values():
        if entry.quality == quality:
            return entry
    levels = sorted(e.quality for e in entries().values() if e.quality is not None)
    raise ModelError(f"no model has quality {quality}; available: {levels}")


def by_id(model_id: int) -> ZooEntry:
    for entry in entries().values():
        if entry.model_id == model_id:
            return entry
    installed = ", ".join(f"{e.name} (id {e.model_id})" for e in entries().values())
    raise ModelError(
        f"the file needs model id {model_id}, which is not installed; installed: {installed}"
    )


def select(name: str | None = None, quality: int | None = None) -> ZooEntry:
    """The model a user asked for by name or by quality level (neither: the default)."""
    if name is not None and quality is not None:
        raise ModelError("give a model name or a quality level, not both")
    return by_quality(quality) if quality is not None else get(name)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_weights(entry: ZooEntry) -> Path:
    """The weights file of `entry` after checking its sha256 against the registry."""
    path = entry.folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"model {entry.name}: weights file missing ({path})")
    if sha256_file(path) != entry.sha256:
        raise ModelError(f"model {entry.name}: weights file does not match its sha256 in the zoo")
    return path

"""Registry of shipped models: a stable numeric id per model, its files and their sha256.

The registry is `zoo.json` in the models folder, append-only: ids are written into every .vqz
file, so an id is never reused and a model's weights are never replaced in place. A model that
is no longer shipped moves to the registry's "retired" list (id and name), so its files fail
with a message naming it.
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

from vqcodec.errors import InputTypeError, ModelError

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
INT_PRIOR_FILE = "prior_int.safetensors"
REGISTRY_FILE = "zoo.json"


@dataclass(frozen=True)
class ZooEntry:
    model_id: int
    name: str
    sha256: str  # of the weights file
    folder: Path
    quality: int | None = None  # position on the rate ladder (1 = lowest rate)
    config_sha256: str | None = None
    int_prior_sha256: str | None = None  # the integer priors of format 2
    # the encoder's default rate weight per map, coarsest first (`vqcodec.coding.rate_aware`; chosen
    # on held-out training images, benchmarks/results/rate_weights.json); not in the
    # fingerprint: it changes which indices are chosen, not how a file decodes
    rate_weights: tuple[float, ...] = (0.0, 0.0)

    @property
    def fingerprint_v1(self) -> int:
        """The 32-bit fingerprint of format 1 headers: the weights' sha256."""
        return int(self.sha256[:8], 16)

    @property
    def fingerprint(self) -> int:
        """The 32-bit fingerprint of format 2 headers: everything that decides the decoded
        indices and pixels (weights, config, integer priors)."""
        joined = f"{self.sha256}:{self.config_sha256}:{self.int_prior_sha256}".encode()
        return int(hashlib.sha256(joined).hexdigest()[:8], 16)

    def hashes(self) -> dict[str, str | None]:
        """File name -> sha256 recorded in the zoo."""
        return {
            WEIGHTS_FILE: self.sha256,
            CONFIG_FILE: self.config_sha256,
            INT_PRIOR_FILE: self.int_prior_sha256,
        }


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


@dataclass(frozen=True)
class NetworkEntry:
    """A shipped network of a layer above the code maps (e.g. the restoration network): files
    name it by `net_id` in their layer records, so ids are append-only like the models'."""

    net_id: int
    name: str
    kind: str  # which layer runs it, e.g. "restore-net"
    sha256: str  # of its weights file
    folder: Path


@dataclass(frozen=True)
class Preset:
    """A level of the quality ladder: a model, its rate weights (`vqcodec.coding.rate_aware`),
    and the refinement layer's step on top of it (`vqcodec.layers.refine`; None: the model
    alone)."""

    quality: int | None  # None: a model asked for by name
    model: str
    refine_step: float | None = None
    rate_weights: tuple[float, ...] | None = None  # None: the model's defaults


@dataclass(frozen=True)
class _Registry:
    entries: dict[str, ZooEntry]
    default: str  # the default model's name
    retired: dict[int, str]  # retired models' names by id
    presets: tuple[Preset, ...]  # the quality ladder, lowest rate first
    default_quality: int | None
    networks: dict[int, NetworkEntry]  # the layers' networks by id


@cache
def _registry(folder: Path) -> _Registry:
    """The registry: its "ladder" list of presets if it has one, else a ladder of the models
    that have a "quality" (each alone)."""
    raw = json.loads((folder / REGISTRY_FILE).read_text())
    retired = {int(m["id"]): m["name"] for m in raw.get("retired", [])}
    entries = {
        m["name"]: ZooEntry(
            int(m["id"]),
            m["name"],
            m["sha256"],
            folder / m["name"],
            m.get("quality"),
            m.get("config_sha256"),
            m.get("int_prior_sha256"),
            tuple(float(w) for w in m.get("rate_weights", (0.0, 0.0))),
        )
        for m in raw["models"]
    }
    if "ladder" in raw:
        presets = [
            Preset(
                int(p["quality"]),
                p["model"],
                p.get("refine_step"),
                tuple(map(float, p["rate_weights"])) if "rate_weights" in p else None,
            )
            for p in raw["ladder"]
        ]
    else:
        presets = [Preset(e.quality, e.name) for e in entries.values() if e.quality is not None]
    presets.sort(key=lambda p: p.quality)
    networks = {
        n["id"]: NetworkEntry(n["id"], n["name"], n["kind"], n["sha256"], folder / n["name"])
        for n in raw.get("networks", [])
    }
    return _Registry(
        entries, raw["default"], retired, tuple(presets), raw.get("default_quality"), networks
    )


def entries() -> dict[str, ZooEntry]:
    return _registry(models_dir()).entries


def default_name() -> str:
    """The default model: the default quality level's, or the registry's "default"."""
    return default_preset().model


def presets() -> list[Preset]:
    """The quality ladder, lowest level first."""
    return list(_registry(models_dir()).presets)


def default_preset() -> Preset:
    """What an encode with neither model nor quality uses."""
    registry = _registry(models_dir())
    if registry.default_quality is not None:
        return by_quality(registry.default_quality)
    return Preset(None, registry.default)


def get(name: str | None) -> ZooEntry:
    """Entry by name (None: the default model)."""
    known = entries()
    name = default_name() if name is None else name
    if name not in known:
        raise ModelError(f"unknown model {name!r}; installed: {', '.join(sorted(known))}")
    return known[name]


def ladder() -> list[str]:
    """Names of the models on the quality ladder, in the order they first appear."""
    names = list(dict.fromkeys(p.model for p in presets()))
    return names or [default_name()]


def by_quality(quality: int) -> Preset:
    for preset in presets():
        if preset.quality == quality:
            return preset
    levels = [p.quality for p in presets()]
    raise ModelError(f"no quality level {quality}; available: {levels}")


def next_id(registry: dict) -> int:
    """The id for a model added to a raw registry: never one a shipped or retired model had."""
    used = [m["id"] for m in registry.get("models", []) + registry.get("retired", [])]
    return 1 + max(used, default=0)


def by_id(model_id: int) -> ZooEntry:
    for entry in entries().values():
        if entry.model_id == model_id:
            return entry
    retired = _registry(models_dir()).retired
    if model_id in retired:
        raise ModelError(
            f"the file was written by model {retired[model_id]} (id {model_id}), which this "
            "version of vqcodec no longer ships; decode it with the version that wrote it"
        )
    installed = ", ".join(f"{e.name} (id {e.model_id})" for e in entries().values())
    raise ModelError(
        f"the file needs model id {model_id}, which is not installed; installed: {installed}"
    )


def network(net_id: int, kind: str) -> NetworkEntry:
    """The shipped network of a layer record (ModelError if this release has none of that id
    and kind)."""
    found = _registry(models_dir()).networks.get(net_id)
    if found is None or found.kind != kind:
        raise ModelError(f"the file needs {kind} network {net_id}, which is not installed")
    return found


def latest_network(kind: str) -> NetworkEntry | None:
    """What an encoder uses for a layer's network: the newest shipped one of `kind`."""
    found = [n for n in _registry(models_dir()).networks.values() if n.kind == kind]
    return max(found, key=lambda n: n.net_id, default=None)


def verified_network(entry: NetworkEntry) -> Path:
    """A network's weights file after checking its sha256 against the registry."""
    path = entry.folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"network {entry.name}: {WEIGHTS_FILE} missing ({path})")
    if sha256_file(path) != entry.sha256:
        raise ModelError(f"network {entry.name}: {WEIGHTS_FILE} does not match the zoo's sha256")
    return path


def select(name: str | None = None, quality: int | None = None) -> Preset:
    """What a user asked for: a model by name (alone), a quality level, or neither (the
    default level)."""
    if name is not None and quality is not None:
        raise InputTypeError("give a model name or a quality level, not both")
    if quality is not None:
        return by_quality(quality)
    if name is not None:
        return Preset(None, get(name).name)
    return default_preset()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_file(entry: ZooEntry, name: str) -> Path:
    """A file of `entry` after checking its sha256 against the registry (every file a model
    has is recorded there: weights, config, integer priors)."""
    path = entry.folder / name
    expected = entry.hashes()[name]
    if expected is None:
        raise ModelError(f"model {entry.name}: the zoo records no {name}")
    if not path.is_file():
        raise ModelError(f"model {entry.name}: {name} missing ({path})")
    if sha256_file(path) != expected:
        raise ModelError(f"model {entry.name}: {name} does not match its sha256 in the zoo")
    return path


def verified_weights(entry: ZooEntry) -> Path:
    """The weights file of `entry` after checking its sha256 against the registry."""
    return verified_file(entry, WEIGHTS_FILE)


def write_registry(folder: Path, registry: dict) -> None:
    """Write zoo.json atomically (temp file + rename): a crash never leaves half a registry."""
    path = folder / REGISTRY_FILE
    tmp = path.with_name(f".{REGISTRY_FILE}.tmp")
    tmp.write_text(json.dumps(registry, indent=2) + "\n")
    os.replace(tmp, path)
    _registry.cache_clear()

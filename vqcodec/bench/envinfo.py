"""What a committed benchmark result must say about where it was measured."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib.metadata import version

import torch


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    # "-dirty" when the code that produces results differs from the commit (docs do not count)
    code = ["vqcodec", "benchmarks/*.py", "models", "pyproject.toml"]  # not earlier results
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", *code],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "constriction": version("constriction"),
        "vqcodec": version("vqcodec"),
        "commit": commit.stdout.strip() + ("-dirty" if dirty else ""),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }

"""The package's structure as numbers: lines per module, and the modules one decode passes through.

    python benchmarks/structure.py [--file F.vqz] [--out benchmarks/results/structure.json]

A decode of the golden format 4 file (default) runs under a profile hook that records every call
between two different vqcodec modules: which modules the decode visits, how many calls the entry
module makes into others, and how often control comes back into the codec module. Run it on two
checkouts to compare (the numbers are read from the code that runs, nothing else).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_lines(package: Path) -> dict[str, int]:
    """Lines of every module of the package, by dotted name."""
    return {
        ".".join(p.relative_to(package.parent).with_suffix("").parts): len(
            p.read_text().splitlines()
        )
        for p in sorted(package.rglob("*.py"))
    }


def decode_path(data: bytes) -> dict[str, object]:
    """Cross-module calls made while `vqcodec.decompress(data)` runs."""
    import vqcodec

    vqcodec.decompress(data)  # load the model and warm caches outside the trace
    calls: Counter[tuple[str, str]] = Counter()

    def hook(frame, event, arg):
        if event != "call" or frame.f_back is None:
            return
        callee = frame.f_globals.get("__name__", "")
        caller = frame.f_back.f_globals.get("__name__", "")
        if callee.startswith("vqcodec") and caller.startswith("vqcodec") and callee != caller:
            calls[(caller, callee)] += 1

    sys.setprofile(hook)
    try:
        vqcodec.decompress(data)
    finally:
        sys.setprofile(None)
    modules = sorted({m for pair in calls for m in pair})
    return {
        "modules_visited": modules,
        "module_count": len(modules),
        "calls_between_modules": sum(calls.values()),
        "distinct_module_pairs": len(calls),
        "calls_into_codec": sum(n for (a, b), n in calls.items() if b == "vqcodec.model.codec"),
        "calls_from_api": {b: n for (a, b), n in sorted(calls.items()) if a == "vqcodec.api"},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, default=ROOT / "tests/data/golden_v4_filtered.vqz")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import vqcodec

    package = Path(vqcodec.__file__).parent
    lines = module_lines(package)
    report = {
        "package": str(package.relative_to(package.parent.parent)),
        "modules": len(lines),
        "lines": sum(lines.values()),
        "largest": dict(sorted(lines.items(), key=lambda kv: -kv[1])[:8]),
        "decode": decode_path(args.file.read_bytes()),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

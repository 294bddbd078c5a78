"""Files travel: the same probabilities, files and indices under every machine setting we can
reach on one machine (docs/DESIGN.md section 2: a float prior fails exactly these).

Each setting runs `tests/portability_probe.py` in a fresh process with torch's CPU kernels
restricted (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA), with 1 or 2 torch
threads, or with the masked layers on the Triton kernel under the interpreter. Every frequency
row must equal the numpy conformance reference's, byte for byte; every golden file must decode
to its indices; every fresh file must decode here, under the default setting, to the indices
its writer chose.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest

from vqcodec import zoo
from vqcodec.api import decode_indices, load_codec
from vqcodec.coding import intprior_ref
from vqcodec.model.codec import index_bytes

from .portability_probe import rows_digest
from .test_golden import GOLDENS, V3_SHA256, golden_file

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten-avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "mkl-avx2+onednn-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "onednn-sse41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "threads-1": {"VQCODEC_TEST_THREADS": "1"},
    "threads-2": {"VQCODEC_TEST_THREADS": "2"},
    "onednn-fpmath-bf16": {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"},
    "triton-interpreter": {"TRITON_INTERPRET": "1", "VQCODEC_KERNELS": "triton"},
}
# the interpreter runs a kernel instance in about a millisecond: one model, a small fresh image
INTERPRETED = "s4-t64-b32"
# CPU flags (as /proc/cpuinfo names them) a setting needs: asking torch for an instruction set the
# CPU lacks kills the probe with SIGILL (an AMD EPYC with AVX2 only: return code -4)
REQUIRES = {
    "aten-avx512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
    "aten-avx2": {"avx2", "fma"},
    "mkl-sse4_2": {"sse4_2"},
    "mkl-avx2+onednn-avx2": {"avx2"},
    "onednn-sse41": {"sse4_1"},
}
# what torch's own probe says when /proc/cpuinfo cannot be read (not Linux)
_TORCH_CAPABILITY_FLAGS = {
    "DEFAULT": set(),
    "AVX2": {"sse4_1", "sse4_2", "avx2", "fma"},
    "AVX512": {"sse4_1", "sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"},
}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The instruction-set flags of this CPU: /proc/cpuinfo's, else torch's capability probe."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import torch

    return _TORCH_CAPABILITY_FLAGS.get(torch.backends.cpu.get_cpu_capability(), set())


def runnable(flags: set[str]) -> tuple[list[str], dict[str, str]]:
    """(settings this CPU can run, {setting: why it is skipped}) for the given CPU flags."""
    skipped = {
        name: "this CPU lacks " + ", ".join(sorted(REQUIRES[name] - flags))
        for name in SETTINGS
        if not REQUIRES.get(name, set()) <= flags
    }
    return [name for name in SETTINGS if name not in skipped], skipped


RUNNABLE, SKIPPED = runnable(cpu_flags())


def _probe(name: str, env: dict[str, str], out: Path) -> dict:
    out.mkdir()
    threads = env.get("VQCODEC_TEST_THREADS", "1")
    full = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, **env}
    if "triton" not in name:
        full["VQCODEC_KERNELS"] = "torch"
    args = [str(out)] + ([INTERPRETED, "small"] if "triton" in name else [])
    proc = subprocess.run([sys.executable, "-m", "tests.portability_probe", *args], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("portability")
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = {n: pool.submit(_probe, n, SETTINGS[n], base / n) for n in RUNNABLE}
        return {n: job.result() for n, job in jobs.items()} | {"_dir": {"path": str(base)}}


@cache
def reference_rows(name: str) -> str:
    """The numpy reference's digest of every row of the golden file's maps."""
    header, codec, maps = decode_indices(golden_file(name).read_bytes())

    def rows_of(level, tiles, conds):
        prior = codec.int_priors[level].prior
        return [
            intprior_ref.frequency_rows(prior, t.numpy(), None if c is None else c.numpy())
            for t, c in zip(tiles, conds or [None] * len(tiles), strict=True)
        ]

    return rows_digest(codec, maps, header.tile, rows_of)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_every_row_equals_the_reference_and_every_golden_decodes(reports, setting):
    if setting in SKIPPED:
        pytest.skip(f"{setting}: {SKIPPED[setting]}")
    report = reports[setting]
    if setting.startswith("threads"):
        assert report["threads"] == int(setting[-1])
    assert set(report["models"]) == ({INTERPRETED} if "triton" in setting else set(zoo.entries()))
    assert report["golden_v3_coefficients"] == V3_SHA256["coefficients"], setting
    for name, got in report["models"].items():
        assert got["golden_indices"] == GOLDENS[name][1], (setting, name)
        assert got["rows"] == reference_rows(name), (setting, name)
        assert got["fresh_indices"] == got["fresh_coded"], (setting, name)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_files_written_under_every_setting_decode_here(reports, setting):
    if setting in SKIPPED:
        pytest.skip(f"{setting}: {SKIPPED[setting]}")
    folder = Path(reports["_dir"]["path"]) / setting
    for name in reports[setting]["models"]:
        _, codec, maps = decode_indices((folder / f"fresh_{name}.vqz").read_bytes())
        expected = reports[setting]["models"][name]["fresh_coded"]
        assert hashlib.sha256(index_bytes(maps)).hexdigest() == expected, (setting, name)
        assert codec is load_codec(name)


def test_settings_the_cpu_lacks_are_skipped_and_named(tmp_path):
    avx2_only = tmp_path / "cpuinfo"
    avx2_only.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 sse4_1 sse4_2 avx avx2 fma\n")
    run, skipped = runnable(cpu_flags(avx2_only))
    assert skipped == {"aten-avx512": "this CPU lacks avx512bw, avx512dq, avx512f, avx512vl"}
    assert "aten-avx2" in run and "triton-interpreter" in run and len(run) == len(SETTINGS) - 1
    run, skipped = runnable(set())  # a baseline x86-64 (SSE2 only)
    assert set(skipped) == set(REQUIRES) and set(run) == set(SETTINGS) - set(REQUIRES)
    assert skipped["onednn-sse41"] == "this CPU lacks sse4_1"
    assert runnable(set().union(*REQUIRES.values()))[1] == {}

"""The result tables of the README and the model card are exactly what the committed benchmark
JSON renders to; the README's pipe and Pillow plugin examples run as written."""

import importlib.util
import os
import subprocess
import sys

import pytest
from PIL import Image

from .conftest import ROOT, photo

SCRIPT = ROOT / "benchmarks" / "readme_tables.py"


def test_readme_tables_match_committed_json():
    spec = importlib.util.spec_from_file_location("readme_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not (module.KODAK / "vqcodec.json").exists():
        pytest.skip("no committed benchmark results")
    readme, card = module.README.read_text(), module.CARD.read_text()
    assert "<!-- bench-table:start -->" in readme and "<!-- speed-table:start -->" in readme
    assert "<!-- card-table:start -->" in card
    for make, doc in [("bench", readme), ("speed", readme), ("card", card)]:
        assert module.TABLES[make]() in doc, "run: python benchmarks/readme_tables.py --write"
    assert module.render(readme) == readme and module.render(card) == card


def _example(name: str) -> str:
    """The code of the fenced block between <!-- name:start --> and <!-- name:end -->."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(f"<!-- {name}:start -->") : readme.index(f"<!-- {name}:end -->")]
    return block.split("```")[1].split("\n", 1)[1]


@pytest.fixture()
def photo_dir(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    Image.fromarray(photo(24, 32)).save(work / "photo.png")
    return work


def test_readme_pipe_example_runs(photo_dir, tmp_path):
    shim = tmp_path / "bin" / "vqcodec"  # `vqcodec` on PATH runs this checkout
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vqcodec.cli "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(ROOT)
    script = ["bash", "-e", "-o", "pipefail", "-c", _example("pipe-example")]
    proc = subprocess.run(script, cwd=photo_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(photo_dir / "photo_decoded.png").size == (32, 24)


def test_readme_plugin_example_runs(photo_dir, monkeypatch, capsys):
    monkeypatch.chdir(photo_dir)
    exec(compile(_example("plugin-example"), "README.md", "exec"), {})
    assert "(32, 24) RGB" in capsys.readouterr().out
    assert Image.open("photo_decoded.png").size == (32, 24)


def test_readme_states_the_header_bound():
    from vqcodec.format.bitstream import MAX_HEADER_BYTES

    assert f"at most {MAX_HEADER_BYTES} bytes" in (ROOT / "README.md").read_text()


def test_design_notes_cited_by_the_code_are_in_the_repo():
    cited = [
        p
        for p in [*(ROOT / "vqcodec").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
        if "DESIGN.md" in p.read_text()
    ]
    assert cited and (ROOT / "docs" / "DESIGN.md").is_file()
    for path in cited:
        for line in path.read_text().splitlines():
            if "DESIGN.md" in line and '"' not in line:  # a citation, not this test's strings
                assert "docs/DESIGN.md" in line, f"{path.name}: {line.strip()}"

"""The result tables of the README and the model card are exactly what the committed benchmark
JSON renders to."""

import importlib.util

import pytest

from .conftest import ROOT

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

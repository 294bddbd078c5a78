"""`vqcodec bench` on a small folder: schema, reproducibility, independence from --jobs."""

import json
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from vqcodec.bench import baselines, bench
from vqcodec.cli import main

from .conftest import ROOT, photo

ANCHORS = ROOT.parent / "shared" / "anchors" / "compressai-kodak"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("images")
    for i in range(2):
        Image.fromarray(photo(168, 176, seed=i)).save(path / f"im{i}.png")
    return path


def _bench(folder, out, *extra):
    args = [
        "bench",
        "--dataset",
        str(folder),
        "--baselines",
        "jpeg,webp",
        "--json",
        str(out / "vqcodec.json"),
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "vqcodec.json").read_text())


def test_bench_json_table_plot_and_jobs_independence(folder, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plot = tmp_path / "rd.png"
    extra = ["--plot", str(plot)]
    if ANCHORS.is_dir():
        extra += ["--anchors", str(ANCHORS)]
    out, serial = _bench(folder, tmp_path / "a", *extra)
    assert "rate change of vqcodec vs" in out and plot.stat().st_size > 10_000
    _, parallel = _bench(folder, tmp_path / "b", "--jobs", "2")
    for key in ("bpp", "psnr-rgb", "ms-ssim"):
        assert serial["results"][key] == parallel["results"][key]
    jpeg = json.loads((tmp_path / "a" / "jpeg.json").read_text())
    assert set(jpeg["results"]) == set(bench.METRICS) and len(jpeg["results"]["bpp"]) == 11
    assert jpeg["results"]["bpp"] == sorted(jpeg["results"]["bpp"])
    assert serial["env"]["cpu"] and serial["images_count"] == 2
    model = serial["models"][0]
    assert model["overhead_pct"] < 0.1 + 100 * 64 / (
        168 * 176 * model["bpp"]
    )  # the 1.001 + 64 bound
    assert "jpeg" in serial["rate_difference_percent"]
    # refuses to overwrite without --force
    again = CliRunner().invoke(
        main,
        [
            "bench",
            "--dataset",
            str(folder),
            "--baselines",
            "jpeg",
            "--json",
            str(tmp_path / "a" / "vqcodec.json"),
        ],
    )
    assert again.exit_code == 1 and "--force" in again.output


def test_rate_difference_single_point_and_bd_rate():
    anchor_bpp, anchor_q = [0.25, 0.5, 1.0, 2.0], [25.0, 28.0, 31.0, 34.0]
    value, method = bench.rate_difference(anchor_bpp, anchor_q, [0.25], [28.0])
    assert method.startswith("equal-quality") and value == pytest.approx(-50.0)
    value, method = bench.rate_difference(
        anchor_bpp, anchor_q, [b / 2 for b in anchor_bpp], anchor_q
    )
    assert method.startswith("bd-rate") and value == pytest.approx(-50.0, abs=0.5)
    assert bench.rate_difference(anchor_bpp, anchor_q, [1.0], [40.0])[0] is None


def test_anchor_loading_accepts_both_ms_ssim_spellings(tmp_path):
    path = tmp_path / "kodak__x.json"
    path.write_text(json.dumps({"name": "X", "results": {"bpp": [1.0], "ms-ssim-rgb": [0.9]}}))
    name, results = bench.load_anchor(path)
    assert name == "X [kodak__x]" and results["ms-ssim"] == [0.9]


@pytest.fixture()
def without_optional_packages(monkeypatch):
    """As after the README's plain `pip install .`: no bjontegaard, imagecodecs, matplotlib."""
    for name in ("bjontegaard", "imagecodecs", "matplotlib"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail


def test_bench_runs_after_the_plain_install(folder, tmp_path, without_optional_packages):
    args = ["bench", "--dataset", str(folder), "--quality", "1", "--limit", "1"]
    result = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "vqcodec.json")])
    assert result.exit_code == 0, result.output
    assert "skipping baseline jxl" in result.stderr and "imagecodecs" in result.stderr
    assert "BD-rate" in result.stderr  # says that rate differences are not BD-rates
    assert {p.name for p in tmp_path.iterdir()} == {"vqcodec.json", "jpeg.json", "webp.json"} | (
        {"avif.json", "avif444.json"} if baselines.missing("avif") is None else set()
    )


def test_what_the_plain_install_cannot_do_is_refused_before_the_run(
    folder, tmp_path, without_optional_packages
):
    for extra, needs in ((["--plot", str(tmp_path / "rd.png")], "matplotlib"),
                         (["--baselines", "jpeg,jxl"], "imagecodecs")):  # fmt: skip
        result = CliRunner().invoke(main, ["bench", "--dataset", str(folder), *extra])
        assert result.exit_code == 1 and needs in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_rate_difference_without_bjontegaard(without_optional_packages):
    anchor_bpp, anchor_q = [0.25, 0.5, 1.0, 2.0], [25.0, 28.0, 31.0, 34.0]
    value, method = bench.rate_difference(anchor_bpp, anchor_q, [b / 2 for b in anchor_bpp],
                                          anchor_q)  # fmt: skip
    assert method.startswith("equal-quality") and value == pytest.approx(-50.0)


def test_base_dependencies_hold_what_every_bench_run_imports():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {dep.split(">")[0].split("=")[0].split("<")[0] for dep in project["dependencies"]}
    assert {"pytorch-msssim", "pooch"} <= base  # MS-SSIM of every row; the Kodak download

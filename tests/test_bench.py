"""`vqcodec bench` on a small folder: schema, reproducibility, independence from --jobs."""

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from vqcodec import bench
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

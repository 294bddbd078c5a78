"""Rate control: the search over the bottom rate weight, the walk over the ladder, and the
`bpp` / `max_bytes` / `--bpp` / `--size` options around them."""

import pytest
from click.testing import CliRunner
from PIL import Image

import vqcodec
from vqcodec.cli import main
from vqcodec.cli.common import ByteSize
from vqcodec.coding.rate_control import (
    MAX_STEP,
    MAX_TRIALS,
    MIN_STEP,
    TOLERANCE,
    Trial,
    fill_up,
    fit_budget,
    push_under,
)
from vqcodec.errors import InputTypeError, RateError

from .conftest import photo


def falling(scale: float, floor: float = 0.0):
    """A size that falls smoothly as the weight grows, down to `floor`, counting its calls."""
    calls = []

    def encode(w: float) -> Trial[float]:
        calls.append(w)
        size = int(floor + scale / (1 + w))
        return Trial(w, size, w)

    return encode, calls


@pytest.mark.parametrize("budget", [9_000, 5_000, 1_500, 700])
def test_push_under_lands_just_under_the_budget(budget):
    encode, calls = falling(10_000)
    found = push_under(encode, budget, Trial(0.0, 10_000, 0.0))
    assert found is not None
    assert budget * (1 - TOLERANCE) <= found.size <= budget
    assert len(calls) <= MAX_TRIALS


def test_push_under_gives_up_when_no_weight_fits():
    encode, _ = falling(10_000, floor=5_000)
    assert push_under(encode, 4_000, Trial(0.0, 15_000, 0.0)) is None


def test_push_under_keeps_the_largest_fit_of_a_step_function():
    def steps(w: float) -> Trial[float]:  # sizes jump: nothing lands within the tolerance
        return Trial(w, 1000 if w < 3 else 600, w)

    found = push_under(steps, 900, Trial(0.0, 1000, 0.0))
    assert found is not None and found.size == 600


def test_fit_budget_walks_the_ladder_and_keeps_the_better_quality():
    # rung r: default size 1000 * 2^r; squeezing costs quality 10 per halving of size
    def encode(rung: int, w: float | None) -> Trial[tuple[int, int]]:
        size = int(1000 * 2**rung / (1 + (w or 0)))
        return Trial(w or 0.0, size, (rung, size))

    def quality(result: tuple[int, int]) -> float:
        rung, size = result
        return 20 * rung - 200 * ((1000 * 2**rung) / size - 1)  # steep: stepping down wins

    assert fit_budget([0, 1, 2], encode, quality, 10_000) == (2, 4000)  # all fit: the top
    assert fit_budget([0, 1, 2], encode, quality, 3000) == (1, 2000)  # rung 1 beats squeezed 2
    assert fit_budget([0, 1, 2], encode, lambda r: 0.0, 3000)[0] == 2  # ties: the closer file
    squeezed = fit_budget([0, 1, 2], encode, quality, 800)  # below rung 0: squeeze it
    assert squeezed[0] == 0 and 800 * (1 - TOLERANCE) <= squeezed[1] <= 800
    with pytest.raises(RateError, match="cannot compress into 5 bytes"):
        fit_budget([0, 1, 2], encode, quality, 5)


def refining(base: int, scale: float):
    """A refinement whose size falls as its step grows (base + scale / step), counting calls."""
    calls = []

    def encode(step: float) -> Trial[float]:
        calls.append(step)
        return Trial(step, int(base + scale / step), step)

    return encode, calls


@pytest.mark.parametrize("budget", [1_300, 1_500, 5_000, 40_000, 200_000])
def test_fill_up_lands_just_under_the_budget(budget):
    encode, calls = refining(1_000, 200_000)
    found = fill_up(encode, budget)
    assert found is not None and len(calls) <= MAX_TRIALS
    assert budget * (1 - TOLERANCE) <= found.size <= budget
    assert MIN_STEP <= found.weight <= MAX_STEP


def test_fill_up_gives_up_when_even_the_coarsest_step_is_over():
    encode, _ = refining(1_000, 200_000)
    assert fill_up(encode, 1_000) is None


def test_fill_up_stops_at_the_finest_step():
    encode, calls = refining(1_000, 200_000)
    found = fill_up(encode, 10**9)
    assert found is not None and found.weight == MIN_STEP and len(calls) <= 4


def test_fit_budget_fills_fitting_rungs_and_keeps_the_best():
    def encode(rung: int, w: float | None) -> Trial[str]:
        return Trial(w or 0.0, 1000 * (rung + 1), f"rung {rung}")

    filled = []

    def fill(rung: int, base: Trial[str]) -> str:
        filled.append(rung)
        return f"rung {rung} filled"

    quality = {"rung 0 filled": 3.0, "rung 1 filled": 2.0, "rung 2": 1.0}.get
    assert fit_budget([0, 1, 2], encode, quality, 2500, fill) == "rung 0 filled"
    assert filled == [0, 1]  # rung 2 is over the budget: pushed, not filled


@pytest.mark.parametrize("bpp", [0.15, 0.4])
def test_compress_stays_within_a_bpp_target(bpp):
    rgb = photo(64, 96, seed=7)
    found = vqcodec.api.compress_image(rgb, bpp=bpp)
    assert len(found.data) <= bpp * 64 * 96 / 8
    assert vqcodec.decompress(found.data).size == (96, 64)


def test_max_bytes_with_one_model():
    rgb = photo(64, 96, seed=8)
    natural = vqcodec.api.compress_image(rgb, model="s4-t512-b512")
    budget = int(len(natural.data) * 0.8)
    found = vqcodec.api.compress_image(rgb, model="s4-t512-b512", max_bytes=budget)
    assert found.model == "s4-t512-b512" and found.rate_weights[-1] > 0
    assert budget * 0.9 <= len(found.data) <= budget


@pytest.mark.parametrize(
    "options",
    [{"bpp": 0.1, "max_bytes": 100}, {"bpp": 0.1, "quality": 2}, {"bpp": -1}, {"max_bytes": 0}],
)
def test_conflicting_or_bad_targets_are_refused(options):
    with pytest.raises(InputTypeError):
        vqcodec.compress(photo(8, 8), **options)


@pytest.mark.parametrize(
    "text, count",
    [("40000", 40000), ("40KB", 40000), ("40 kb", 40000), ("1.5MiB", 1572864), ("2KiB", 2048)],
)
def test_byte_sizes(text, count):
    assert ByteSize().convert(text, None, None) == count


def test_cli_size_and_bpp(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo(64, 96, seed=9)).save(path)
    out = tmp_path / "a.vqz"
    result = CliRunner().invoke(main, ["encode", str(path), "-o", str(out), "--size", "300B"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size <= 300
    result = CliRunner().invoke(main, ["encode", str(path), "-o", str(out), "-f", "--size", "9B"])
    assert result.exit_code == 1 and result.output.startswith("error: cannot compress into 9")
    for bad in (["--size", "4x"], ["--bpp", "0"], ["--bpp", "0.1", "--size", "1KB"]):
        result = CliRunner().invoke(main, ["encode", str(path), "-o", str(out), "-f", *bad])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1

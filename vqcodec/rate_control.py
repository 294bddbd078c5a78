"""Continuous rate control: the best file within a size budget, by search over the models and
the bottom map's rate weight (`vqcodec.rate_aware`).

Each model has one natural size per image (its default rate weights); raising the bottom rate
weight lowers it continuously, at a price in quality. For a budget, the ladder is walked from
the fewest bits up: the first model whose default file is too large is pushed under the budget
by a search over that weight (the file closest under the budget). The result is that file, or
the model below at its default if that decodes with the higher PSNR (pushing a model far below
its natural rate costs more quality than the step down the ladder). A budget above the top
model's default file gets that file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from vqcodec.errors import RateError

T = TypeVar("T")
R = TypeVar("R")

TOLERANCE = 0.01  # stop once a file is within 1 % under the budget
MAX_TRIALS = 10  # encodes per model in the weight search (each is a full encode)
FIRST_WEIGHT = 0.25  # the first bottom rate weight tried above the default
MAX_WEIGHT = 64.0  # beyond this every index is the prior's favourite: no lower rate exists
WEIGHT_FLOOR = 0.01  # stands for a weight of 0 in log-weight interpolation


@dataclass(frozen=True)
class Trial(Generic[T]):
    weight: float
    size: int
    result: T


def push_under(encode: Callable[[float], Trial[T]], budget: int, base: Trial[T]) -> Trial[T] | None:
    """The largest result of size <= budget found by searching the weight w > base.weight of a
    size(w) that falls as w grows (not necessarily strictly); `base` is over the budget. None if
    even MAX_WEIGHT is over. Brackets by quadrupling the weight, then interpolates log size
    against log weight (bisecting where that leaves the bracket), in at most MAX_TRIALS encodes."""
    over, under, best = base, None, None  # under: the fitting trial of smallest weight
    w = 0.0
    for _ in range(MAX_TRIALS):
        if under is None:  # bracketing
            if w >= MAX_WEIGHT:
                return None
            w = min(max(FIRST_WEIGHT, 2 * base.weight) if w == 0 else 4 * w, MAX_WEIGHT)
        else:
            if best.size >= budget * (1 - TOLERANCE):
                break
            lo, hi = max(over.weight, WEIGHT_FLOOR), under.weight
            if hi / lo < 1.02:
                break
            w = _interpolate(over, under, budget)
            if not lo < w < hi:
                w = math.sqrt(lo * hi)
        trial = encode(w)
        if trial.size > budget:
            if w > over.weight:
                over = trial
        else:
            if under is None or w < under.weight:
                under = trial
            if best is None or trial.size > best.size:
                best = trial
    return best


def _interpolate(over: Trial, under: Trial, budget: int) -> float:
    """The weight at which the line through the two trials (log size against log weight)
    reaches just under the budget."""
    x0, x1 = math.log(max(over.weight, WEIGHT_FLOOR)), math.log(under.weight)
    y0, y1 = math.log(over.size), math.log(max(under.size, 1))
    if y0 == y1:
        return math.exp((x0 + x1) / 2)
    target = math.log(budget * (1 - TOLERANCE / 2))
    return math.exp(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def fit_budget(
    rungs: Sequence[R],
    encode: Callable[[R, float | None], Trial[T]],
    quality: Callable[[T], float],
    budget: int,
) -> T:
    """The best result within `budget` (see the module docstring). `rungs`: the models, fewest
    bits first; `encode(rung, w)`: a file with bottom rate weight w (None: the rung's default);
    `quality(result)`: higher is better (PSNR)."""
    fits: Trial[T] | None = None  # the last rung whose default file fits
    for rung in rungs:
        base = encode(rung, None)
        if base.size <= budget:
            fits = base
            continue
        pushed = push_under(lambda w, rung=rung: encode(rung, w), budget, base)
        if pushed is None and fits is None:
            raise RateError(f"cannot compress into {budget} bytes: the smallest file is larger")
        if pushed is None:
            return fits.result
        if fits is None or quality(pushed.result) >= quality(fits.result):
            return pushed.result
        return fits.result
    assert fits is not None  # the loop returns unless every rung fits
    return fits.result

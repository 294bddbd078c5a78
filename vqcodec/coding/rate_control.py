"""Continuous rate control: the best file within a size budget, by search over the models, the
bottom map's rate weight (`vqcodec.coding.rate_aware`) and the refinement layer's step
(`vqcodec.layers.refine`).

Each model has one natural size per image (its default rate weights). Raising the bottom rate
weight lowers it continuously, at a price in quality; a refinement layer raises it
continuously, up to any rate. For a budget, the ladder is walked from the fewest bits up:
every model whose default file fits is filled up to the budget with a refinement layer (a
search over its step), and the first model whose default file is too large is pushed under
the budget by a search over the weight. The result is the candidate that decodes with the
highest PSNR.
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
FIRST_STEP = 64.0  # the first refinement step tried
MIN_STEP, MAX_STEP = 1.0, 1023.0  # the refinement steps searched (vqcodec.layers.refine's range)


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


def fill_up(encode: Callable[[float], Trial[T]], budget: int) -> Trial[T] | None:
    """The largest result of size <= budget found by searching the step s in [MIN_STEP,
    MAX_STEP] of a size(s) that falls as s grows; None if even MAX_STEP is over. Brackets by
    factors of 4 from FIRST_STEP, then interpolates log size against log step (bisecting where
    that leaves the bracket), in at most MAX_TRIALS encodes."""
    over: Trial[T] | None = None  # the largest step over the budget
    under: Trial[T] | None = None  # the smallest step within it: the largest fitting file
    step = FIRST_STEP
    for _ in range(MAX_TRIALS):
        trial = encode(step)
        if trial.size > budget:
            over = trial if over is None or step > over.weight else over
        elif under is None or step < under.weight:
            under = trial
        if under is None:
            if step >= MAX_STEP:
                return None
            step = min(4 * step, MAX_STEP)
        elif over is None:
            if step <= MIN_STEP:
                break
            step = max(step / 4, MIN_STEP)
        else:
            if under.size >= budget * (1 - TOLERANCE) or under.weight / over.weight < 1.02:
                break
            step = _interpolate(over, under, budget)
            if not over.weight < step < under.weight:
                step = math.sqrt(over.weight * under.weight)
    return under


def fit_budget(
    rungs: Sequence[R],
    encode: Callable[[R, float | None], Trial[T]],
    quality: Callable[[T], float],
    budget: int,
    fill: Callable[[R, Trial[T]], T] | None = None,
) -> T:
    """The best result within `budget` (see the module docstring). `rungs`: the models, fewest
    bits first; `encode(rung, w)`: a file with bottom rate weight w (None: the rung's default);
    `fill(rung, base)`: the best file within the budget on top of the rung's fitting default
    file `base` (itself if nothing better fits); `quality(result)`: higher is better (PSNR)."""
    candidates: list[T] = []
    for rung in rungs:
        base = encode(rung, None)
        if base.size > budget:
            if not candidates:  # the smallest file of all first: fail at once, saying its size
                smallest = encode(rung, MAX_WEIGHT)
                if smallest.size > budget:
                    raise RateError(
                        f"cannot compress into {budget} bytes: the smallest file for this image "
                        f"is {smallest.size} bytes"
                    )
            pushed = push_under(lambda w, rung=rung: encode(rung, w), budget, base)
            if pushed is not None:
                candidates.append(pushed.result)
            break
        candidates.append(fill(rung, base) if fill is not None else base.result)
    if not candidates:  # only if rungs is empty or size(w) is not monotonic
        raise RateError(f"cannot compress into {budget} bytes: the smallest file is larger")
    return max(reversed(candidates), key=quality)  # ties: the higher rung

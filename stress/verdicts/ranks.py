"""Rank statistics of the queue's verdict, in pure Python (the toolkit has no numpy):
Spearman's rank correlation and a seeded percentile-bootstrap interval of it.

Spearman's rho is Pearson's correlation of the ranks, ties given their average rank;
the bootstrap resamples the (x, y) pairs with replacement and takes the empirical
quantiles of rho over the resamples (Efron's percentile interval).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of `values` in their order; tied values share their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for k in range(start, end + 1):
            ranks[order[k]] = shared
        start = end + 1
    return ranks


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation; None when fewer than two pairs or a side is constant."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"{n} x values against {len(ys)} y values")
    if n < 2:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxy = sxx = syy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx, dy = x - mean_x, y - mean_y
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation of paired values (None: undefined, as `pearson`)."""
    return pearson(average_ranks(xs), average_ranks(ys))


def bootstrap_interval(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 1,
) -> tuple[float, float] | None:
    """The percentile-bootstrap `confidence` interval of Spearman's rho over `resamples`
    resamples of the pairs, drawn from random.Random(seed): the same data and seed, the
    same interval. None when rho is undefined in every resample (or there are no pairs)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence is between 0 and 1, not {confidence}")
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"{n} x values against {len(ys)} y values")
    rng = random.Random(seed)
    rhos: list[float] = []
    for _ in range(resamples if n else 0):
        picks = [rng.randrange(n) for _ in range(n)]
        rho = spearman([xs[i] for i in picks], [ys[i] for i in picks])
        if rho is not None:  # a resample with one distinct value has no correlation
            rhos.append(rho)
    if not rhos:
        return None
    rhos.sort()
    tail = (1 - confidence) / 2
    return _quantile(rhos, tail), _quantile(rhos, 1 - tail)


def _quantile(ascending: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = fraction * (len(ascending) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ascending) - 1)
    return ascending[low] + (ascending[high] - ascending[low]) * (position - low)

r"""The spread of an experiment's figures over training seeds: mean ± std, min-max and the first seed's value."""

from __future__ import annotations

import math
from typing import Dict, Mapping, Sequence


def spread(values: Sequence[float]) -> Dict[str, float]:
    r"""Summary of one figure over seeds.

    .. math:: \bar v = \frac{1}{n} \sum_s v_s, \qquad
              \sigma = \sqrt{\frac{1}{n - 1} \sum_s (v_s - \bar v)^2}

    (``std`` is 0 for a single seed).

    Args:
        values (Sequence[float]): The figure of each seed, the first seed first.

    Returns:
        dict: ``mean``, ``std``, ``min``, ``max``, ``first`` (the first seed's value) and ``n``.
    """
    if not values:
        raise ValueError("spread needs the figure of at least one seed, got none")
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "first": values[0], "n": n}


def spread_over_seeds(per_seed: Sequence[Mapping[str, float]]) -> Dict[str, Dict[str, float]]:
    r""":func:`spread` of every figure that all seeds report.

    Args:
        per_seed (Sequence[Mapping]): ``{figure: value}`` per seed, the first seed first.

    Returns:
        dict: ``{figure: spread}``, in the first seed's order of figures.
    """
    if not per_seed:
        raise ValueError("spread_over_seeds needs the figures of at least one seed, got none")
    shared = [name for name in per_seed[0] if all(name in figures for figures in per_seed)]
    return {name: spread([float(figures[name]) for figures in per_seed]) for name in shared}

r"""Measuring: medians of repeated runs and peak memory."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Callable, List, Sequence

import torch


def median_seconds(work: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    r"""The median wall time of ``work()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        work()
    times: List[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synchronize() -> None:
    r"""Waits for the GPU's queued work, where CUDA is in use, so that a time read next includes it."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def peak_memory_mib() -> float:
    r"""Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def alternating_medians(works: Sequence[Callable[[], object]], repeats: int = 3, warmup: int = 1) -> List[float]:
    r"""The median wall time of each of ``works``, run in turn ``repeats`` times (after ``warmup`` untimed rounds).

    Taking turns spreads a busy machine's slow spells over all of them, so that their ratios hold better
    than those of medians measured one after the other.
    """
    for _ in range(warmup):
        for work in works:
            work()
    times: List[List[float]] = [[] for _ in works]
    for _ in range(repeats):
        for work, spent in zip(works, times):
            start = time.perf_counter()
            work()
            synchronize()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]

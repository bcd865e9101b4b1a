r"""Measuring: medians of repeated runs and peak memory."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Callable, List


def median_seconds(work: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    r"""The median wall time of ``work()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        work()
    times: List[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mib() -> float:
    r"""Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024

r"""What a benchmark row's edgeattr run spends its time on, read off torch's profiler."""

from __future__ import annotations

import time
from typing import Callable

from torch.profiler import ProfilerActivity, profile


def dominant_operations(work: Callable[[], object], top: int = 3) -> str:
    r"""The ``top`` torch operators of largest self time in one run of ``work()``, with their shares.

    Operators are torch's (``aten::index`` for gathers, ``aten::sort`` for
    ``torch.unique``, ``aten::mm`` for linear layers); their shares are of the
    CPU time of all operators (summed over threads), which is given beside the
    run's wall time under the profiler: the rest of the wall time is the
    Python between operators (the model's own code, PyG's and edgeattr's).

    Args:
        work (Callable): One run of what the row times (run once, profiled).
        top (int): How many operators to name. (default: ``3``)

    Returns:
        str: e.g. ``'aten::index 25%, aten::sort 14%, aten::mm 8% of 2.10 s in operators (3.00 s wall)'``.
    """
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        work()
        wall = time.perf_counter() - start
    events = [event for event in profiler.key_averages() if event.key.startswith("aten::")]
    operators = sum(event.self_cpu_time_total for event in events)
    if operators <= 0:
        return f"no torch operator ran ({wall:.2f} s wall)"
    ranked = sorted(events, key=lambda event: event.self_cpu_time_total, reverse=True)[:top]
    shares = ", ".join(f"{event.key} {event.self_cpu_time_total / operators:.0%}" for event in ranked)
    return f"{shares} of {operators / 1e6:.2f} s in operators ({wall:.2f} s wall)"

r"""Benchmark case of :func:`~edgeattr.explain_all`: its engines against the batched API, and Ray's workers against each other.

Item 8: EdgeGradient of every Cora node (the trained GCN of :func:`~edgeattr.benchmarks.pyg_cases.cora_gcn`),

- written to Parquet by the local engine, against the same shards explained
  in memory by ``EdgeGradient`` on a ``PyGAdapter`` with a tensor index: the
  engine's overhead (the manifest, the rows, the files);
- by the Ray engine with one worker, against the local engine;
- by the Ray engine with two workers, against one.

The local engine and the batched API take turns (:func:`~edgeattr.benchmarks.timing.alternating_medians`).
Every run writes to a fresh folder (never a resume) and uses one torch
thread per process, as a Ray worker of one CPU does, so that the ratios
compare engines and workers, not thread counts. The Ray runs are timed on a
Ray started for them with that many CPUs, after an untimed run that starts
its workers. The rows carry ``figures`` for the projection of
``docs/scaling.md`` (:mod:`edgeattr.benchmarks.projection`).
"""

from __future__ import annotations

import itertools
import tempfile
from typing import Callable, Dict, List, Tuple

import torch
from torch import Tensor

from edgeattr import EdgeGradient, PyGAdapter, explain_all, read_attributions
from edgeattr.benchmarks.report import Row
from edgeattr.benchmarks.timing import alternating_medians, median_seconds
from edgeattr.benchmarks.workloads import CoraWorkload


def explain_all_engines(work: CoraWorkload, count: int, shard_size: int, repeats: int = 5) -> List[Row]:
    r"""Item 8: the first ``count`` Cora nodes (all 2708 at full size), ``shard_size`` per shard, on each engine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _engines(work, count, shard_size, repeats)
    finally:
        torch.set_num_threads(threads)


def _engines(work: CoraWorkload, count: int, shard_size: int, repeats: int) -> List[Row]:
    model, x, edge_index = work.model, work.x, work.edge_index
    nodes = torch.arange(count)
    groups = nodes.split(shard_size)
    batched: List[Tensor] = []

    def in_memory() -> None:
        batched.clear()
        for group in groups:
            adapter = PyGAdapter(model, x, edge_index, index=group)
            batched.append(EdgeGradient(adapter).attribute(adapter.ones()))

    with tempfile.TemporaryDirectory() as folder:
        names = (f"{folder}/{number}" for number in itertools.count())
        last: Dict[str, str] = {}

        def on(engine: str) -> Callable[[], None]:
            def run() -> None:
                last[engine] = next(names)
                explain_all(model, x, edge_index, method="edge_gradient", targets=nodes, out=last[engine], shard_size=shard_size, engine=engine)

            return run

        api, local = alternating_medians([in_memory, on("local")], repeats=repeats)
        local_rows = read_attributions(last["local"], as_table=True)
        difference = float((read_attributions(last["local"]).to_dense() - torch.cat(batched)).abs().max())

        def same_rows() -> bool:
            return read_attributions(last["ray"], as_table=True).equals(local_rows)

        one, one_same = _on_ray(on("ray"), 1, repeats, same_rows)
        two, two_same = _on_ray(on("ray"), 2, repeats, same_rows)
    edges = sum(PyGAdapter(model, x, edge_index, index=group).edge_ids.numel() for group in groups) / count
    degree = torch.bincount(edge_index[1], minlength=x.size(0)).double()
    workload = {"targets": count, "shard_size": shard_size, "nodes": x.size(0), "edges": edge_index.size(1), "features": x.size(1), "computation_edges": edges,
                "mean_in_degree": float(degree.mean()), "mean_squared_in_degree": float((degree**2).mean())}
    return [
        Row("8", f"explain_all, local engine: EdgeGradient of {count} Cora nodes to Parquet ({shard_size} per shard)",
            f"EdgeGradient on a PyGAdapter with a tensor index, {shard_size} nodes per call, in memory", local / count, api / count, None,
            f"{count / local:.0f} explanations/s; Parquet rows = in-memory attributions to {difference:.1e}", goal_max=1.1, figures=workload),
        Row("8", "explain_all, Ray engine, 1 worker (1 CPU)", "explain_all, local engine", one / count, local / count, None,
            _ray_notes(count / one, one_same), figures={"workers": 1}),
        Row("8", "explain_all, Ray engine, 2 workers", "explain_all, Ray engine, 1 worker", two / count, one / count, 1.8,
            _ray_notes(count / two, two_same), figures={"workers": 2}),
    ]


def _on_ray(run: Callable[[], None], workers: int, repeats: int, same_rows: Callable[[], bool]) -> Tuple[float, bool]:
    """The median seconds of ``run()`` on a Ray of ``workers`` CPUs (after one untimed run that starts them), and ``same_rows()``."""
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        return median_seconds(run, repeats=repeats), same_rows()
    finally:
        ray.shutdown()


def _ray_notes(rate: float, same: bool) -> str:
    return f"{rate:.0f} explanations/s; rows {'equal' if same else 'NOT equal'} to the local engine's, bit for bit"

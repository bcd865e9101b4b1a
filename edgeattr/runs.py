r"""Every target of a graph explained and written to disk, shard by shard, resumable: :func:`explain_all`."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional

import torch
from torch import Tensor

from edgeattr.explaining import input_route
from edgeattr.methods import method_named
from edgeattr.shards import PendingShard, ShardWork, run_locally
from edgeattr.store import AttributionStore, FolderLike, Manifest, Shard, content_fingerprint

#: Targets per shard when none is given: a shard's rows stay in memory until it is written.
DEFAULT_SHARD_SIZE = 256
#: Where the shards run: in this process, one after the other, or as Ray tasks (:mod:`edgeattr.ray_engine`).
ENGINES = ("local", "ray")


def explain_all(
    model: torch.nn.Module,
    *inputs: Any,
    method: str = "gradient_sign",
    targets: Optional[Tensor] = None,
    out: FolderLike,
    shard_size: Optional[int] = None,
    layerwise: bool = False,
    topk: Optional[int] = None,
    task: Optional[str] = None,
    mode: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
    progress: Optional[Callable[[int, int, int, float], None]] = None,
    engine: str = "local",
    address: Optional[str] = None,
    ray_options: Optional[Mapping[str, Any]] = None,
    **model_kwargs: Any,
) -> AttributionStore:
    r"""Explains every target of a PyG or DGL model and writes the attributions as Parquet shards.

    The targets run ``shard_size`` at a time on one adapter each (their
    computation subgraphs batched in one pass, as with a tensor ``index``); each
    shard's non-zero attributions, or each target's ``topk`` largest, are written
    to ``out`` as one Parquet file, and the manifest records it
    (:mod:`edgeattr.store`). A call with the same arguments on the same folder
    resumes: written shards are skipped. A folder holding another run (other
    parameters, inputs, settings or targets) is refused. Memory is bounded by one
    shard's attributions, whatever the number of targets.

    With ``engine='ray'`` the shards run as Ray tasks, one per shard, on the
    cores of this machine or the workers of a cluster (:mod:`edgeattr.ray_engine`):
    each worker writes the shards it explains, so ``out`` must be a folder every
    worker reaches, and a task whose worker dies is retried. A shard's rows are
    the same, to the last bit, on either engine.

    Args:
        model (torch.nn.Module): The model, unchanged, called as with :func:`edgeattr.explain`.
        *inputs: Its positional inputs (``x, edge_index`` or a ``Data`` for PyG; ``graph, feat`` for DGL).
        method (str, optional): A name of :data:`edgeattr.methods.METHODS`. (default: ``'gradient_sign'``)
        targets (Tensor, optional): Node, graph or pair ids to explain, ``(T,)``.
            Default: every node (node task), graph (graph task) or scored pair (edge task).
        out (str, Path or RunFolder): The run's folder: a local path, or the URI
            of a filesystem pyarrow opens (``'s3://bucket/runs/cora'``).
        shard_size (int, optional): Targets per shard. (default: :data:`DEFAULT_SHARD_SIZE`)
        layerwise (bool, optional): Attribute per message-passing call: rows
            carry a ``layer``. Implied by the layerwise methods. (default: ``False``)
        topk (int, optional): Keep only each target's ``topk`` edges of largest
            attribution (signed, ties to the lower edge id; per layer when
            layerwise) instead of every non-zero one.
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'``, as for :func:`edgeattr.explain`.
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`).
        options (Mapping, optional): Options of the method's class, as for :func:`edgeattr.explain`.
        progress (Callable, optional): Called after each shard with the
            targets done, their total, those done by this call and its seconds
            elapsed (``edgeattr explain-all`` shows them as a progress bar).
        engine (str, optional): Where the shards run: ``'local'``, in this
            process one after the other, or ``'ray'``, as Ray tasks (needs
            ``pip install edgeattr[ray]``). (default: ``'local'``)
        address (str, optional): The Ray cluster to connect to, as ``ray.init``
            takes it (``'auto'``, ``'ray://head:10001'``); without it, the
            cluster this process is connected to, else a Ray started on this
            machine for the run. ``engine='ray'`` only.
        ray_options (Mapping, optional): Options of each shard's Ray task, as
            ``ray.remote`` takes them (``num_cpus``, default 1, which is also its
            torch threads; ``memory``, ``resources``, ``max_retries``, default
            :data:`~edgeattr.ray_engine.DEFAULT_RETRIES`). ``engine='ray'`` only.
        **model_kwargs: Keyword arguments of the model call (``batch``, ``edge_attr``, ...).

    Returns:
        AttributionStore: The run's folder and manifest; read the results with
        :func:`edgeattr.read_attributions`.

    Raises:
        ValueError: for inputs other than one homogeneous PyG or DGL graph (or
            batch), targets out of range, a folder holding another run, or an
            unknown engine.
        ImportError: for ``engine='ray'`` without Ray installed.

    Example::

        >>> explain_all(model, data.x, data.edge_index, method="edge_gradient", out="runs/cora")
        >>> attributions = read_attributions("runs/cora")      # sparse (2708, E)
        >>> explain_all(model, data.x, data.edge_index, out="s3://bucket/runs/cora", engine="ray", address="auto")
    """
    chosen = method_named(method)
    layerwise = layerwise or chosen.layerwise
    options = dict(options or {})
    if topk is not None and (isinstance(topk, bool) or not isinstance(topk, int) or topk < 1):
        raise ValueError(f"topk must be a positive integer, got {topk!r}")
    size = DEFAULT_SHARD_SIZE if shard_size is None else shard_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}")
    _check_engine(engine, address, ray_options)
    route = input_route(model, inputs, model_kwargs)
    if not route.takes_task:
        raise ValueError(
            "explain_all explains one homogeneous PyG or DGL graph (or a batch of them); for heterogeneous graphs and "
            "sampled blocks, explain targets with explain() or an adapter's tensor index"
        )
    work = ShardWork(model, route, dict(model_kwargs), method, options, task, layerwise, mode, topk)
    probe = work.adapter(0)
    ids = torch.arange(probe.num_rows, device=probe.device) if targets is None else _checked_targets(targets, probe.num_rows)
    settings = {"method": method, "options": options, "task": probe.task, "layerwise": layerwise, "topk": topk, "mode": mode}
    wanted = Manifest(
        fingerprint=content_fingerprint(probe.model, (*inputs, *model_kwargs.values()), settings),
        settings=settings,
        task=probe.task,
        targets=ids.tolist(),
        num_edges=probe.num_edges,
        num_layers=probe.num_layers if layerwise else 1,
        layerwise=layerwise,
        shards=[Shard(first, min(first + size, ids.numel()), f"shard-{i:05d}.parquet") for i, first in enumerate(range(0, ids.numel(), size))],
    )
    store = AttributionStore.open(out, wanted)
    started, resumed = time.perf_counter(), sum(s.last - s.first for s in store.manifest.shards if s.done)
    done = resumed

    def finished(position: int, shard: Shard) -> None:
        nonlocal done
        store.record(position, shard)
        done += shard.last - shard.first
        if progress is not None:
            progress(done, ids.numel(), done - resumed, time.perf_counter() - started)

    shards = store.manifest.shards
    pending = [PendingShard(i, shards[i], ids[shards[i].first : shards[i].last].clone()) for i in store.pending()]  # a copy pickles alone
    if not pending:
        return store
    if engine == "ray":
        from edgeattr.ray_engine import run_on_ray

        run_on_ray(work, store.folder, pending, finished, address=address, task_options=ray_options)
    else:
        run_locally(work, store.folder, pending, finished)
    return store


def _check_engine(engine: Any, address: Optional[str], ray_options: Optional[Mapping[str, Any]]) -> None:
    """Refuses an unknown engine, Ray's settings without ``engine='ray'``, and ``engine='ray'`` without Ray."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    if engine != "ray" and (address is not None or ray_options is not None):
        raise ValueError("address= and ray_options= are settings of the Ray engine: pass engine='ray' too")
    if engine == "ray":
        from edgeattr.ray_engine import import_ray

        import_ray()


def _checked_targets(targets: Any, limit: int) -> Tensor:
    """``targets`` as a 1-D long tensor of distinct ids in ``[0, limit)``."""
    if not isinstance(targets, Tensor) or targets.dim() != 1 or targets.is_floating_point() or targets.dtype == torch.bool:
        raise ValueError(f"targets must be a 1-D integer tensor of ids, got {targets!r}")
    outside = targets[(targets < 0) | (targets >= limit)]
    if outside.numel():
        raise ValueError(f"target {int(outside[0])} is out of range: the model's output has {limit} rows")
    if targets.unique().numel() != targets.numel():
        raise ValueError("targets name an id twice; pass each target once")
    return targets.long()


__all__ = ["explain_all", "DEFAULT_SHARD_SIZE", "ENGINES"]

r"""The Ray engine of :func:`~edgeattr.explain_all`: one Ray task per shard, on a local machine's cores or a cluster.

The driver puts the model and inputs into Ray's object store once; each task
explains one shard (:func:`edgeattr.shards.explain_shard`) on a worker and
writes its Parquet file into the run's folder itself, so that the folder must
be one that every worker reaches (a local folder on one machine; shared
storage, ``s3://...`` or a shared file system, on a cluster). As tasks finish,
the driver records their shards in the manifest, which it alone writes. A task
whose worker dies (a crash, a node lost) is retried by Ray; a run stopped in
the driver cancels its tasks, and the next call resumes with the shards the
manifest does not list as written.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, Optional

import torch
from torch import Tensor

from edgeattr.shards import Finished, PendingShard, ShardWork, explain_shard
from edgeattr.store import RunFolder, Shard

#: Ray's ``max_retries`` of a shard's task: attempts after the first when its worker dies.
DEFAULT_RETRIES = 3
#: Options of every shard's task unless ``ray_options`` says otherwise: one CPU (and one torch thread) each.
DEFAULT_TASK_OPTIONS: Dict[str, Any] = {"num_cpus": 1, "max_retries": DEFAULT_RETRIES}

#: The run's work as this worker process deserialized it last, by its object id: later shards of the run reuse it
#: (and the adapter's check of the model, made once per model and inputs).
_WORK: Dict[str, ShardWork] = {}


def import_ray() -> Any:
    r"""The ``ray`` module.

    Raises:
        ImportError: naming the extra to install, if Ray is not installed.
    """
    try:
        import ray
    except ImportError as error:
        raise ImportError("engine='ray' needs Ray: pip install edgeattr[ray] (or pip install ray), or pass engine='local'") from error
    return ray


def run_on_ray(
    work: ShardWork,
    folder: RunFolder,
    pending: Iterable[PendingShard],
    finished: Finished,
    address: Optional[str] = None,
    task_options: Optional[Mapping[str, Any]] = None,
) -> None:
    r"""Explains the pending shards as Ray tasks and calls ``finished`` in the driver as each one is written.

    The driver uses the Ray cluster it is connected to (``ray.init`` called
    before); else it connects to ``address``, else starts Ray on this machine,
    and shuts down what it started when done (also on an error).

    Args:
        work (ShardWork): The run's model, inputs and settings, put into the object store once.
        folder (RunFolder): The run's folder, reached by every worker.
        pending (Iterable[PendingShard]): The shards to explain.
        finished (Callable): ``finished(position, shard)`` as each shard is written, in the order they finish.
        address (str, optional): The cluster, as ``ray.init`` takes it (``'auto'``, ``'ray://head:10001'``).
        task_options (Mapping, optional): Options of each shard's task, as ``ray.remote`` takes them
            (``num_cpus``, ``memory``, ``resources``, ``max_retries``), over :data:`DEFAULT_TASK_OPTIONS`.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address)
    running: Dict[Any, int] = {}
    try:
        # In a list, so that each task receives the reference and fetches the work once per worker.
        shared = [ray.put(dataclasses.replace(work, model=shippable(work.model)))]
        task = ray.remote(_explain_on_worker).options(**{**DEFAULT_TASK_OPTIONS, **(task_options or {})})
        running = {task.remote(shared, folder, shard, targets): position for position, shard, targets in pending}
        while running:
            ready, _ = ray.wait(list(running))
            for reference in ready:
                position, shard = running.pop(reference), ray.get(reference)
                if not folder.exists(shard.file):
                    raise ValueError(
                        f"a worker wrote {shard.file} where this process does not find it, in its own {folder}: pass out= a folder "
                        f"that every worker and this process share (s3://..., gs://..., a shared file system)"
                    )
                finished(position, shard)
    finally:
        for reference in running:
            ray.cancel(reference)
        if started:
            ray.shutdown()


def shippable(model: torch.nn.Module) -> torch.nn.Module:
    r"""``model``, or a copy of it that any process unpickles: without the ``propagate`` PyG leaves on an explained layer.

    PyG's ``explain`` switch (its explainers' ``set_masks`` and ``clear_masks``)
    leaves on each ``MessagePassing`` layer an attribute ``propagate``, a bound
    method of the class's generated ``propagate``, whose module exists only in a
    process that has built such a layer: a fresh worker fails to unpickle it
    before the layer's own ``__setstate__`` generates that module. Where the
    attribute is the class's own ``propagate``, the copy goes without it and
    behaves the same; the user's model is left as it is.

    Args:
        model (torch.nn.Module): The model to send to workers.

    Returns:
        torch.nn.Module: ``model`` itself when no layer holds such an attribute, else a deep copy without them.
    """
    if not any(_bound_class_propagate(module) for module in model.modules()):
        return model
    copied = copy.deepcopy(model)
    for module in copied.modules():
        if _bound_class_propagate(module):
            del module.__dict__["propagate"]
    return copied


def _bound_class_propagate(module: torch.nn.Module) -> bool:
    bound = vars(module).get("propagate")
    return bound is not None and getattr(bound, "__func__", None) is getattr(type(module), "propagate", None)


def _explain_on_worker(shared: List[Any], folder: RunFolder, shard: Shard, targets: Tensor) -> Shard:
    """A shard's task: torch threads set to the task's CPUs, then :func:`~edgeattr.shards.explain_shard`."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    return explain_shard(_work(ray, shared[0]), folder, shard, targets)


def _work(ray: Any, reference: Any) -> ShardWork:
    """The run's work from the object store, deserialized once per worker process and run."""
    key = reference.hex()
    if key not in _WORK:
        _WORK.clear()
        _WORK[key] = ray.get(reference)
    return _WORK[key]

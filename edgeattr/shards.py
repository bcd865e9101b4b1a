r"""One shard of :func:`~edgeattr.explain_all`: its targets explained on one adapter and written as one Parquet file.

:func:`explain_shard` is the unit of work of every engine: the local engine
runs it in a loop, the Ray engine (:mod:`edgeattr.ray_engine`) as one task per
shard on a cluster's workers. It reads nothing but its arguments, so that a
shard gives the same rows, to the last bit, wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters import GraphAdapter
from edgeattr.adapters.base.interface import AdapterWrapper
from edgeattr.attribution._common import predicted_targets
from edgeattr.explaining import InputRoute
from edgeattr.explanation import top_edges
from edgeattr.methods import method_named
from edgeattr.store import FolderLike, Shard, ShardRows, write_shard


@dataclass(frozen=True)
class ShardWork:
    r"""What every shard of a run is explained with: the model, its inputs and the run's settings.

    It pickles (with DGL graphs and PyG ``Data`` among the inputs), so that an
    engine sends it once to each worker.

    Attributes:
        model (torch.nn.Module): The model, unchanged.
        route (InputRoute): Its adapter class and positional inputs (:func:`edgeattr.explaining.input_route`).
        model_kwargs (dict): Keyword arguments of the model call.
        method (str): A name of :data:`edgeattr.methods.METHODS`.
        options (dict): Options of the method's class.
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'``; ``None`` lets the adapter tell.
        layerwise (bool): Attribute per message-passing call.
        mode (str, optional): What the output means (:mod:`edgeattr.modes`).
        topk (int, optional): Keep each target's ``topk`` largest attributions only.
    """

    model: torch.nn.Module
    route: InputRoute
    model_kwargs: Dict[str, Any]
    method: str
    options: Dict[str, Any]
    task: Optional[str]
    layerwise: bool
    mode: Optional[str]
    topk: Optional[int]

    def adapter(self, index: Union[int, Tensor]) -> GraphAdapter:
        r"""The adapter of the targets ``index`` (an id, or ids ``(T,)``)."""
        return self.route.adapter(
            self.model, *self.route.inputs, index=index, task=self.task, layerwise=self.layerwise, mode=self.mode, **self.model_kwargs
        )


class PendingShard(NamedTuple):
    r"""A shard still to explain: its position among the manifest's shards, its entry there and its target ids ``(T,)``."""

    position: int
    shard: Shard
    targets: Tensor


#: What an engine calls as each shard is written: its position in the manifest and the shard as written.
Finished = Callable[[int, Shard], None]


class PredictionsSeen(AdapterWrapper):
    r"""An adapter that keeps the classes its model predicts the first time it runs every edge at weight 1.

    A method given ``target=None`` explains those classes and reads them off such a
    pass (``resolve_target``; a gradient method, off the pass it differentiates), so
    this wrapper tells which classes were explained without a forward pass of its own.

    Attributes:
        classes (Tensor, optional): The predicted class of each target, ``(T,)``; ``None`` before such a pass.
    """

    def __init__(self, adapter: GraphAdapter) -> None:
        super().__init__(adapter)
        self.classes: Optional[Tensor] = None

    def __call__(self, mask: Tensor, x: Optional[Tensor] = None) -> Tensor:
        output = super().__call__(mask, x)
        if x is None and mask.size(0) == self.adapter.num_targets:
            self._seen(mask, output)
        return output

    def forward_subgraph(self, mask: Tensor) -> Tensor:
        output = super().forward_subgraph(mask)
        if mask.size(0) == 1:  # one row of subgraph coordinates covers every target
            self._seen(mask, output)
        return output

    def _seen(self, mask: Tensor, output: Tensor) -> None:
        if self.classes is None and _all_ones(mask):
            self.classes = predicted_targets(output.detach(), self.adapter.mode).targets


def _all_ones(mask: Tensor) -> bool:
    """Whether every entry of ``mask`` is 1 (one pass over it, no mask of booleans)."""
    if mask.numel() == 0:  # a graph without edges
        return True
    low, high = torch.aminmax(mask.detach())
    return bool(low == 1) and bool(high == 1)


def shard_rows(work: ShardWork, targets: Tensor) -> ShardRows:
    r"""The rows of the targets ``targets`` ``(T,)``: each one's predicted class explained, on one adapter.

    Every non-zero attribution is a row, or each target's ``work.topk`` largest
    (signed, ties to the lower edge id; per layer when layerwise).
    """
    adapter = work.adapter(targets)
    seen = PredictionsSeen(adapter)
    attribution = method_named(work.method).attribute(seen, target=None, **work.options)
    assert isinstance(attribution, Tensor), "an adapter without features gives one attribution"
    assert seen.classes is not None, f"{work.method} explained target=None without running all-ones masks: resolve_target() predicts so"
    classes = seen.classes
    rows, layers, edges, values = _rows(attribution.detach(), work.topk)
    return ShardRows(targets[rows], edges, layers if work.layerwise else None, values, classes.tolist())


def explain_shard(work: ShardWork, folder: FolderLike, shard: Shard, targets: Tensor) -> Shard:
    r"""Explains the targets ``targets`` ``(T,)`` of ``shard`` and writes its Parquet file into ``folder``, atomically.

    Args:
        work (ShardWork): The model, inputs and settings of the run.
        folder (str, Path or RunFolder): The run's folder.
        shard (Shard): The shard, as the manifest lists it.
        targets (Tensor): Its target ids.

    Returns:
        Shard: The shard as written, for :meth:`~edgeattr.store.AttributionStore.record`.
    """
    return write_shard(folder, shard, shard_rows(work, targets))


def run_locally(work: ShardWork, folder: FolderLike, pending: Iterable[PendingShard], finished: Finished) -> None:
    r"""The local engine: the pending shards one after the other, in this process."""
    for position, shard, targets in pending:
        finished(position, explain_shard(work, folder, shard, targets))


def _rows(attribution: Tensor, topk: Optional[int]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(target position, layer, edge, value)`` of the rows to write from attributions ``(T, E)`` or ``(T, L, E)``.

    Every non-zero entry, or the ``topk`` largest of each target (and layer), ties to the lower edge id.
    """
    values = attribution if attribution.dim() == 3 else attribution.unsqueeze(1)
    if topk is None:
        row, layer, edge = values.nonzero(as_tuple=True)
        return row, layer, edge, values[row, layer, edge]
    order = top_edges(values, min(topk, values.size(-1)))
    row, layer, _ = torch.meshgrid(*(torch.arange(n, device=values.device) for n in order.shape), indexing="ij")
    edge = order.reshape(-1)
    row, layer = row.reshape(-1), layer.reshape(-1)
    return row, layer, edge, values[row, layer, edge]

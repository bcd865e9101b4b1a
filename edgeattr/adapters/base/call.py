r"""The model call an adapter binds: its arguments and how each follows the graph."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor

Key = Union[int, str]

#: How an argument follows the graph when it is restricted and copied.
STRUCTURE, NODE, EDGE, BATCH, STATIC = "structure", "node", "edge", "batch", "static"


@dataclass
class Slot:
    r"""One argument of the model call.

    Args:
        key (int or str): Position or keyword.
        name (str, optional): Parameter name of the model's forward, if known.
        value (object): The value the user passed.
        kind (str): ``'structure'`` (the graph: an edge_index or a DGLGraph),
            ``'node'``, ``'edge'``, ``'batch'`` (graph id per node) or ``'static'``.
    """

    key: Key
    name: Optional[str]
    value: Any
    kind: str = STATIC


@dataclass
class Call:
    r"""A ready model call over some number of disjoint copies of the computation graph.

    Args:
        args, kwargs: What the model is called with.
        structure (object): The batched graph among them.
        src, dst (Tensor): Its edges, in order, ``(copies * E_sub,)``.
        rows (Tensor): Output rows explained, one per target and copy.
        edge_values (list): Edge-level values among the arguments (cut with edges).
        num_outputs (int, optional): Output rows the model must return.
    """

    args: List[Any]
    kwargs: Dict[str, Any]
    structure: Any
    src: Tensor
    dst: Tensor
    rows: Tensor
    edge_values: List[Tensor] = field(default_factory=list)
    num_outputs: Optional[int] = None

    def replace(self, old: Dict[int, Any], structure: Any, src: Tensor, dst: Tensor) -> "Call":
        r"""The same call with the values whose ``id`` is in ``old`` replaced by ``old[id]``."""
        args = [old.get(id(a), a) for a in self.args]
        kwargs = {k: old.get(id(v), v) for k, v in self.kwargs.items()}
        return Call(args, kwargs, structure, src, dst, self.rows, [], self.num_outputs)


def bind(model: torch.nn.Module, args: tuple, kwargs: dict) -> List[Slot]:
    r"""The arguments of ``model(*args, **kwargs)`` as slots, all ``'static'`` for now."""
    names = [
        p.name
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    slots = [Slot(i, names[i] if i < len(names) else None, a) for i, a in enumerate(args)]
    return slots + [Slot(k, k, v) for k, v in kwargs.items()]


def classify(slots: List[Slot], num_nodes: int, num_edges: int) -> None:
    r"""Marks tensors as node-level, edge-level, the batch vector, or static.

    A tensor whose first dimension is the number of edges is edge-level when its
    name contains ``edge`` or the number of nodes differs; the first tensor with
    ``num_nodes`` rows (the node features) is always node-level.
    """
    features_seen = False
    for slot in slots:
        value = slot.value
        if slot.kind != STATIC or not isinstance(value, Tensor) or value.dim() == 0:
            continue
        size = value.size(0)
        if slot.name == "batch" and size == num_nodes:
            slot.kind = BATCH
        elif size == num_nodes and (not features_seen or size != num_edges or "edge" not in (slot.name or "")):
            slot.kind = NODE
            features_seen = True
        elif size == num_edges:
            slot.kind = EDGE


def node_count(slots: List[Slot]) -> Optional[int]:
    r"""Rows of the first tensor argument other than the graph (the node features)."""
    for slot in slots:
        if slot.kind == STATIC and isinstance(slot.value, Tensor) and slot.value.dim() > 0:
            return slot.value.size(0)
    return None


def find(slots: List[Slot], kind: str) -> Optional[Slot]:
    r"""The first slot of ``kind``."""
    return next((slot for slot in slots if slot.kind == kind), None)


def assemble(slots: List[Slot], values: Dict[Key, Any]) -> tuple:
    r"""``(args, kwargs)`` from a value per slot key."""
    args = [values[s.key] for s in slots if isinstance(s.key, int)]
    kwargs = {s.key: values[s.key] for s in slots if isinstance(s.key, str)}
    return args, kwargs

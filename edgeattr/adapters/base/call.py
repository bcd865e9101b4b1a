r"""The model call an adapter binds: its arguments and how each follows the graph."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor

Key = Union[int, str]

#: How an argument follows the graph when it is restricted and copied.
STRUCTURE, NODE, EDGE, BATCH, STATIC = "structure", "node", "edge", "batch", "static"

#: An object holding the graph and its data (a PyG ``Data``), rebuilt from its fields for every call,
#: and its field holding the number of nodes.
CONTAINER, NODE_COUNT = "container", "node count"

#: The node pairs a link-prediction model scores (PyG's ``edge_label_index``, a DGL pair graph).
PAIRS = "pairs"

#: Rebuilds a container from the original and new values of its fields, by field name.
Rebuild = Callable[[Any, Dict[str, Any]], Any]


@dataclass
class Slot:
    r"""One argument of the model call.

    Args:
        key (int or str): Position or keyword; for a field of a container,
            ``'<container key>.<field name>'``.
        name (str, optional): Parameter name of the model's forward, if known;
            for a field, the field's name.
        value (object): The value the user passed.
        kind (str): ``'structure'`` (the graph: an edge_index or a DGLGraph),
            ``'node'``, ``'edge'``, ``'batch'`` (graph id per node),
            ``'static'``, ``'container'`` (an object holding the graph among
            its fields), ``'node count'`` (a container's number of nodes) or
            ``'pairs'`` (the node pairs scored by a link-prediction model).
        container (int or str, optional): For a field, the key of its container.
        rebuild (Callable, optional): For a container, how it is rebuilt
            from its fields' values.
        passed (bool): Whether the model is called with it; ``False`` for a
            graph the model reads itself, which the user names to the adapter.
    """

    key: Key
    name: Optional[str]
    value: Any
    kind: str = STATIC
    container: Optional[Key] = None
    rebuild: Optional[Rebuild] = None
    passed: bool = True


@dataclass
class Call:
    r"""A ready model call over some number of disjoint copies of the computation graph.

    Args:
        slots (list[Slot]): The slots of the model call.
        values (dict): A value per slot key; the model is called with
            ``assemble(slots, values)``.
        structure (object): The batched graph among them.
        src, dst (Tensor): Its edges, in order, ``(copies * E_sub,)``.
        rows (Tensor): Output rows explained, one per target and copy.
        edge_values (list): Edge-level values among the arguments (cut with edges).
        num_outputs (int, optional): Output rows the model must return.
    """

    slots: List[Slot]
    values: Dict[Key, Any]
    structure: Any
    src: Tensor
    dst: Tensor
    rows: Tensor
    edge_values: List[Tensor] = field(default_factory=list)
    num_outputs: Optional[int] = None

    def __post_init__(self) -> None:
        self.args, self.kwargs = assemble(self.slots, self.values)

    def replace(self, old: Dict[int, Any], structure: Any, src: Tensor, dst: Tensor) -> "Call":
        r"""The same call with the values whose ``id`` is in ``old`` replaced by ``old[id]``."""
        values = {key: old.get(id(value), value) for key, value in self.values.items()}
        return Call(self.slots, values, structure, src, dst, self.rows, [], self.num_outputs)


def bind(model: torch.nn.Module, args: tuple, kwargs: dict) -> List[Slot]:
    r"""The arguments of ``model(*args, **kwargs)`` as slots, all ``'static'`` for now.

    Positional arguments are named by the parameters of ``model.forward``, or
    of ``model.forward_signature()`` for a module whose forward takes
    ``*args`` on behalf of another (:class:`~edgeattr.adapters.base.link.EncoderDecoder`).
    """
    forward_signature: Optional[Callable[[], inspect.Signature]] = getattr(model, "forward_signature", None)
    signature = forward_signature() if forward_signature is not None else inspect.signature(model.forward)
    names = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    slots = [Slot(i, names[i] if i < len(names) else None, a) for i, a in enumerate(args)]
    return slots + [Slot(k, k, v) for k, v in kwargs.items()]


#: Names that say an argument has one row per node or per edge, where sizes cannot (``N == E``).
NODE_NAMES = frozenset({"x", "h", "feat", "feats", "features", "feature", "inputs", "input", "in_feat", "nfeat", "n_feat", "pos", "emb", "z"})
EDGE_NAMES = frozenset({"eweight", "e_weight", "efeat", "e_feat", "etype", "etypes", "ew", "edge_weight", "edge_attr"})


def classify(slots: List[Slot], num_nodes: int, num_edges: int, node_args: Sequence[str] = (), edge_args: Sequence[str] = ()) -> None:
    r"""Marks tensors as node-level, edge-level, the batch vector, or static.

    A tensor is node-level when its first dimension is the number of nodes
    (edge-level: of edges) and not the other, or when ``node_args``
    (``edge_args``) names it. Where the graph has as many nodes as edges,
    names decide: those containing ``node`` or ``edge``, and the usual names
    of :data:`NODE_NAMES` and :data:`EDGE_NAMES`. A tensor named ``batch``
    with one entry per node is the batch vector; anything else is static.

    Raises:
        ValueError: for a tensor with as many rows as there are nodes and
            edges whose name says neither, or a named argument of the wrong size.
    """
    named = {**{name: NODE for name in node_args}, **{name: EDGE for name in edge_args}}
    overlap = set(node_args) & set(edge_args)
    if overlap:
        raise ValueError(f"arguments {sorted(overlap)} are named both in node_args and edge_args")
    known = {slot.name for slot in slots} | {str(slot.key) for slot in slots}
    unknown = sorted(set(named) - known)
    if unknown:
        raise ValueError(f"node_args / edge_args name {unknown}, which are no arguments of the model call (its arguments: {sorted(n for n in known if n)})")
    for slot in slots:
        value = slot.value
        if slot.kind != STATIC or not isinstance(value, Tensor) or value.dim() == 0:
            continue
        size, name = value.size(0), slot.name or str(slot.key)
        kind = (named.get(slot.name) if slot.name else None) or named.get(str(slot.key))
        if kind is not None:
            expected = num_nodes if kind == NODE else num_edges
            if size != expected:
                raise ValueError(f"argument {name!r} is named in {kind}_args but has {size} rows, not one per {kind} ({expected})")
            slot.kind = kind
        elif slot.name == "batch" and size == num_nodes:
            slot.kind = BATCH
        elif size == num_nodes and size == num_edges:
            slot.kind = _kind_by_name(name, size)
        elif size == num_nodes:
            slot.kind = NODE
        elif size == num_edges:
            slot.kind = EDGE


def _names_edges(name: str) -> bool:
    """Whether an argument's name says it has one row per edge (``edge`` in it, or one of :data:`EDGE_NAMES`)."""
    lowered = name.lower()
    return "edge" in lowered or lowered in EDGE_NAMES


def _kind_by_name(name: str, size: int) -> str:
    """Node or edge level, by name, of a tensor of ``size`` rows on a graph of ``size`` nodes and edges."""
    lowered = name.lower()
    if _names_edges(name):
        return EDGE
    if "node" in lowered or lowered in NODE_NAMES:
        return NODE
    raise ValueError(
        f"argument {name!r} has {size} rows and the graph has {size} nodes and {size} edges, so its size does not "
        f"say whether it follows the nodes or the edges: name it in node_args=[{name!r}] or edge_args=[{name!r}]"
    )


def node_count(slots: List[Slot]) -> Optional[int]:
    r"""A container's number of nodes, else the rows of the first tensor argument other than the graph (the node
    features) whose name does not say it follows the edges (an ``edge_type``)."""
    counted = find(slots, NODE_COUNT)
    if counted is not None:
        return int(counted.value)
    for slot in slots:
        if _names_edges(slot.name or str(slot.key)):
            continue
        if slot.kind == STATIC and isinstance(slot.value, Tensor) and slot.value.dim() > 0:
            return slot.value.size(0)
    return None


def find(slots: List[Slot], kind: str) -> Optional[Slot]:
    r"""The first slot of ``kind``."""
    return next((slot for slot in slots if slot.kind == kind), None)


def assemble(slots: List[Slot], values: Dict[Key, Any]) -> tuple:
    r"""``(args, kwargs)`` from a value per slot key; a container is rebuilt from the values of its fields."""

    def value_of(slot: Slot) -> Any:
        if slot.rebuild is None:
            return values[slot.key]
        fields = {str(field.name): values[field.key] for field in slots if field.container == slot.key}
        return slot.rebuild(slot.value, fields)

    arguments = [slot for slot in slots if slot.container is None and slot.passed]
    args = [value_of(s) for s in arguments if isinstance(s.key, int)]
    kwargs = {s.key: value_of(s) for s in arguments if isinstance(s.key, str)}
    return args, kwargs

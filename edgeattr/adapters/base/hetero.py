r"""Adapters over graphs with several edge types: one flat mask over all of them, many targets, and verified shortcuts.

A mask of a :class:`HeteroAdapter` holds the edges of every edge type, type
after type. ``index`` names one target or a 1-D tensor of ``T`` of them (nodes
of one node type). Every target runs on the whole graph, one mask per pass,
unless two shortcuts are verified against the model's own output on the full
input (once per model and inputs):

* each target runs on its **computation subgraph over every edge type**
  (:func:`typed_computation_subgraphs`): the nodes whose states can reach it
  through the message-passing rounds in their order (calls that read none of
  each other's outputs, such as a ``to_hetero`` layer's relation calls, are
  one round: :func:`call_rounds`), each round one hop along its calls' edge
  types, and every edge of a round's types at those nodes, so that their
  degrees are whole;
* several masks and targets run as **disjoint copies** of those subgraphs in
  one pass (:class:`Parts`: per node type and per edge type, one block after
  another).

Where either check fails the adapter says so with a
:class:`~edgeattr.FallbackWarning` and keeps the whole graph, one mask per pass.
"""

from __future__ import annotations

import functools
import numbers
from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import DEFAULT_ELEMENTS_PER_PASS, EdgeMaskAdapter, copy_offsets, run_in_passes
from edgeattr.adapters.base.fingerprint import Snapshot, tensor_state
from edgeattr.adapters.base.messages import CallCounter, Layer, MessageWeights
from edgeattr.adapters.base.prepared import Handler, prepared
from edgeattr.adapters.base.subgraph import Neighbourhoods, Segments, whole_inputs
from edgeattr.adapters.base.verification import Record, difference, not_reproduced, record_for, shortcut_problem
from edgeattr.checks import checked_count
from edgeattr.errors import InputModifiedError, VerificationError, warn_at_caller
from edgeattr.modes import resolve_mode

#: An edge type as PyG and DGL name it: ``(source node type, relation, destination node type)``.
EdgeType = Tuple[str, str, str]


@dataclass
class TypedLayout:
    r"""The nodes and edges of a graph with several node and edge types, numbered in one flat range each.

    Node ``i`` of type ``n`` is flat node ``node_offsets[n] + i``; edge ``j``
    of type ``t`` is flat edge ``edge_offsets[t] + j``, its position in a mask.

    Attributes:
        node_counts (dict[str, int]): Nodes per node type, in order.
        edge_counts (dict[EdgeType, int]): Edges per edge type, in mask order.
        node_offsets (dict[str, int]), edge_offsets (dict[EdgeType, int]): Where each type starts.
        src, dst (Tensor): Flat node ids of each edge's endpoints, ``(E,)``, in mask order.
        edge_type (Tensor): Index into ``edge_counts`` of each edge's type, ``(E,)``.
    """

    node_counts: Dict[str, int]
    edge_counts: Dict[EdgeType, int]
    node_offsets: Dict[str, int]
    edge_offsets: Dict[EdgeType, int]
    src: Tensor
    dst: Tensor
    edge_type: Tensor

    @staticmethod
    def of(node_counts: Mapping[str, int], edges: Mapping[EdgeType, Tuple[Tensor, Tensor]], device: torch.device) -> "TypedLayout":
        r"""The layout of ``edges`` (``{edge type: (src ids, dst ids)}`` in mask order) over ``node_counts``."""
        node_offsets = dict(zip(node_counts, _starts(list(node_counts.values()))))
        edge_counts = {t: int(src.numel()) for t, (src, _) in edges.items()}
        edge_offsets = dict(zip(edge_counts, _starts(list(edge_counts.values()))))
        empty = torch.zeros(0, dtype=torch.long, device=device)
        src = [s.to(device, torch.long) + node_offsets[t[0]] for t, (s, _) in edges.items()]
        dst = [d.to(device, torch.long) + node_offsets[t[2]] for t, (_, d) in edges.items()]
        kinds = [torch.full((n,), i, dtype=torch.long, device=device) for i, n in enumerate(edge_counts.values())]
        return TypedLayout(
            dict(node_counts), edge_counts, node_offsets, edge_offsets,
            torch.cat([empty] + src), torch.cat([empty] + dst), torch.cat([empty] + kinds),
        )

    @property
    def num_nodes(self) -> int:
        r"""Nodes of every type."""
        return sum(self.node_counts.values())

    def edge_type_named(self, key: Any) -> Optional[EdgeType]:
        r"""The edge type ``key`` names: an edge type itself, or a relation name that is one type's alone."""
        if key in self.edge_counts:
            return key
        if isinstance(key, str) and key not in self.node_counts:
            named = [t for t in self.edge_counts if t[1] == key]
            return named[0] if len(named) == 1 else None
        return None


def _starts(sizes: List[int]) -> List[int]:
    starts, total = [], 0
    for size in sizes:
        starts.append(total)
        total += size
    return starts


def typed_computation_subgraphs(layout: TypedLayout, layer_types: Sequence[Set[EdgeType]], targets: Tensor) -> Segments:
    r"""The nodes and edges each target's output can depend on, over every edge type, in flat ids.

    The message-passing rounds :math:`0 .. L - 1` (see :func:`call_rounds`)
    run in order, round :math:`l` one hop along the edges of its calls' types
    :math:`\mathcal{T}_l`. The nodes whose state before round :math:`l` can
    reach the target are

    .. math::
        R_L = \{\text{target}\}, \qquad
        R_l = R_{l+1} \cup \{u : (u \to v) \in \mathcal{T}_l,\ v \in R_{l+1}\},

    and the messages that can reach it are those of round :math:`l` into
    :math:`R_{l+1}` (``message_edges``). A segment holds every edge of
    :math:`\mathcal{T}_l` with an endpoint in :math:`R_l`, for every
    :math:`l`, so that the in- and out-degrees (and every attention
    normaliser) of the nodes that matter are those of the whole graph, and
    the endpoints of those edges with their own features. Everything outside
    a node's messages is taken to act on the node alone (verified by the adapter).

    Args:
        layout (TypedLayout): The graph.
        layer_types (Sequence[set[EdgeType]]): The edge types of each round, in order (each call
            a round of its own is always safe).
        targets (Tensor): Flat node ids of the targets, ``(T,)``; segment ``t`` is ``targets[t]``'s.

    Returns:
        Segments: with flat node ids (``nodes``) and mask positions (``edge_ids``).
    """
    n, m = max(1, layout.num_nodes), max(1, layout.src.numel())
    neighbourhoods = Neighbourhoods(layout.src, layout.dst, layout.num_nodes)
    segment = torch.arange(targets.numel(), device=targets.device)
    reached = torch.unique(segment * n + targets)
    message_keys, edge_keys = [reached[:0]], [reached[:0]]
    types = list(layout.edge_counts)
    for kinds in reversed(list(layer_types)):
        allowed = torch.tensor([t in kinds for t in types] or [False], device=targets.device)[layout.edge_type]
        into, edge = _allowed(neighbourhoods.in_edges(reached), allowed)
        message_keys.append(into * m + edge)
        reached = torch.unique(torch.cat([reached, into * n + layout.src[edge]]))
        for incident in (neighbourhoods.in_edges(reached), neighbourhoods.out_edges(reached)):
            owner, edge = _allowed(incident, allowed)
            edge_keys.append(owner * m + edge)
    keys = torch.unique(torch.cat(edge_keys + message_keys))
    edge_segment, edge_ids = keys // m, keys % m
    src_keys, dst_keys = edge_segment * n + layout.src[edge_ids], edge_segment * n + layout.dst[edge_ids]
    node_keys = torch.unique(torch.cat([reached, src_keys, dst_keys]))
    return Segments(
        node_keys // n,
        node_keys % n,
        edge_segment,
        edge_ids,
        torch.searchsorted(node_keys, src_keys),
        torch.searchsorted(node_keys, dst_keys),
        torch.searchsorted(keys, torch.unique(torch.cat(message_keys))),
        torch.searchsorted(node_keys, segment * n + targets),
    )


def _allowed(incident: Tuple[Tensor, Tensor], allowed: Tensor) -> Tuple[Tensor, Tensor]:
    owner, edge = incident
    kept = allowed[edge]
    return owner[kept], edge[kept]


@dataclass
class Parts:
    r"""One forward pass of a heterogeneous model: its nodes and edges per type, and where their weights are.

    The pass is the disjoint union of its components (a copy of one target's
    segment each), numbered per node type and per edge type one component
    after another.

    Attributes:
        nodes (dict[str, Tensor]): The user's node id of each node of the pass, per node type.
        edges (dict[EdgeType, Tensor]): The user's edge id (within its type) of each edge, per edge type.
        src, dst (dict[EdgeType, Tensor]): Each edge's endpoints, positions in ``nodes`` of their types.
        positions (dict[EdgeType, Tensor]): The flat position of each edge's weight in the
            pass's masks, ``(copies, E_unit)`` read row after row.
        rows (Tensor): The output row (among the nodes of the target type) of each
            component's target, copy after copy, ``(copies * T_unit,)``.
        row_type (str, optional): The node type of the output rows; ``None`` for
            a whole input whose output rows are not nodes of one type.
        whole (bool): The user's own nodes, numbered as given: one copy of the whole input.
        all_edges (bool): Every edge of the user's graph (no edge deleted), in order.
    """

    nodes: Dict[str, Tensor]
    edges: Dict[EdgeType, Tensor]
    src: Dict[EdgeType, Tensor]
    dst: Dict[EdgeType, Tensor]
    positions: Dict[EdgeType, Tensor]
    rows: Tensor
    row_type: Optional[str]
    whole: bool = False
    all_edges: bool = False

    @property
    def row_count(self) -> Optional[int]:
        r"""The output rows a pass over these parts has: the nodes of ``row_type``; ``None`` if not known."""
        return None if self.whole or self.row_type is None else int(self.nodes[self.row_type].numel())

    def without(self, keep: Tensor) -> "Parts":
        r"""The same pass with the edges whose entry of ``keep`` (flat, like ``positions``) is ``False`` deleted."""
        kept = {t: keep[p] for t, p in self.positions.items()}
        return replace(
            self,
            edges={t: e[kept[t]] for t, e in self.edges.items()},
            src={t: s[kept[t]] for t, s in self.src.items()},
            dst={t: d[kept[t]] for t, d in self.dst.items()},
            positions={t: p[kept[t]] for t, p in self.positions.items()},
            all_edges=False,
        )


def whole_parts(layout: TypedLayout, rows: Tensor, row_type: Optional[str]) -> Parts:
    r"""One pass over the user's whole graph as it is, with output ``rows`` of ``row_type``."""
    device = layout.src.device
    src = {t: layout.src[_span(layout, t)] - layout.node_offsets[t[0]] for t in layout.edge_counts}
    dst = {t: layout.dst[_span(layout, t)] - layout.node_offsets[t[2]] for t in layout.edge_counts}
    return Parts(
        nodes={n: torch.arange(c, device=device) for n, c in layout.node_counts.items()},
        edges={t: torch.arange(c, device=device) for t, c in layout.edge_counts.items()},
        src=src,
        dst=dst,
        positions={t: torch.arange(layout.edge_offsets[t], layout.edge_offsets[t] + c, device=device) for t, c in layout.edge_counts.items()},
        rows=rows,
        row_type=row_type,
        whole=True,
        all_edges=True,
    )


def _span(layout: TypedLayout, edge_type: EdgeType) -> slice:
    start = layout.edge_offsets[edge_type]
    return slice(start, start + layout.edge_counts[edge_type])


def parts_of(layout: TypedLayout, segments: Segments, copies: int, row_type: str) -> Parts:
    r"""The pass over ``copies`` copies of ``segments`` (flat ids, as :func:`typed_computation_subgraphs` gives them).

    Component order is copy after copy, and segment after segment within a
    copy; nodes and edges keep that order within their type.
    """
    device = segments.nodes.device
    num_nodes, num_edges = segments.nodes.numel(), segments.edge_ids.numel()
    nodes = segments.nodes.repeat(copies)
    node_types = list(layout.node_counts)
    node_starts = torch.tensor(list(layout.node_offsets.values()), device=device)
    kind = torch.searchsorted(node_starts, nodes, right=True) - 1
    local, by_kind = _per_kind(kind, len(node_types))
    edge_ids = segments.edge_ids.repeat(copies)
    src = local[segments.src.repeat(copies) + copy_offsets(copies, num_edges, num_nodes, device)]
    dst = local[segments.dst.repeat(copies) + copy_offsets(copies, num_edges, num_nodes, device)]
    edge_types = list(layout.edge_counts)
    _, edges_by_kind = _per_kind(layout.edge_type[edge_ids], len(edge_types))
    root = segments.roots.view(1, -1) + torch.arange(copies, device=device).view(-1, 1) * num_nodes
    return Parts(
        nodes={nt: nodes[chosen] - layout.node_offsets[nt] for nt, chosen in zip(node_types, by_kind)},
        edges={t: edge_ids[chosen] - layout.edge_offsets[t] for t, chosen in zip(edge_types, edges_by_kind)},
        src={t: src[chosen] for t, chosen in zip(edge_types, edges_by_kind)},
        dst={t: dst[chosen] for t, chosen in zip(edge_types, edges_by_kind)},
        positions=dict(zip(edge_types, edges_by_kind)),
        rows=local[root.view(-1)],
        row_type=row_type,
    )


def _per_kind(kind: Tensor, count: int) -> Tuple[Tensor, List[Tensor]]:
    """Each element's rank among those of its kind (in order), and the elements of each kind, in order."""
    order = torch.argsort(kind, stable=True)
    sizes = torch.bincount(kind, minlength=count)
    starts = torch.cumsum(sizes, 0) - sizes
    local = torch.empty_like(kind)
    local[order] = torch.arange(kind.numel(), device=kind.device) - starts[kind[order]]
    return local, list(order.split(sizes.tolist()))


def cut_typed(value: Any, parts: Parts, layout: TypedLayout) -> Any:
    r"""``value`` on the nodes and edges of ``parts``, where it holds rows per node or edge of one type.

    A dict keyed by node type (``x_dict``) or by edge type (``edge_attr_dict``;
    for DGL also by relation name, ``mod_kwargs``) has the rows of its tensors
    (also inside nested dicts, tuples and lists) of that type's size indexed
    by the pass's ids; a tensor with one row per node of a graph of one node
    type likewise. Anything else is passed as it is.
    """
    if isinstance(value, Tensor) and len(layout.node_counts) == 1:
        (node_type, count), = layout.node_counts.items()
        return value if parts.whole else _rows(value, parts.nodes[node_type], count)
    if not isinstance(value, dict):
        return value
    cut = {}
    for key, item in value.items():
        edge_type = layout.edge_type_named(key)
        if edge_type is not None and not (parts.whole and parts.all_edges):
            item = _rows(item, parts.edges[edge_type], layout.edge_counts[edge_type])
        elif edge_type is None and key in layout.node_counts and not parts.whole:
            item = _rows(item, parts.nodes[key], layout.node_counts[key])
        cut[key] = item
    return cut


def snapshot_objects(named: Iterable[Tuple[str, Any]]) -> List[Tuple[Any, tuple]]:
    r"""The objects a verification record of these inputs depends on: every tensor inside them (in dicts,
    tuples and lists) with its name and :func:`~edgeattr.adapters.base.fingerprint.tensor_state`, and each
    other value as it is (plain values match by equality, other objects by identity)."""
    objects: List[Tuple[Any, tuple]] = []
    for name, value in named:
        if isinstance(value, Tensor):
            objects.append((value, (name,) + tensor_state(value)))
        elif isinstance(value, dict):
            objects += snapshot_objects((f"{name}[{key!r}]", item) for key, item in value.items())
        elif isinstance(value, (tuple, list)):
            objects += snapshot_objects((f"{name}[{i}]", item) for i, item in enumerate(value))
        else:
            objects.append((value, (name,)))
    return objects


def _rows(value: Any, ids: Tensor, count: int) -> Any:
    if isinstance(value, Tensor) and value.dim() and value.size(0) == count:
        return value[ids]
    if isinstance(value, dict):
        return {k: _rows(v, ids, count) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_rows(v, ids, count) for v in value)
    return value


class _Invocations(Handler):
    r"""Follows, while a pass runs, which forward of a module that makes message-passing calls is running, and its tensor inputs.

    Args:
        modules (set[int]): ``id`` of each module that makes calls (:attr:`Layer.module`).
    """

    def __init__(self, modules: Set[int]) -> None:
        self.modules = modules
        #: The running forwards, innermost last: ``(invocation number, tensors among its arguments)``.
        self.running: List[Tuple[int, List[Tensor]]] = []
        self._count = 0

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if id(module) in self.modules:
            self._count += 1
            self.running.append((self._count, list(_tensors_in((args, kwargs)))))

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if id(module) in self.modules:
            self.running.pop()


def _tensors_in(value: Any) -> Iterable[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)


class _SeparateWeights(MessageWeights):
    r"""Message weights in which every call's weights are a leaf of their own (at the mask's values), for :func:`call_rounds`.

    Args:
        mask (Tensor): The mask of the pass.
        num_layers (int): The calls a pass makes.
        invocations (_Invocations): What tells which module forward each call is made in.
        rows (list[int]): Each call's row of a layerwise mask.
    """

    def __init__(self, mask: Tensor, num_layers: int, invocations: _Invocations, rows: List[int]) -> None:
        none = torch.zeros(0, dtype=torch.long, device=mask.device)
        super().__init__(mask, num_layers, none, none, rows=rows)
        self.invocations = invocations
        self._leaves: Dict[int, Tensor] = {}
        self._contexts: Dict[int, Tuple[Optional[int], List[Tensor]]] = {}

    @property
    def leaves(self) -> List[Tensor]:
        r"""Each call's leaf, in call order."""
        return [self._leaves[call] for call in sorted(self._leaves)]

    @property
    def contexts(self) -> List[Tuple[Optional[int], List[Tensor]]]:
        r"""Each call's module forward (``None``: made outside any) and the tensors that forward was given, in call order."""
        return [self._contexts[call] for call in sorted(self._contexts)]

    def weights_at(self, layer: int, positions: Any) -> Tensor:
        weights = super().weights_at(layer, positions).detach()
        if layer not in self._leaves:
            self._leaves[layer] = weights.new_ones(1).requires_grad_(True)
            self._contexts[layer] = self.invocations.running[-1] if self.invocations.running else (None, [])
        return weights * self._leaves[layer]


def call_rounds(leaves: Sequence[Tensor], contexts: Sequence[Tuple[Optional[int], List[Tensor]]]) -> List[List[int]]:
    r"""The message-passing calls grouped into rounds: a call is one round after the latest call it depends on.

    Call :math:`l` depends on call :math:`l' < l` if the tensors its module's
    forward was given are computed from :math:`l'`'s weight leaf (followed
    through autograd's graph, whatever the values), or if both are made in
    the same forward of one module, or if :math:`l` is made outside any
    module's forward (taken to depend on every call before it). Calls of one
    round read nothing of each other, so that a node's output can depend on
    nodes at most one hop per round away.

    Args:
        leaves (Sequence[Tensor]): Each call's weight leaf.
        contexts (Sequence): Each call's module forward and the tensors it was given (see :class:`_SeparateWeights`).

    Returns:
        The calls of each round, in order.
    """
    index = {id(leaf): call for call, leaf in enumerate(leaves)}
    reached: Dict[Any, frozenset] = {}

    def leaves_of(node: Any) -> frozenset:
        """The calls whose leaves ``node`` of autograd's graph is computed from (iteratively, with a memo)."""
        stack = [node]
        while stack:
            top = stack[-1]
            if top in reached:
                stack.pop()
                continue
            children = [child for child, _ in top.next_functions if child is not None]
            pending = [child for child in children if child not in reached]
            if pending:
                stack.extend(pending)
                continue
            own = index.get(id(getattr(top, "variable", None)))
            found = frozenset().union(*(reached[child] for child in children))
            reached[top] = found | {own} if own is not None else found
            stack.pop()
        return reached[node]

    depth: List[int] = []
    for call, (invocation, inputs) in enumerate(contexts):
        before = {c for c in range(call) if invocation is None or contexts[c][0] == invocation}
        for tensor in inputs:
            if tensor.grad_fn is not None:
                before |= leaves_of(tensor.grad_fn)
        depth.append(1 + max((depth[c] for c in before if c < call), default=-1))
    rounds: List[List[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for call, d in enumerate(depth):
        rounds[d].append(call)
    return rounds


class _Unit:
    """Consecutive targets run together, with their columns (``edge_range``) and a cache of their pass per copies.

    Their segments are selected only when a pass is made of them (a unit on the whole graph needs none).
    """

    def __init__(self, segments: Segments, first: int, last: int, parts: Callable[[Segments, int], Parts], node_size: int = 1, edge_size: int = 1) -> None:
        self.edge_range = segments.edge_range(first, last)
        self.num_targets = last - first
        self._all, self._first, self._last = segments, first, last
        self._sizes = (node_size, edge_size)
        self._make = parts
        self._cache: Optional[Tuple[int, Parts]] = None

    @functools.cached_property
    def segments(self) -> Segments:
        return self._all.select(self._first, self._last)

    @functools.cached_property
    def size(self) -> int:
        """Input values of one copy (nodes and edges, each counting its features' values)."""
        return self.segments.nodes.numel() * self._sizes[0] + self.segments.edge_ids.numel() * self._sizes[1]

    def parts(self, copies: int) -> Parts:
        if self._cache is None or self._cache[0] != copies:
            self._cache = (copies, self._make(self.segments, copies))
        return self._cache[1]


class HeteroAdapter(EdgeMaskAdapter):
    r"""An adapter whose mask holds the edges of every edge type, type after type.

    Entries ``offset_t .. offset_t + E_t - 1`` of a mask are the edges of type
    ``t`` in their own order (:meth:`split` and :meth:`join` convert). With
    ``index`` a 1-D tensor of ``T`` node ids there are ``T`` targets: masks
    have ``T`` rows (``ones()`` is ``(T, E)``), row ``r`` of a batch applying
    to target ``r % T``. Targets run on their computation subgraph over every
    edge type, many masks as disjoint copies in one pass, where both are
    verified against the model's own output (see :mod:`~edgeattr.adapters.base.hetero`);
    otherwise (``verify=False``, ``restrict=False``, an output that is not one
    row per node of one type, a graph the model reads itself) on the whole
    graph, one mask per pass (:attr:`exact_path`).

    A framework adapter provides :meth:`_node_counts`, :meth:`_typed_edges`,
    :meth:`_run_parts`, :meth:`_own_call` and :meth:`_snapshot_objects`,
    and calls :meth:`_set_edge_types`, :meth:`_set_index` and then, once its
    layers are discovered, :meth:`_bind`.
    """

    #: The edge types, in mask order.
    edge_types: List[EdgeType]
    #: Whether every target runs alone on the user's whole graph, one mask per pass.
    exact_path: bool = True
    #: The name of the keyword that names the node type of the output rows (for messages).
    _type_keyword = "node_type"
    #: What the graphs are called in messages.
    _graphs = "heterogeneous graphs"
    #: Whether a tensor output with one row per node of exactly one node type is taken as that type's rows.
    _infers_row_type = False

    def _set_edge_types(self, counts: Mapping[EdgeType, int], device: torch.device) -> None:
        r"""Lays the edge types out in the mask: ``counts`` maps each type to its number of edges."""
        self.edge_types = list(counts)
        sizes = [counts[t] for t in self.edge_types]
        self._offsets = dict(zip(self.edge_types, _starts(sizes)))
        self._counts = dict(zip(self.edge_types, sizes))
        self.num_edges = sum(sizes)
        self.edge_ids = torch.arange(self.num_edges, device=device)
        self.message_edges = self.edge_ids
        self._layout = TypedLayout.of(self._node_counts(), self._typed_edges(), device)
        self.num_nodes = self._layout.num_nodes

    def split(self, values: Tensor) -> Dict[EdgeType, Tensor]:
        r"""Keys the last dimension of ``values`` ``(..., E)`` by edge type: ``{edge type: (..., E_t)}``."""
        return {t: values[..., self._offsets[t] : self._offsets[t] + self._counts[t]] for t in self.edge_types}

    def join(self, values: Mapping[EdgeType, Tensor]) -> Tensor:
        r"""The inverse of :meth:`split`: one tensor ``(..., E)`` from per-type tensors ``(..., E_t)``."""
        missing = set(self.edge_types) - set(values)
        if missing:
            raise ValueError(f"values are missing edge types {sorted(missing, key=str)}")
        return torch.cat([values[t] for t in self.edge_types], -1)

    # -- what a framework adapter provides ---------------------------------------------------

    @abstractmethod
    def _node_counts(self) -> Dict[str, int]:
        r"""The nodes of each node type of the user's graph, in order."""

    @abstractmethod
    def _typed_edges(self) -> Dict[EdgeType, Tuple[Tensor, Tensor]]:
        r"""``(src ids, dst ids)`` of each edge type, in mask order."""

    @abstractmethod
    def _run_parts(self, parts: Parts, session: CallCounter, observer: Optional[Handler] = None) -> Any:
        r"""Runs the model once on ``parts`` (the user's own inputs where ``parts.whole``) with ``session``; its raw output.

        Every message of a call along edges of type ``t`` gets
        ``session.weights_at(layer, positions)`` with ``positions`` read off
        ``parts.positions[t]``, and calls :meth:`_note_types`. ``observer``,
        if given, sees the model's hooks too (after the weighting's).
        """

    @abstractmethod
    def _own_call(self) -> Any:
        r"""The model's own call on the user's inputs, unweighted; its raw output."""

    @abstractmethod
    def _snapshot_objects(self) -> Iterable[Tuple[Any, tuple]]:
        r"""The user's inputs and their states, for :class:`~edgeattr.adapters.base.fingerprint.Snapshot`."""

    def _row_key(self) -> Optional[str]:
        r"""The node type named for the output rows (``node_type`` / ``ntype``), if any."""
        return None

    def _can_cut(self) -> bool:
        r"""Whether the graph can be rebuilt for a pass (not one the model reads itself)."""
        return True

    # -- targets -----------------------------------------------------------------------------

    def _set_index(self, index: Union[None, int, Tensor]) -> None:
        r"""Checks ``index`` and sets :attr:`index` (as given: ``None``, an int, or a 1-D tensor of ids) and the targets."""
        many = isinstance(index, Tensor) and index.dim() == 1
        if isinstance(index, Tensor):
            if index.is_floating_point() or index.dtype == torch.bool or index.dim() > 1 or (many and index.numel() == 0):
                raise ValueError(
                    f"index must be an integer id or a 1-D tensor of ids, got a {index.dtype} tensor of shape {tuple(index.shape)}"
                )
            ids = index.to(self.device, torch.long).view(-1)
        elif index is None:
            ids = torch.zeros(1, dtype=torch.long, device=self.device)
        elif isinstance(index, numbers.Integral) and not isinstance(index, bool):
            ids = torch.tensor([int(index)], device=self.device)
        else:
            raise TypeError(f"index must be an integer node id or a 1-D tensor of ids, got {index!r}")
        #: The explained output row(s), as given.
        self.index: Union[None, int, Tensor] = ids if many else (None if index is None else int(ids[0]))
        #: Each target's output row, ``(T,)``.
        self.targets = ids
        self.num_targets = ids.numel()

    @property
    def edge_segment(self) -> Tensor:
        return self.segments.edge_segment

    @property
    def copies_per_pass(self) -> int:
        r"""How many masks run together in one forward pass (the fewest of any group of targets)."""
        return min(self._copies_for(unit) for unit in self._units)

    def _copies_for(self, unit: _Unit) -> int:
        if self.exact_path:
            return 1
        if self._copies_per_pass is not None:
            return self._copies_per_pass
        return max(1, DEFAULT_ELEMENTS_PER_PASS // max(1, unit.size))

    # -- binding and verification ------------------------------------------------------------

    def _bind(self, *, verify: bool, restrict: bool, copies_per_pass: Optional[int]) -> None:
        r"""Runs the targets on the whole graph, or on their computation subgraphs and in copies where verified.

        Raises:
            IndexError: for a target outside the model's output.
            ValueError: for a single output column without a mode.
            VerificationError: if the model's output is not reproduced even on the whole graph.
        """
        self._copies_per_pass = checked_count("copies_per_pass", copies_per_pass)
        self._layer_types: List[Set[EdgeType]] = [set() for _ in self.layers]
        self.exact_path = True
        self._row_type: Optional[str] = None
        #: The message-passing rounds, the calls of each (see :func:`call_rounds`); one call each until probed.
        self.rounds: List[List[int]] = [[call] for call in range(len(self.layers))]
        if not verify or not self._shortcuts(restrict):
            self._bind_segments(self._whole_segments())

    def _shortcuts(self, restrict: bool) -> bool:
        r"""Verifies the whole graph, then the computation subgraphs and copies, and binds those where they hold (``True``)."""
        objects = [(self._row_key(), ("row key",)), *self._snapshot_objects()]  # the explained tensor depends on the key
        record = record_for(self.model, Snapshot(self.model, objects), self._own_output)
        self._row_type = self._row_type_of(record.output)
        rows = self._rows(record.output, whole_parts(self._layout, self.targets, self._row_type))
        resolve_mode(self.mode, rows[0].numel())
        shortcut = restrict and self._can_cut() and self._row_type is not None
        gap, rounds = self._whole_gap(rows, probe=shortcut)
        if gap is not None:
            raise VerificationError(not_reproduced(gap))
        if not shortcut or self._row_type is None:
            return False
        self.rounds = rounds
        flat = self.targets + self._layout.node_offsets[self._row_type]
        self.exact_path = False
        round_types = [set().union(*(self._layer_types[layer] for layer in calls)) for calls in rounds]
        self._bind_segments(typed_computation_subgraphs(self._layout, round_types, flat))
        problem, fresh = self._verdict(record, ("typed alone", self._row_type), lambda: self._alone_problem(rows))
        if problem is None and any(self._copies_for(unit) > 1 or unit.num_targets > 1 for unit in self._units):
            problem, fresh = self._verdict(record, ("typed together", self._row_type), lambda: self._together_problem(rows))
        if problem is None:
            return True
        self.exact_path = True
        if fresh:
            warn_at_caller(f"{problem}; explaining every target alone on the full input instead (exact, slower)")
        return False

    def _whole_segments(self) -> Segments:
        return whole_inputs(self._layout.src, self._layout.dst, self._layout.num_nodes, self.targets)

    def _bind_segments(self, segments: Segments) -> None:
        r"""Makes ``segments`` what runs: one unit per target on the whole graph, else units of about one pass each."""
        #: Each target's part of the graph, as segments of the union that runs (flat node ids, mask positions).
        self.segments = segments
        self.edge_ids = segments.edge_ids
        self.message_edges = segments.message_edges
        if self.exact_path:
            self._units = [_Unit(segments, t, t + 1, self._whole_of(t)) for t in range(self.num_targets)]
            return
        node_size, edge_size = self._element_sizes()
        row_type = self._row_type
        assert row_type is not None
        make = functools.partial(parts_of, self._layout, row_type=row_type)
        self._units = [
            _Unit(segments, first, last, make, node_size, edge_size)
            for first, last in segments.bounds(DEFAULT_ELEMENTS_PER_PASS, node_size, edge_size)
        ]

    def _whole_of(self, target: int) -> Callable[[Segments, int], Parts]:
        def make(segments: Segments, copies: int) -> Parts:
            return whole_parts(self._layout, self.targets[target : target + 1], self._row_type)

        return make

    def _element_sizes(self) -> Tuple[int, int]:
        r"""Input values per node and per edge (the widest features, at least 1), which bound a pass's memory."""
        return 1, 1

    @staticmethod
    def _verdict(record: Record, check: tuple, run: Callable[[], Optional[str]]) -> Tuple[Optional[str], bool]:
        if check in record.verdicts:
            return record.verdicts[check], False
        record.verdicts[check] = run()
        return record.verdicts[check], True

    def _own_output(self) -> Tensor:
        r"""The explained tensor of the model's own output on the user's full input (eval mode, no grad), detached."""
        with torch.no_grad(), prepared(self.model):
            return self._explained(self._own_call()).detach()

    def _row_type_of(self, own: Tensor) -> Optional[str]:
        r"""The node type whose nodes are the rows of the explained output, if it is known."""
        key = self._row_key()
        if key is not None and key in self._layout.node_counts and own.size(0) == self._layout.node_counts[key]:
            return key
        if self._infers_row_type and key is None and self.index is not None:
            fitting = [n for n, c in self._layout.node_counts.items() if c == own.size(0)]
            return fitting[0] if len(fitting) == 1 else None
        return None

    def _whole_gap(self, rows: Tensor, probe: bool) -> Tuple[Optional[float], List[List[int]]]:
        r"""How far one weighted pass on the whole graph at mask 1 is from the model's own rows, and the calls' rounds.

        The pass records each call's edge types; with ``probe`` it also runs
        with autograd and gives every call a weight leaf of its own, to find
        which calls feed which (:func:`call_rounds`). Without, each call is a
        round of its own.
        """
        parts = whole_parts(self._layout, self.targets, self._row_type)
        shape = (1, self.num_layers, self.num_edges) if self.layerwise else (1, self.num_edges)
        ones = torch.ones(shape, dtype=self.dtype, device=self.device)
        if not probe:
            with torch.no_grad():
                out = self._pass(parts, ones, None)
            return difference(out, rows), [[call] for call in range(len(self.layers))]
        observer = _Invocations({id(layer.module) for layer in self.layers})
        session = _SeparateWeights(ones, len(self.layers), observer, [layer.row for layer in self.layers])
        with torch.enable_grad():
            out = self._rows(self._explained(self._run_parts(parts, session, observer)), parts)
        session.finish()
        if len(session.leaves) != len(self.layers):  # a call weighted without its leaf: each call a round of its own
            return difference(out.detach(), rows), [[call] for call in range(len(self.layers))]
        return difference(out.detach(), rows), call_rounds(session.leaves, session.contexts)

    def _alone_problem(self, rows: Tensor) -> Optional[str]:
        r"""Why every target's computation subgraph, at mask 1, gives other rows than the model's own, if it does.

        Any error on a subgraph, also a layer whose messages fit no form there (e.g. a node type left without
        nodes), sends the adapter to the whole graph, where the verification already passed.
        """
        shape = (1, self.num_layers, self.edge_ids.numel()) if self.layerwise else (1, self.edge_ids.numel())
        ones = torch.ones(shape, dtype=self.dtype, device=self.device)
        return shortcut_problem(lambda: self._batched(ones, keep=False), rows, "each target's computation subgraph")

    def _together_problem(self, rows: Tensor) -> Optional[str]:
        r"""Why masks and targets run together in one pass differ from each run alone, if they do.

        The first unit runs the all-ones mask and a seeded random one as two
        copies; the random mask of its first target is then run on that
        target's subgraph alone.
        """
        unit = self._units[0]
        copies = min(2, self._copies_for(unit))
        width = unit.edge_range.stop - unit.edge_range.start
        random = torch.rand(
            (self.num_layers, width) if self.layerwise else (width,), generator=torch.Generator().manual_seed(0), dtype=torch.float64
        ).to(self.device, self.dtype)
        masks = torch.stack([torch.ones_like(random), random]) if copies == 2 else random[None]
        alone = _Unit(self.segments, 0, 1, unit._make)
        try:
            with torch.no_grad():
                together = self._run_unit(unit, copies, masks, None)
                single = self._run_unit(alone, 1, random[..., : alone.edge_range.stop][None], None)
        except InputModifiedError:
            raise
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            return f"copies of the graph cannot run together in one pass ({type(error).__name__}: {first_line})"
        first_random = (copies - 1) * unit.num_targets
        gap = difference(together[first_random : first_random + 1], single)
        if gap is None and copies == 2:
            gap = difference(together[: unit.num_targets], rows[: unit.num_targets])
        if gap is None:
            return None
        return f"copies of the graph run together in one pass see each other: their outputs differ from those of one copy by {gap:.3g}"

    # -- running the model -------------------------------------------------------------------

    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        rounds, outputs = sub_mask.size(0), []
        for unit in self._units:
            out = run_in_passes(sub_mask[..., unit.edge_range], self._copies_for(unit), keep, functools.partial(self._run_unit, unit))
            outputs.append(out.view((rounds, unit.num_targets) + out.shape[1:]))
        out = torch.cat(outputs, 1) if len(outputs) > 1 else outputs[0]
        return out.reshape((rounds * self.num_targets,) + out.shape[2:])

    def _run_unit(self, unit: _Unit, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        r"""The explained rows of ``copies`` copies of ``unit``, ``(copies * T_unit, *out)``."""
        return self._pass(unit.parts(copies), weights, keep)

    def _pass(self, parts: Parts, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        r"""One forward pass over ``parts`` with message ``weights``, or with the edges ``keep`` drops deleted."""
        session: CallCounter
        if keep is not None:
            self._check_removal()
            parts = parts.without(keep.reshape(-1))
            session = CallCounter(len(self.layers))
        else:
            assert weights is not None
            none = torch.zeros(0, dtype=torch.long, device=self.device)
            session = MessageWeights(weights, len(self.layers), none, none, rows=[layer.row for layer in self.layers])
        out = self._rows(self._explained(self._run_parts(parts, session)), parts)
        session.finish()
        return out

    def _check_removal(self) -> None:
        r"""Raises an error naming the fix where edges cannot be deleted (per layer)."""
        if self.layerwise:
            raise ValueError(f"mode='remove' per layer is not supported on {self._graphs}; use mode='message'")

    def _note_types(self, call: int, edge_types: Iterable[EdgeType]) -> None:
        r"""Records that call ``call`` passes messages along ``edge_types`` (which sets the computation subgraphs)."""
        if call < len(getattr(self, "_layer_types", ())):
            self._layer_types[call].update(edge_types)

    def _set_layers(self, layers: List[Layer]) -> None:
        r"""The discovered message-passing calls; a layerwise mask has a row per :attr:`Layer.row`."""
        self.layers = layers
        self.num_layers = layers[-1].row + 1

    def _explained(self, out: Any) -> Tensor:
        r"""The explained tensor of a raw output: the entry of the named node type for a dict of outputs."""
        if isinstance(out, dict):
            key = self._row_key()
            if key not in out:
                raise ValueError(f"the model returns outputs per node type {sorted(out)}: pass {self._type_keyword}= and index=")
            out = out[key]
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor or a dict of Tensors, got {type(out).__name__}")
        return out

    def _rows(self, out: Tensor, parts: Parts) -> Tensor:
        r"""The rows of ``out`` that ``parts`` explains, ``(len(parts.rows), *out)``.

        Raises:
            ValueError: for several rows and no ``index``, or a pass whose
                output is not one row per node of the target type.
            IndexError: for a target outside the output.
        """
        expected = parts.row_count
        if expected is not None and (out.dim() == 0 or out.size(0) != expected):
            raise ValueError(f"the model returned {tuple(out.shape)} on a pass with {expected} nodes of type {parts.row_type!r}")
        if self.index is None:
            if out.dim() == 0 or out.size(0) != 1:
                raise ValueError(f"the model returned {out.size(0) if out.dim() else 0} rows: pass index= for the one to explain")
            return out[:1]
        if expected is None:
            outside = parts.rows[(parts.rows < 0) | (parts.rows >= out.size(0))]
            if outside.numel():
                raise IndexError(f"index {int(outside[0])} is out of range for an output of {out.size(0)} rows")
        return out[parts.rows]


r"""Graphs with several edge types: their layout, computation subgraphs over all types, and the parts a pass runs on.

A :class:`TypedLayout` numbers the nodes of every node type and the edges of
every edge type one block after another, so that the machinery of one graph
(:class:`~edgeattr.adapters.base.subgraph.Neighbourhoods`, :class:`Segments`)
serves them; :func:`typed_computation_subgraphs` grows each target's subgraph
round by round along each round's edge types; :class:`Parts` is what one pass
runs on (:func:`whole_parts`, :func:`parts_of`), and :func:`cut_typed` cuts the
model's other arguments to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import copy_offsets
from edgeattr.adapters.base.subgraph import Neighbourhoods, Segments, keyed_segments

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
        node_offsets = dict(zip(node_counts, starts_of(list(node_counts.values()))))
        edge_counts = {t: int(src.numel()) for t, (src, _) in edges.items()}
        edge_offsets = dict(zip(edge_counts, starts_of(list(edge_counts.values()))))
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


def starts_of(sizes: List[int]) -> List[int]:
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
    message_edges = torch.searchsorted(keys, torch.unique(torch.cat(message_keys)))
    return keyed_segments(node_keys, n, edge_segment, edge_ids, src_keys, dst_keys, message_edges, torch.searchsorted(node_keys, segment * n + targets))


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


def _rows(value: Any, ids: Tensor, count: int) -> Any:
    if isinstance(value, Tensor) and value.dim() and value.size(0) == count:
        return value[ids]
    if isinstance(value, dict):
        return {k: _rows(v, ids, count) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_rows(v, ids, count) for v in value)
    return value

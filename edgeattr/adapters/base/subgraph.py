r"""Computation subgraphs of many targets at once, as segments of one disjoint union."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.memo import remembered
from edgeattr.deprecation import renamed

#: Entries (target x node) of the tables one group of targets' computation subgraphs are found with:
#: two bytes and a long integer each, so that a group's tables take at most 80 MiB.
KEYS_PER_GROUP = 1 << 23


@dataclass
class Segments:
    r"""The disjoint union of one subgraph per target, in target order.

    Segment :math:`t` holds the nodes and edges target :math:`t` depends on;
    a node or edge in several targets' subgraphs appears once per segment.

    Attributes:
        node_segment (Tensor): Segment of each node of the union, ``(N_u,)``, sorted.
        nodes (Tensor): Its node id in the user's graph, ``(N_u,)``.
        edge_segment (Tensor): Segment of each edge of the union, ``(E_sub,)``, sorted.
        edge_ids (Tensor): Its edge id in the user's graph, ``(E_sub,)``.
        src, dst (Tensor): Its endpoints as positions in ``nodes``, ``(E_sub,)``.
        message_edges (Tensor): Positions in ``edge_ids`` of the edges whose messages
            can reach their segment's target, sorted.
        roots (Tensor): The output row of each target within the union,
            ``(T,)``: its position in ``nodes`` (node targets), or for graph
            and pair targets (``graph_level``) its row of the output, one row
            per graph or pair: ``segment * graphs_per_segment + graph``.
        graph_level (bool): Whether the output has rows per segment rather than per
            node (graphs, pooled per segment; node pairs, scored per segment).
        graphs_per_segment (int): Output rows of each segment: its graphs, pooled
            separately (1 for a target's own graph; all of them for the whole
            input), or its pairs.
        pairs (Tensor, optional): For pair targets (link prediction), the
            positions in ``nodes`` of each segment's pair, ``(2, T)``.
    """

    node_segment: Tensor
    nodes: Tensor
    edge_segment: Tensor
    edge_ids: Tensor
    src: Tensor
    dst: Tensor
    message_edges: Tensor
    roots: Tensor
    graph_level: bool = False
    graphs_per_segment: int = 1
    pairs: Optional[Tensor] = None

    edges = renamed("edges", "edge_ids")
    carriers = renamed("carriers", "message_edges")

    @property
    def num_segments(self) -> int:
        return self.roots.numel()

    def edge_range(self, first: int, last: int) -> slice:
        r"""The positions in ``edge_ids`` of segments ``first .. last - 1``."""
        return _range(self.edge_segment, first, last)

    def node_range(self, first: int, last: int) -> slice:
        r"""The positions in ``nodes`` of segments ``first .. last - 1``."""
        return _range(self.node_segment, first, last)

    def bounds(self, budget: int, node_size: int = 1, edge_size: int = 1) -> List[Tuple[int, int]]:
        r"""Consecutive groups ``(first, last)`` of segments of about ``budget`` elements each,
        a node counting ``node_size`` and an edge ``edge_size``."""
        total = self.num_segments
        sizes = torch.bincount(self.node_segment, minlength=total) * node_size + torch.bincount(self.edge_segment, minlength=total) * edge_size
        start = torch.cumsum(sizes, 0) - sizes
        _, counts = torch.unique_consecutive(torch.div(start, budget, rounding_mode="floor"), return_counts=True)
        ends = torch.cumsum(counts, 0).tolist()
        return list(zip([0] + ends[:-1], ends))

    def select(self, first: int, last: int) -> "Segments":
        r"""Segments ``first .. last - 1`` as a union of their own (renumbered from 0)."""
        node_range = self.node_range(first, last)
        edge_range = self.edge_range(first, last)
        node_offset = node_range.start
        message_edges = self.message_edges[_range(self.message_edges, edge_range.start, edge_range.stop)]
        return Segments(
            self.node_segment[node_range] - first,
            self.nodes[node_range],
            self.edge_segment[edge_range] - first,
            self.edge_ids[edge_range],
            self.src[edge_range] - node_offset,
            self.dst[edge_range] - node_offset,
            message_edges - edge_range.start,
            self.roots[first:last] - (first * self.graphs_per_segment if self.graph_level else node_offset),
            self.graph_level,
            self.graphs_per_segment,
            None if self.pairs is None else self.pairs[:, first:last] - node_offset,
        )

    @staticmethod
    def concatenate(parts: Sequence["Segments"]) -> "Segments":
        r"""The segments of ``parts`` one after another as one union (the inverse of :meth:`select`).

        Args:
            parts (sequence of Segments): Unions of the same kind (``graph_level``,
                ``graphs_per_segment``, with ``pairs`` or without).
        """
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        node_starts = _starts(part.nodes.numel() for part in parts)
        edge_starts = _starts(part.edge_ids.numel() for part in parts)
        segment_starts = _starts(part.num_segments for part in parts)
        row_starts = [start * first.graphs_per_segment for start in segment_starts] if first.graph_level else node_starts

        def shifted(tensors: List[Tensor], starts: List[int]) -> Tensor:
            return torch.cat([tensor + start for tensor, start in zip(tensors, starts)], -1)

        return Segments(
            shifted([part.node_segment for part in parts], segment_starts),
            torch.cat([part.nodes for part in parts]),
            shifted([part.edge_segment for part in parts], segment_starts),
            torch.cat([part.edge_ids for part in parts]),
            shifted([part.src for part in parts], node_starts),
            shifted([part.dst for part in parts], node_starts),
            shifted([part.message_edges for part in parts], edge_starts),
            shifted([part.roots for part in parts], row_starts),
            first.graph_level,
            first.graphs_per_segment,
            None if first.pairs is None else shifted([part.pairs for part in parts if part.pairs is not None], node_starts),
        )


def whole_inputs(src: Tensor, dst: Tensor, num_nodes: int, roots: Tensor, graphs: int = 0, pairs: Optional[Tensor] = None) -> Segments:
    r"""One segment per target holding the whole input, every node and edge in order.

    Args:
        src, dst (Tensor): The input's edges, ``(E,)``.
        num_nodes (int): Its nodes.
        roots (Tensor): Each target's output row in its segment: a node id, or
            a graph or pair id when ``graphs`` (the graphs or pairs of the
            input) is given.
        pairs (Tensor, optional): Node ids of each segment's own pair, ``(2, T)``,
            which then is its only output row: ``roots`` and ``graphs`` are ignored.
    """
    if pairs is not None:
        roots, graphs = torch.zeros_like(pairs[0]), 1
    count, num_edges = roots.numel(), src.numel()
    segment = torch.arange(count, device=src.device)
    edge_segment = segment.repeat_interleave(num_edges)
    offset = edge_segment * num_nodes
    rows_per_segment = graphs if graphs else num_nodes
    return Segments(
        segment.repeat_interleave(num_nodes),
        torch.arange(num_nodes, device=src.device).repeat(count),
        edge_segment,
        torch.arange(num_edges, device=src.device).repeat(count),
        src.repeat(count) + offset,
        dst.repeat(count) + offset,
        torch.arange(count * num_edges, device=src.device),
        roots + segment * rows_per_segment,
        bool(graphs),
        max(1, graphs),
        None if pairs is None else pairs + segment * num_nodes,
    )


def keyed_segments(
    node_keys: Tensor, num_nodes: int, edge_segment: Tensor, edge_ids: Tensor, src_keys: Tensor, dst_keys: Tensor,
    message_edges: Tensor, roots: Tensor, graph_level: bool = False, pairs: Optional[Tensor] = None,
) -> Segments:
    r"""The segments of nodes and edges found by key: a node of segment ``t`` is ``t * num_nodes + node``.

    Args:
        node_keys (Tensor): Every node of the union by key, sorted, ``(N_u,)``.
        num_nodes (int): Nodes of the graph.
        edge_segment, edge_ids (Tensor): Segment and edge id of every edge of the union, ``(E_sub,)``.
        src_keys, dst_keys (Tensor): Its endpoints by key, each among ``node_keys``.
        message_edges, roots, graph_level, pairs: As in :class:`Segments`.
    """
    return Segments(
        node_keys // num_nodes,
        node_keys % num_nodes,
        edge_segment,
        edge_ids,
        torch.searchsorted(node_keys, src_keys),
        torch.searchsorted(node_keys, dst_keys),
        message_edges,
        roots,
        graph_level,
        1,
        pairs,
    )


def single_node(node: Tensor, pair: bool = False) -> Segments:
    r"""One segment holding the node ``node`` (shape ``(1,)``) and no edges; with ``pair``, its target is the pair ``(node, node)``."""
    zero = torch.zeros(1, dtype=torch.long, device=node.device)
    none = zero[:0]
    return Segments(zero, node, none, none, none, none, none, zero, pair, 1, zero.expand(2, 1) if pair else None)


def _starts(sizes: Iterable[int]) -> List[int]:
    """Where each of consecutive blocks of ``sizes`` starts."""
    return [0, *itertools.accumulate(sizes)][:-1]


def _range(sorted_segments: Tensor, first: int, last: int) -> slice:
    bounds = torch.searchsorted(sorted_segments, torch.tensor([first, last], device=sorted_segments.device))
    return slice(int(bounds[0]), int(bounds[1]))


class Neighbourhoods:
    r"""In- and out-edges of every node of a graph, for expanding many node sets at once.

    Args:
        src, dst (Tensor): Edge endpoints, ``(E,)``; messages flow src to dst.
        num_nodes (int): Nodes of the graph.
    """

    def __init__(self, src: Tensor, dst: Tensor, num_nodes: int) -> None:
        self.src, self.dst, self.num_nodes = src, dst, num_nodes
        self._in = _csr(dst, num_nodes)
        self._out = _csr(src, num_nodes)

    @staticmethod
    def of(graph: Any, src: Tensor, dst: Tensor, num_nodes: int) -> "Neighbourhoods":
        r"""The neighbourhoods of the edges ``src -> dst`` of the user's ``graph`` (an ``edge_index``, a ``DGLGraph``).

        Built once per graph object, and used again while the graph lives and its
        edges are these (compared whole, a pass over the edges instead of two sorts).
        """

        def same_edges(kept: Neighbourhoods) -> bool:
            return kept.num_nodes == num_nodes and torch.equal(kept.src, src) and torch.equal(kept.dst, dst)

        return remembered(graph, "neighbourhoods", same_edges, lambda: Neighbourhoods(src.clone(), dst.clone(), num_nodes))

    def in_edges(self, keys: Tensor) -> Tuple[Tensor, Tensor]:
        r"""``(segment, edge id)`` of the in-edges of the nodes ``keys = segment * N + node``."""
        return _expand(keys, self.num_nodes, *self._in)

    def out_edges(self, keys: Tensor) -> Tuple[Tensor, Tensor]:
        r"""``(segment, edge id)`` of the out-edges of the nodes ``keys = segment * N + node``."""
        return _expand(keys, self.num_nodes, *self._out)

    def computation_subgraphs(self, targets: Tensor, hops: int, both_ways: bool = False, out_edges: bool = True) -> Segments:
        r"""The nodes and edges each target's output can depend on after ``hops`` layers.

        These are the edges incident to nodes within ``hops`` of the target:
        those into nodes within ``hops - 1`` carry messages that reach it, and
        the others set the in- and out-degrees of nodes whose messages do,
        which degree normalisation reads (PyG's GCN uses in-degrees, DGL's
        GraphConv the out-degree of the source). The far ends of those edges,
        nodes beyond ``hops``, count only through these degrees, so they are
        merged into one node per segment (the first of them): every degree
        within ``hops`` is kept, and the features of one node are computed
        instead of theirs. All targets are expanded together, without a loop
        over targets or edges: one breadth-first search from every target at
        once over the keys ``segment * N + node``, which are looked up in
        tables of one entry per key, for groups of targets whose tables hold
        at most :data:`KEYS_PER_GROUP` entries.

        Args:
            targets (Tensor): Target node ids, ``(T,)``; segment ``t`` is ``targets[t]``'s.
                Or node pairs, ``(2, T)``: segment ``t`` is the union of the
                computation subgraphs of both nodes of pair ``t`` (link prediction).
            hops (int): Number of message-passing calls.
            both_ways (bool): Whether messages also run against the edges' direction
                (DirGNNConv's reversed edges), so that a node hears its out-neighbours too.
            out_edges (bool): Whether to keep the edges from nodes within ``hops``
                to nodes beyond, which set only out-degrees (DGL's GraphConv
                reads them, with ``norm='both'``; a model that normalises by
                in-degrees, as PyG's GCNConv does, gives the same output without them).
        """
        seeds = targets.view(-1, targets.size(-1))
        per_group = max(1, KEYS_PER_GROUP // max(1, self.num_nodes))
        firsts = range(0, max(1, seeds.size(1)), per_group)
        return Segments.concatenate([self._group_subgraphs(seeds[:, first:first + per_group], hops, both_ways, out_edges) for first in firsts])

    def _group_subgraphs(self, seeds: Tensor, hops: int, both_ways: bool, out_edges: bool) -> Segments:
        """:meth:`computation_subgraphs` of the seeds ``(1, T)`` (nodes) or ``(2, T)`` (pairs)."""
        n, count = self.num_nodes, seeds.size(1)
        segment = torch.arange(count, device=seeds.device)
        seen = torch.zeros(count * n, dtype=torch.bool, device=seeds.device)
        # Scratch entry per key: a candidate's position while keys are deduplicated, then a node's position in the union.
        slot = torch.empty(count * n, dtype=torch.long, device=seeds.device)
        frontier = _first_visits((segment * n + seeds).view(-1), seen, slot)
        reached = [frontier]
        for _ in range(hops - 1):
            frontier = _first_visits(self._neighbours(frontier, both_ways), seen, slot)
            reached.append(frontier)
        inner = seen.clone()  # within hops - 1: the nodes whose in-edges carry messages to the target
        reached.append(_first_visits(self._neighbours(frontier, both_ways), seen, slot))
        within = torch.cat(reached)
        num_edges = max(1, self.src.numel())
        in_segment, in_edge = self.in_edges(within)
        incident = [in_segment * num_edges + in_edge]
        if out_edges:
            out_segment, out_edge = self.out_edges(within)
            leaving = ~seen[out_segment * n + self.dst[out_edge]]  # out-edges to outside nodes: not among the in-edges
            incident.append((out_segment * num_edges + out_edge)[leaving])
        edge_keys = torch.sort(torch.cat(incident)).values
        edge_segment, edge_ids = edge_keys // num_edges, edge_keys % num_edges
        src_keys, dst_keys = edge_segment * n + self.src[edge_ids], edge_segment * n + self.dst[edge_ids]
        src_keys, dst_keys, merged = _merge_outside(src_keys, dst_keys, ~seen[src_keys], ~seen[dst_keys], edge_segment, count)
        node_keys = torch.sort(torch.cat([within, merged])).values
        slot[node_keys] = torch.arange(node_keys.numel(), device=seeds.device)
        heard = inner[dst_keys] | inner[src_keys] if both_ways else inner[dst_keys]
        positions = slot[segment * n + seeds]
        pairs = seeds.size(0) == 2
        return Segments(
            node_keys // n, node_keys % n, edge_segment, edge_ids, slot[src_keys], slot[dst_keys], heard.nonzero().view(-1),
            segment if pairs else positions[0], graph_level=pairs, pairs=positions if pairs else None,
        )

    def _neighbours(self, keys: Tensor, both_ways: bool) -> Tensor:
        """The keys of the nodes sending messages to the nodes ``keys`` (and receiving theirs, ``both_ways``), with repeats."""
        segment, edge_ids = self.in_edges(keys)
        senders = segment * self.num_nodes + self.src[edge_ids]
        if not both_ways:
            return senders
        segment, edge_ids = self.out_edges(keys)
        return torch.cat([senders, segment * self.num_nodes + self.dst[edge_ids]])

    def node_sets(self, node_sets: Tensor, segment_of_node: Tensor, roots: Tensor, graph_level: bool) -> Segments:
        r"""Segments of given node sets with the edges among them (graph targets, or whole graphs).

        Args:
            node_sets (Tensor): Node ids of every segment, concatenated, ``(N_u,)``,
                sorted within each segment.
            segment_of_node (Tensor): The segment of each, sorted, ``(N_u,)``.
            roots (Tensor): Output row of each target (see :class:`Segments`).
            graph_level (bool): Whether the targets are graphs.
        """
        n = self.num_nodes
        node_keys = segment_of_node * n + node_sets
        edge_segment, edge_ids = self.in_edges(node_keys)
        src_keys = edge_segment * n + self.src[edge_ids]
        inside = _contains(node_keys, src_keys)
        edge_segment, edge_ids, src_keys = edge_segment[inside], edge_ids[inside], src_keys[inside]
        order = torch.argsort(edge_segment * max(1, self.src.numel()) + edge_ids)
        edge_segment, edge_ids, src_keys = edge_segment[order], edge_ids[order], src_keys[order]
        dst_keys = edge_segment * n + self.dst[edge_ids]
        every = torch.arange(edge_ids.numel(), device=edge_ids.device)
        return keyed_segments(node_keys, n, edge_segment, edge_ids, src_keys, dst_keys, every, roots, graph_level=graph_level)


def _csr(index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor, Tensor]:
    """``(order, start, count)``: edges sorted by ``index`` and each node's range in that order."""
    order = torch.argsort(index, stable=True)
    count = torch.bincount(index, minlength=num_nodes)
    start = torch.cumsum(count, 0) - count
    return order, start, count


def _expand(keys: Tensor, num_nodes: int, order: Tensor, start: Tensor, count: Tensor) -> Tuple[Tensor, Tensor]:
    segment, node = keys // num_nodes, keys % num_nodes
    counts = count[node]
    total = int(counts.sum())
    first = torch.repeat_interleave(start[node], counts, output_size=total)
    within = torch.arange(total, device=keys.device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts, output_size=total)
    return torch.repeat_interleave(segment, counts, output_size=total), order[first + within]


def _merge_outside(
    src_keys: Tensor, dst_keys: Tensor, src_out: Tensor, dst_out: Tensor, segment: Tensor, num_segments: int,
) -> Tuple[Tensor, Tensor, Tensor]:
    """The endpoints with every node outside (``src_out``, ``dst_out``) replaced by the first such node of its
    segment, and those first nodes."""
    if not (src_out.any() or dst_out.any()):
        return src_keys, dst_keys, src_keys[:0]
    none = torch.iinfo(src_keys.dtype).max
    first = torch.full((num_segments,), none, dtype=src_keys.dtype, device=src_keys.device)
    first = first.scatter_reduce(0, torch.cat([segment[src_out], segment[dst_out]]), torch.cat([src_keys[src_out], dst_keys[dst_out]]), reduce="amin")
    return torch.where(src_out, first[segment], src_keys), torch.where(dst_out, first[segment], dst_keys), first[first != none]


def _first_visits(keys: Tensor, seen: Tensor, slot: Tensor) -> Tensor:
    """The distinct ``keys`` not yet ``seen`` (in no particular order), which are then marked seen.

    Among repeats of a key, the one whose position ``slot`` holds after all of them were written there is kept.
    """
    keys = keys[~seen[keys]]
    position = torch.arange(keys.numel(), device=keys.device)
    slot[keys] = position
    keys = keys[slot[keys] == position]
    seen[keys] = True
    return keys


def _contains(sorted_keys: Tensor, queries: Tensor) -> Tensor:
    """Whether each query is among ``sorted_keys``."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(queries, dtype=torch.bool)
    position = torch.searchsorted(sorted_keys, queries).clamp(max=sorted_keys.numel() - 1)
    return sorted_keys[position] == queries

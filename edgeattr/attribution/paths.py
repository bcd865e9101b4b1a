r"""The best walk through the computation graph: the paper's path search and AMP-ave.

A node's output after :math:`L` message-passing layers is a sum over walks
:math:`w = (u_0, u_1, \dots, u_L = t)` through the layers, where each step
either follows an edge :math:`u_{k-1} \to u_k` into :math:`u_k` or stays at
the node (:math:`u_{k-1} = u_k`, the layer's own term). Let :math:`h^{(k)}` be
the node features entering layer :math:`k + 1` (:math:`h^{(0)}` those of the
first message-passing call), :math:`h^{(L)} = z` the explained logit, and

.. math::
    J^{(k)}_{v \leftarrow u} = \frac{\partial h^{(k)}_v}{\partial h^{(k-1)}_u}

the block of layer :math:`k`'s Jacobian from node :math:`u` to node :math:`v`.
Both searches are dynamic programs over the layers, from the targets back to the
sources, on the computation subgraphs of all the adapter's targets at once. One
forward pass keeps every layer's input. Then each layer takes one backward pass,
through that layer alone, per class of receivers :math:`v` whose closed
in-neighbourhoods are disjoint: no node sends to two receivers of a class, so one
pass, with each receiver's cotangent :math:`c_v`, gives :math:`c_v J_{v \leftarrow u}`
for every step ``u -> v`` of the class. A node that sends to :math:`r` receivers
needs :math:`r` classes and the greedy colouring rarely needs more, so a layer costs
about as many backward passes as the most receivers any one node sends to (one at
the last layer, whose only receivers are the targets).
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any, List, NamedTuple, Optional, Tuple, Union

import torch
from captum.log import log_usage
from torch import Tensor

from edgeattr.adapters.base.graph import GraphAdapter
from edgeattr.adapters.base.interface import ForwardFunc
from edgeattr.adapters.base.prepared import Handler, observing
from edgeattr.attribution._common import (
    Targets,
    TargetType,
    TensorOrTuple,
    check_forward_mask,
    explained_output,
    pack,
    resolve_target,
    unpack,
)
from edgeattr.attribution.base import EdgeGradientAttribution


class Walk(NamedTuple):
    r"""A walk through the layers of the computation graph.

    Attributes:
        nodes (Tensor): Node ids ``(L + 1,)``, from the source :math:`u_0` to the target :math:`u_L`.
        edges (Tensor): Edge id (column of ``edge_index``, DGL edge id) taken at each layer,
            ``(L,)``; ``-1`` where the walk stays at its node.
        score (float): The walk's score under the search that found it.
    """

    nodes: Tensor
    edges: Tensor
    score: float


class _Walks(NamedTuple):
    r"""The walks of all targets: node ids ``(T, L + 1)``, edge ids ``(T, L)``, scores ``(T,)``."""

    nodes: Tensor
    edges: Tensor
    scores: Tensor


class _LayerStates:
    r"""One forward pass over the computation subgraphs with every layer's input kept.

    ``states[k]`` is :math:`h^{(k)}` over the nodes of all segments, ``(N, d_k)``;
    ``outputs`` is the explained logit of each target, ``(T,)``. The first state is a
    leaf that requires grad, so that backward passes reach it.
    """

    def __init__(self, adapter: GraphAdapter, sub_mask: Tensor, targets: Targets) -> None:
        kept = _KeptInputs(adapter)
        with torch.enable_grad(), observing(kept):
            out = adapter.forward_subgraph(sub_mask)
            self.outputs = explained_output(out, targets)
        if len(kept.states) != adapter.num_layers:
            raise ValueError(f"expected {adapter.num_layers} message-passing calls in one forward pass, saw {len(kept.states)}")
        self.states = kept.states


class _KeptInputs(Handler):
    """Keeps the node-feature input of every layer's module in this thread's passes (the first as a leaf)."""

    def __init__(self, adapter: GraphAdapter) -> None:
        self.adapter = adapter
        self.modules = {id(layer.module) for layer in adapter.layers}
        self.rows = adapter.segments.nodes.numel()
        self.states: List[Tensor] = []

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        if id(module) not in self.modules:
            return None
        where = _node_features(args, kwargs, self.rows)
        if where is None:
            raise ValueError(self._problem(module, args, kwargs))
        value = args[where] if isinstance(where, int) else kwargs[where]
        if not self.states:
            value = value.detach().requires_grad_(True)
            args, kwargs = _replaced(args, kwargs, where, value)
        self.states.append(value)
        return args, kwargs

    def _problem(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> str:
        """Why a layer gets no input with a row per node: the targets run in several passes, or it takes other inputs."""
        adapter = self.adapter
        segment_nodes = torch.bincount(adapter.segments.node_segment, minlength=adapter.num_targets)
        first_targets = segment_nodes.cumsum(0)[:-1].tolist()  # the rows of a pass of the first targets alone
        if any(_node_features(args, kwargs, rows) is not None for rows in first_targets):
            return (
                f"the adapter runs its {adapter.num_targets} targets in several passes (each on the whole graph, or "
                f"their computation subgraphs in groups), but the walk search follows all of them through one pass: "
                f"build adapters of fewer targets, e.g. one per chunk of index"
            )
        return (
            f"layer '{adapter._name_of(module)}' received no node-feature tensor with one row per node "
            f"({self.rows}); the walk search follows the features entering each message-passing call and "
            f"supports layers called as conv(x, graph) or conv(graph, x) on a homogeneous graph"
        )


def _node_features(args: tuple, kwargs: dict, rows: int) -> Union[int, str, None]:
    r"""Where a layer's node-feature input is: the position or name of the first floating tensor with ``rows`` rows."""
    for position, value in enumerate(args):
        if _has_rows(value, rows):
            return position
    for key, value in kwargs.items():
        if _has_rows(value, rows):
            return key
    return None


def _has_rows(value: Any, rows: int) -> bool:
    return isinstance(value, Tensor) and value.is_floating_point() and value.dim() >= 2 and value.size(0) == rows


def _replaced(args: tuple, kwargs: dict, where: Union[int, str], value: Tensor) -> Tuple[tuple, dict]:
    if isinstance(where, int):
        return args[:where] + (value,) + args[where + 1:], kwargs
    return args, {**kwargs, where: value}


class _ComputationGraph:
    r"""The adapter's computation subgraphs, one segment per target: nodes, edges in their coordinates, hop levels.

    Positions ``0 .. N - 1`` number the nodes of all segments; within a segment
    they follow the node ids, so that the lowest position is the lowest id.
    """

    def __init__(self, adapter: GraphAdapter) -> None:
        segments = adapter.segments
        self.nodes: Tensor = segments.nodes
        self.node_segment: Tensor = segments.node_segment
        self.edge_ids: Tensor = adapter.edge_ids
        self.src, self.dst = segments.src, segments.dst
        self.roots: Tensor = segments.roots
        self.size = self.nodes.numel()
        self.num_layers = adapter.num_layers
        # levels[j]: nodes a walk can be at j layers before the output (within j hops of their target).
        reached = torch.zeros(self.size, dtype=torch.bool, device=self.nodes.device)
        reached[self.roots] = True
        self.levels = [reached.clone()]
        for _ in range(self.num_layers):
            reached[self.src[reached[self.dst]]] = True
            self.levels.append(reached.clone())

    def steps(self, level: int) -> Tuple[Tensor, Tensor]:
        r"""The distinct steps ``(receiver v, sender u)`` into the nodes of ``level``, sorted by ``(u, v)``.

        Senders are ``v`` itself (staying) and the sources of ``v``'s in-edges.
        """
        receivers = self.levels[level]
        into = receivers[self.dst]
        every = torch.arange(self.size, device=receivers.device)[receivers]
        v = torch.cat([self.dst[into], every])
        u = torch.cat([self.src[into], every])
        keys = torch.unique(u * self.size + v)  # sorted by sender, then receiver
        return keys % self.size, keys // self.size

    def colouring(self, v: Tensor, u: Tensor) -> Tuple[Tensor, int]:
        r"""Classes of the receivers of steps ``(v, u)`` such that no node sends to two receivers of one class.

        Receivers conflict when their closed in-neighbourhoods (in-edge sources
        and the node itself) meet. Greedy colouring in order of position: each
        receiver takes the smallest class that none of its senders has given
        out yet. A sender of :math:`r` receivers needs :math:`r` classes, and
        this colouring rarely needs more. The greedy rule is sequential; it is
        one pass over the steps, with each sender's classes kept as the bits of
        an integer.

        Returns:
            ``(colour, classes)``: the class of each node ``(N,)``, ``-1`` for
            nodes that receive nothing, and the number of classes.
        """
        keys = torch.sort(v * self.size + u).values  # by receiver, then sender
        receivers, counts = torch.unique_consecutive(keys // self.size, return_counts=True)
        senders = (keys % self.size).tolist()
        given = [0] * self.size  # bit c of given[s]: sender s sends to a receiver of class c
        classes: List[int] = []
        start = 0
        for count in counts.tolist():
            own = senders[start:start + count]
            start += count
            taken = reduce(operator.or_, [given[sender] for sender in own], 0)
            free = ~taken & (taken + 1)  # the lowest bit not taken
            for sender in own:
                given[sender] |= free
            classes.append(free.bit_length() - 1)
        colour = torch.full((self.size,), -1, dtype=torch.long, device=v.device)
        colour[receivers] = torch.tensor(classes, dtype=torch.long, device=v.device)
        return colour, max(classes) + 1

    def sources(self, score: Tensor) -> Tensor:
        r"""The node of highest ``score`` in each segment, ties to the lowest position, ``(T,)``."""
        segments = self.roots.numel()
        best = score.new_full((segments,), -torch.inf).scatter_reduce(0, self.node_segment, score, "amax")
        positions = torch.arange(self.size, device=score.device)
        at_best = torch.where(score == best[self.node_segment], positions, self.size)
        return torch.full_like(self.roots, self.size).scatter_reduce(0, self.node_segment, at_best, "amin")

    def edges_between(self, senders: Tensor, receivers: Tensor) -> Tensor:
        r"""The edge id of each step ``sender -> receiver`` (the first such edge; ``-1`` for staying)."""
        staying = senders == receivers
        if self.src.numel() == 0:
            return torch.full_like(senders, -1)
        keys, order = torch.sort(self.src * self.size + self.dst, stable=True)
        first = torch.searchsorted(keys, senders * self.size + receivers).clamp_(max=keys.numel() - 1)
        return torch.where(staying, -1, self.edge_ids[order[first]])


def _walk_adapter(forward_func: ForwardFunc) -> GraphAdapter:
    """``forward_func`` if it is a layerwise adapter of node targets, which the walk search needs."""
    if not isinstance(forward_func, GraphAdapter) or not forward_func.layerwise or forward_func.task != "node":
        raise ValueError(
            "the walk search needs a layerwise adapter of node targets, e.g. "
            "PyGAdapter(model, x, edge_index, index=v, layerwise=True) or DGLAdapter(model, g, x, index=v, layerwise=True)"
        )
    shared = [layer for layer in forward_func.layers if sum(other.row == layer.row for other in forward_func.layers) > 1]
    if shared:
        raise ValueError(
            f"the walk search needs one message-passing call per layer, but layer '{shared[0].name}' makes several "
            f"(one per relation); use the gradient or occlusion methods for such a model"
        )
    return forward_func


class _WalkSearch(EdgeGradientAttribution):
    r"""What both searches share: the layer states, the backward passes of each layer, and the walks."""

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): The layerwise mask of each target at which
                the model is explained, shape ``(T, L, E)``; usually ``forward_func.ones()``.
            target (int, list or Tensor, optional): Class explained, one for all targets
                or one per target. ``None``: the class predicted with every edge at weight 1.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor or tuple[Tensor]: ``(T, L, E)``, 1 at the edge target ``t``'s best
            walk takes at each layer, 0 elsewhere (a layer where the walk stays is all 0).
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        edges = self._search(mask, target).edges
        marked = torch.zeros_like(mask)
        rows, layers = (edges >= 0).nonzero(as_tuple=True)
        marked[rows, layers, edges[rows, layers]] = 1
        return pack(marked, is_tuple)

    def walk(self, inputs: Optional[Tensor] = None, target: TargetType = None) -> Walk:
        r"""The best walk to the adapter's node.

        Args:
            inputs (Tensor, optional): The layerwise mask ``(1, L, E)``; default all ones.
            target (int, optional): Class explained; ``None``: the predicted class.

        Returns:
            :class:`Walk`: nodes from source to target, the edge taken at each
            layer, and the walk's score.
        """
        adapter = _walk_adapter(self.forward_func)
        if adapter.num_targets != 1:
            raise ValueError(f"the adapter explains {adapter.num_targets} nodes: walk() finds the walk of one, walks() those of all")
        return self.walks(inputs, target)[0]

    def walks(self, inputs: Optional[Tensor] = None, target: TargetType = None) -> List[Walk]:
        r"""The best walk to each of the adapter's nodes, all found together.

        Args:
            inputs (Tensor, optional): The layerwise mask of each target ``(T, L, E)``;
                default all ones.
            target (int, list or Tensor, optional): Class explained, one for all
                targets or one per target; ``None``: the class each one predicts.

        Returns:
            list[:class:`Walk`]: one per target, in the order of the adapter's ``index``.
        """
        found = self._search(inputs, target)
        return [Walk(nodes, edges, score) for nodes, edges, score in zip(found.nodes, found.edges, found.scores.tolist())]

    def _search(self, inputs: Optional[Tensor], target: TargetType) -> _Walks:
        adapter = _walk_adapter(self.forward_func)
        mask = adapter.ones() if inputs is None else inputs
        check_forward_mask(adapter, mask)
        if mask.size(0) != adapter.num_targets:
            raise ValueError(
                f"the walk search explains one mask at a time, one row per target: got {mask.size(0)} rows for "
                f"{adapter.num_targets} target(s); pass shape ({adapter.num_targets}, L, E), e.g. adapter.ones()"
            )
        graph = _ComputationGraph(adapter)
        states = _LayerStates(adapter, adapter.compact(mask.detach()), resolve_target(adapter, mask, target))
        inputs_of = [state.detach() for state in states.states]

        score = torch.full((graph.size,), -torch.inf, dtype=mask.dtype, device=mask.device)
        score[graph.roots] = 0.0
        chain = torch.ones(graph.size, 1, dtype=mask.dtype, device=mask.device)  # g at the targets: 1
        parents: List[Tensor] = []
        for level in range(graph.num_layers):
            layer = graph.num_layers - 1 - level  # index of the states the step starts from
            v, u = graph.steps(level)
            cotangents = self._cotangents(level, chain, states, layer)
            vectors = _step_products(states, graph, level, layer, v, u, cotangents)  # c_v J_{v <- u} per step
            candidate, carried = self._step_scores(vectors, inputs_of[layer][u], score[v])
            score = torch.full_like(score, -torch.inf).scatter_reduce(0, u, candidate, "amax")
            ties = torch.where(candidate == score[u], v, graph.size)
            parent = torch.full_like(graph.node_segment, graph.size).scatter_reduce(0, u, ties, "amin")
            chosen = (v == parent[u]).nonzero().view(-1)
            if carried is not None:
                chain = carried.new_zeros(graph.size, carried.size(-1))
                chain[u[chosen]] = carried[chosen]
            parents.append(parent)

        sources = graph.sources(score)
        path = [sources]
        for parent in reversed(parents):
            path.append(parent[path[-1]])
        positions = torch.stack(path, 1)
        edges = graph.edges_between(positions[:, :-1], positions[:, 1:])
        return _Walks(graph.nodes[positions], edges, score[sources])

    def _cotangents(self, level: int, chain: Tensor, states: _LayerStates, layer: int) -> Tensor:
        r"""The cotangent of each receiver of the step, ``(N, d)`` (rows of other nodes are ignored)."""
        raise NotImplementedError

    def _step_scores(self, vectors: Tensor, features: Tensor, previous: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        r"""Scores of the candidate steps and the cotangents they carry on (``None``: none)."""
        raise NotImplementedError


def _step_products(
    states: _LayerStates,
    graph: _ComputationGraph,
    level: int,
    layer: int,
    v: Tensor,
    u: Tensor,
    cotangents: Tensor,
) -> Tensor:
    r""":math:`c_v J_{v \leftarrow u}` for every step ``(v, u)`` into the nodes of ``level``, ``(steps, d)``.

    One backward pass per class of :meth:`_ComputationGraph.colouring`, from the
    states after the layer (the explained logits for the last layer) to
    ``states[layer]``, with cotangent :math:`c_v` at the class's receivers. No
    node sends to two receivers of one class, so row ``u`` of the gradient is the
    product of the one receiver ``u`` sends to.
    """
    colour, classes = graph.colouring(v, u)
    inputs = states.states[layer]
    if level == 0:  # the last layer ends in the explained logits, one per target
        outputs, cotangents, receiver_colour = states.outputs, cotangents[graph.roots, 0], colour[graph.roots]
    else:
        outputs, receiver_colour = states.states[layer + 1], colour
    receivers = (receiver_colour >= 0).nonzero().view(-1)
    step_colour = colour[v]
    steps_of = torch.argsort(step_colour, stable=True).split(torch.bincount(step_colour, minlength=classes).tolist())
    rows_of = receivers[torch.argsort(receiver_colour[receivers], stable=True)].split(
        torch.bincount(receiver_colour[receivers], minlength=classes).tolist()
    )
    cotangents = cotangents.to(outputs.dtype)
    grad_outputs = torch.zeros_like(outputs)
    products = inputs.new_empty(v.numel(), inputs.size(-1))
    for rows, steps in zip(rows_of, steps_of):
        grad_outputs[rows] = cotangents[rows]
        (grad,) = torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph=True, allow_unused=True)
        if grad is None:
            raise ValueError(
                "the features entering a message-passing call do not depend on those entering the call before it; "
                "the walk search needs a model whose layers follow each other (no detached branches)"
            )
        products[steps] = grad.detach()[u[steps]]
        grad_outputs[rows] = 0
    return products


class BestWalk(_WalkSearch):
    r"""The paper's path search ("DAG-Longest"): the walk whose chained layer Jacobians score highest.

    A walk's score is its chained Jacobian applied to the features at its source,

    .. math::
        s(w) = \frac{\partial z}{\partial h^{(L-1)}_{u_{L-1}}}\Big|_{w}\,
               J^{(L-1)}_{u_{L-1} \leftarrow u_{L-2}} \cdots J^{(1)}_{u_1 \leftarrow u_0}\, h^{(0)}_{u_0},

    the part of the gradient-times-input of :math:`z` that flows along :math:`w`.
    As in He et al. (KDD 2025), the search goes back from the target one layer at a
    time and keeps, for every node :math:`u` a walk can be at, the single walk
    prefix with the highest partial score :math:`g_u\, h^{(k)}_u`, where
    :math:`g_u = g_v J^{(k+1)}_{v \leftarrow u}` for the chosen successor :math:`v`
    (:math:`g_t = 1` at the target). The source is the node of highest score at
    the input. Ties go to the lowest node id. Keeping one prefix per node makes
    the search exact for a layer and for one-dimensional layers with
    non-negative Jacobians and features; for wider layers it is the paper's
    greedy rule.

    An adapter of several nodes searches all their walks together, in one forward
    pass and one set of backward passes over their computation subgraphs
    (:meth:`walks`); each is the walk an adapter of that node alone finds.
    The cost is one forward pass and, per layer, one backward pass through that
    layer for each class of receivers that share no sender (see
    :mod:`edgeattr.attribution.paths`).

    Args:
        forward_func (GraphAdapter): A layerwise adapter of node targets, e.g.
            ``PyGAdapter(model, x, edge_index, index=v, layerwise=True)`` or
            ``DGLAdapter(model, g, x, index=v, layerwise=True)``, ``v`` one node or
            several. Its layers must follow one another (no skip connections) and
            receive node features as ``conv(x, graph)`` or ``conv(graph, x)``.

    Example::

        >>> fwd = PyGAdapter(model, data.x, data.edge_index, index=10, layerwise=True)
        >>> walk = BestWalk(fwd).walk()
        >>> walk.nodes        # source ... target
        >>> many = PyGAdapter(model, data.x, data.edge_index, index=nodes, layerwise=True)
        >>> walks = BestWalk(many).walks(target=data.y[nodes])   # one Walk per node
    """

    def _cotangents(self, level: int, chain: Tensor, states: _LayerStates, layer: int) -> Tensor:
        return chain

    def _step_scores(self, vectors: Tensor, features: Tensor, previous: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return (vectors * features).sum(-1), vectors


class AMPAve(_WalkSearch):
    r"""AMP-ave, the paper's baseline: the longest walk under additive, averaged layer scores.

    Each step is scored on its own, by the features at the sender and the
    column-average of the layer's Jacobian block, and a walk's score is the sum:

    .. math::
        s(w) = \sum_{k=1}^{L} h^{(k-1)}_{u_{k-1}} \cdot \frac{1}{d_k}
               \mathbf{1}^\top J^{(k)}_{u_k \leftarrow u_{k-1}},

    with :math:`d_k` the width of :math:`h^{(k)}` (:math:`d_L = 1`). Being
    additive, the best walk is a longest path in the layered graph of the
    computation graph, found exactly by dynamic programming. Ties go to the lowest
    node id.

    Args:
        forward_func (GraphAdapter): A layerwise adapter of node targets (see :class:`BestWalk`).
    """

    def _cotangents(self, level: int, chain: Tensor, states: _LayerStates, layer: int) -> Tensor:
        width = 1 if level == 0 else states.states[layer + 1].size(-1)
        return chain.new_full((chain.size(0), width), 1.0 / width)

    def _step_scores(self, vectors: Tensor, features: Tensor, previous: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return previous + (vectors * features).sum(-1), None


__all__ = ["BestWalk", "AMPAve", "Walk"]

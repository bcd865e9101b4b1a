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
Both searches are dynamic programs over the layers, from the target back to the
sources, on the computation graph: one batched backward pass per layer, no loop
over edges.
"""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Tuple

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


class _LayerStates:
    r"""One forward pass over ``copies`` copies of the computation graph with every layer's input kept.

    ``states[k]`` is :math:`h^{(k)}` over all copies, ``(copies * N, d_k)``; ``outputs``
    is the explained logit of each copy, ``(copies,)``. The first state is a leaf that
    requires grad, so that backward passes reach it.
    """

    def __init__(self, adapter: GraphAdapter, mask: Tensor, target: Targets, copies: int) -> None:
        kept = _KeptInputs(adapter, copies * adapter.segments.nodes.numel())
        with torch.enable_grad(), observing(kept):
            out = adapter.forward_subgraph(mask.expand(copies, -1, -1).contiguous())
            self.outputs = explained_output(out, target.expand(copies))
        states = kept.states
        if len(states) != adapter.num_layers:
            raise ValueError(f"expected {adapter.num_layers} message-passing calls in one forward pass, saw {len(states)}")
        self.states = states
        self.copies = copies


class _KeptInputs(Handler):
    """Keeps the node-feature input of every layer's module in this thread's passes (the first as a leaf)."""

    def __init__(self, adapter: GraphAdapter, rows: int) -> None:
        self.modules = {id(layer.module) for layer in adapter.layers}
        self.name_of, self.rows = adapter._name_of, rows
        self.states: List[Tensor] = []

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        if id(module) not in self.modules:
            return None
        args, kwargs, value = _replace_node_features(args, kwargs, self.rows, first=not self.states, name=self.name_of(module))
        self.states.append(value)
        return args, kwargs


def _replace_node_features(args: tuple, kwargs: dict, rows: int, first: bool, name: str) -> Tuple[tuple, dict, Tensor]:
    r"""Finds a layer's node-feature input (the first floating tensor with ``rows`` rows).

    For the first layer it is swapped for a leaf that requires grad.

    Raises:
        ValueError: if the layer receives no such tensor (bipartite ``(x_src, x_dst)`` inputs,
            features passed in another form).
    """
    def swap(value: Tensor) -> Tensor:
        return value.detach().requires_grad_(True) if first else value

    for position, value in enumerate(args):
        if isinstance(value, Tensor) and value.is_floating_point() and value.dim() >= 2 and value.size(0) == rows:
            value = swap(value)
            return args[:position] + (value,) + args[position + 1:], kwargs, value
    for key, value in kwargs.items():
        if isinstance(value, Tensor) and value.is_floating_point() and value.dim() >= 2 and value.size(0) == rows:
            value = swap(value)
            return args, {**kwargs, key: value}, value
    raise ValueError(
        f"layer '{name}' received no node-feature tensor with one row per node ({rows}); the walk search "
        f"follows the features entering each message-passing call and supports layers called as conv(x, graph) "
        f"or conv(graph, x) on a homogeneous graph"
    )


class _ComputationGraph:
    r"""The adapter's computation subgraph: node ids, edges in its coordinates, and hop levels."""

    def __init__(self, adapter: GraphAdapter) -> None:
        # The adapter runs the model on its computation subgraph: these are the nodes (sorted
        # ids), the edges (edge_ids) in its coordinates, and the target row it runs.
        segments = adapter.segments
        self.nodes: Tensor = segments.nodes
        self.edge_ids: Tensor = adapter.edge_ids
        self.src, self.dst = segments.src, segments.dst
        self.target = int(segments.roots[0])
        self.size = self.nodes.numel()
        self.num_layers = adapter.num_layers
        # levels[j]: nodes a walk can be at j layers before the output (within j hops of the target).
        reached = torch.zeros(self.size, dtype=torch.bool, device=adapter.device)
        reached[self.target] = True
        self.levels = [reached.clone()]
        for _ in range(self.num_layers):
            reached[self.src[reached[self.dst]]] = True
            self.levels.append(reached.clone())

    def colouring(self) -> Tensor:
        r"""A copy for each node within ``L - 1`` hops such that no node sends to two nodes of one copy.

        Nodes conflict when their closed in-neighbourhoods (in-edge sources and
        the node itself) meet; each round gives a new copy to the conflict-free
        nodes that have no uncoloured conflicting node of lower id.

        Returns:
            Long tensor ``(N,)``: the copy of each such node, ``-1`` for others.
        """
        receivers = self.levels[self.num_layers - 1].nonzero().view(-1)
        position = torch.full((self.size,), -1, dtype=torch.long, device=receivers.device)
        position[receivers] = torch.arange(receivers.numel(), device=receivers.device)
        into = position[self.dst] >= 0
        senders = torch.zeros(receivers.numel(), self.size, device=receivers.device)
        senders[position[self.dst[into]], self.src[into]] = 1.0
        senders[torch.arange(receivers.numel(), device=receivers.device), receivers] = 1.0
        conflict = (senders @ senders.T) > 0
        lower = torch.ones_like(conflict).tril(-1)  # lower[i, j]: j has a lower id than i
        colour = torch.full((receivers.numel(),), -1, dtype=torch.long, device=receivers.device)
        rounds = 0
        while bool((colour < 0).any()):
            open_ = colour < 0
            blocked = (conflict & lower & open_.view(1, -1)).any(1)
            colour[open_ & ~blocked] = rounds
            rounds += 1
        result = torch.full((self.size,), -1, dtype=torch.long, device=receivers.device)
        result[receivers] = colour
        return result

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

    def edge_of(self, sender: int, receiver: int) -> int:
        r"""The edge id of the step ``sender -> receiver`` (``-1`` for staying)."""
        if sender == receiver:
            return -1
        position = ((self.src == sender) & (self.dst == receiver)).nonzero().view(-1)
        return int(self.edge_ids[position[0]])


def _walk_adapter(forward_func: ForwardFunc) -> GraphAdapter:
    """``forward_func`` if it is a layerwise adapter of one node target, which the walk search needs."""
    if not isinstance(forward_func, GraphAdapter) or not forward_func.layerwise or forward_func.task != "node" or forward_func.num_targets != 1:
        raise ValueError(
            "the walk search needs a layerwise adapter of one node target, e.g. "
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
    r"""What both searches share: the layer states, one backward pass per layer, and the walk."""

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): The layerwise mask at which the model is
                explained, shape ``(1, L, E)``; usually ``forward_func.ones()``.
            target (int, optional): Class explained. ``None``: the class predicted
                with every edge at weight 1.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor or tuple[Tensor]: ``(1, L, E)``, 1 at the edge the best walk
            takes at each layer, 0 elsewhere (a layer where the walk stays is all 0).
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        return pack(self._attribute(mask, target), is_tuple)

    def _attribute(self, mask: Tensor, target: TargetType) -> Tensor:
        walk = self.walk(mask, target)
        marked = torch.zeros_like(mask)
        for layer, edge in enumerate(walk.edges.tolist()):
            if edge >= 0:
                marked[0, layer, edge] = 1
        return marked

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
        graph = _ComputationGraph(adapter)
        mask = adapter.ones() if inputs is None else inputs
        check_forward_mask(adapter, mask)
        if mask.size(0) != 1:
            raise ValueError(f"the walk search explains one mask at a time, got {mask.size(0)}; pass shape (1, L, E)")
        target_t = resolve_target(adapter, mask[:1], target)
        sub_mask = mask.detach().index_select(-1, graph.edge_ids)

        # Receivers of a backward pass (nodes within L - 1 hops) share a copy of the graph
        # when no node sends to two of them, so that each product stays apart.
        copy_of = graph.colouring()
        copies = int(copy_of.max()) + 1
        passes = [
            (start, _LayerStates(adapter, sub_mask, target_t, min(adapter.copies_per_pass, copies - start)))
            for start in range(0, copies, adapter.copies_per_pass)
        ]
        inputs_of = [state.detach()[: graph.size] for state in passes[0][1].states]

        score = torch.full((graph.size,), -torch.inf, dtype=mask.dtype, device=mask.device)
        score[graph.target] = 0.0
        chain = torch.ones(graph.size, 1, dtype=mask.dtype, device=mask.device)  # g at the target: 1
        parents: List[Tensor] = []
        for level in range(graph.num_layers):
            layer = graph.num_layers - 1 - level  # index of the states the step starts from
            v, u = graph.steps(level)
            cotangents = self._cotangents(level, chain, passes[0][1], layer)
            products = _vector_jacobian_products(passes, graph, copy_of, level, layer, cotangents)
            vectors = products[copy_of[v], u]  # (steps, d): cotangent of v times J_{v <- u}
            candidate, carried = self._step_scores(vectors, inputs_of[layer][u], score[v])
            score = torch.full_like(score, -torch.inf).scatter_reduce(0, u, candidate, "amax")
            ties = torch.where(candidate == score[u], v, graph.size)
            parent = torch.full_like(copy_of, graph.size).scatter_reduce(0, u, ties, "amin")
            chosen = (v == parent[u]).nonzero().view(-1)
            if carried is not None:
                chain = carried.new_zeros(graph.size, carried.size(-1))
                chain[u[chosen]] = carried[chosen]
            parents.append(parent)

        source = int(torch.where(score == score.max(), torch.arange(graph.size, device=score.device), graph.size).min())
        path = [source]
        for parent in reversed(parents):
            path.append(int(parent[path[-1]]))
        nodes = graph.nodes[torch.tensor(path, device=graph.nodes.device)]
        edges = torch.tensor([graph.edge_of(a, b) for a, b in zip(path[:-1], path[1:])], dtype=torch.long)
        return Walk(nodes, edges, float(score[source]))

    def _cotangents(self, level: int, chain: Tensor, states: _LayerStates, layer: int) -> Tensor:
        r"""The cotangent of each receiver of the step, ``(N, d)`` (rows of other nodes are ignored)."""
        raise NotImplementedError

    def _step_scores(self, vectors: Tensor, features: Tensor, previous: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        r"""Scores of the candidate steps and the cotangents they carry on (``None``: none)."""
        raise NotImplementedError


def _vector_jacobian_products(
    passes: List[Tuple[int, _LayerStates]],
    graph: _ComputationGraph,
    copy_of: Tensor,
    level: int,
    layer: int,
    cotangents: Tensor,
) -> Tensor:
    r"""For every receiver ``v`` of the step, :math:`c_v J_{v \leftarrow u}` for all ``u``, in ``v``'s copy.

    One backward pass per forward pass, from the states after the layer (the
    explained logit for the last layer) to ``states[layer]``. No node sends to
    two receivers of one copy, so row ``u`` of a copy holds the product of the
    one receiver ``u`` sends to.

    Returns:
        Tensor ``(copies, N, d)``, indexed by ``copy_of[v]``.
    """
    size = graph.size
    receivers = graph.levels[level].nonzero().view(-1)
    products = []
    for start, states in passes:
        inside = (copy_of[receivers] >= start) & (copy_of[receivers] < start + states.copies)
        here = receivers[inside]
        rows = (copy_of[here] - start) * size + here
        if level == 0:  # the last layer ends in the explained logit
            outputs = states.outputs
            grad_outputs = torch.zeros_like(outputs)
            grad_outputs[copy_of[here] - start] = cotangents[here, 0].to(outputs.dtype)
        else:
            outputs = states.states[layer + 1]
            grad_outputs = torch.zeros_like(outputs)
            grad_outputs[rows] = cotangents[here].to(outputs.dtype)
        (grad,) = torch.autograd.grad(outputs, states.states[layer], grad_outputs, retain_graph=True, allow_unused=True)
        if grad is None:
            raise ValueError(
                "the features entering a message-passing call do not depend on those entering the call before it; "
                "the walk search needs a model whose layers follow each other (no detached branches)"
            )
        products.append(grad.detach().view(states.copies, size, -1))
    return torch.cat(products)


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

    Args:
        forward_func (GraphAdapter): A layerwise adapter of a node target, e.g.
            ``PyGAdapter(model, x, edge_index, index=v, layerwise=True)`` or
            ``DGLAdapter(model, g, x, index=v, layerwise=True)``. Its layers must
            follow one another (no skip connections) and receive node features
            as ``conv(x, graph)`` or ``conv(graph, x)``.

    Example::

        >>> fwd = PyGAdapter(model, data.x, data.edge_index, index=10, layerwise=True)
        >>> walk = BestWalk(fwd).walk()
        >>> walk.nodes        # source ... target
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
        forward_func (GraphAdapter): A layerwise adapter of a node target (see :class:`BestWalk`).
    """

    def _cotangents(self, level: int, chain: Tensor, states: _LayerStates, layer: int) -> Tensor:
        width = 1 if level == 0 else states.states[layer + 1].size(-1)
        return chain.new_full((chain.size(0), width), 1.0 / width)

    def _step_scores(self, vectors: Tensor, features: Tensor, previous: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        return previous + (vectors * features).sum(-1), None


__all__ = ["BestWalk", "AMPAve", "Walk"]

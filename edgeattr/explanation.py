r"""An edge explanation of one prediction, with ways to rank, cut, convert and draw it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, NamedTuple, NoReturn, Optional, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.typed import EdgeType

if TYPE_CHECKING:
    import matplotlib.figure
    import networkx
    from torch_geometric.explain import Explanation, HeteroExplanation


class EdgeRanking(NamedTuple):
    r"""The ``k`` highest-ranked edges, best first (as ``torch.topk`` returns them).

    Attributes:
        values (Tensor): Their attributions, ``(k,)``.
        indices (Tensor): Their edge ids (columns of ``edge_index``), ``(k,)``.
    """

    values: Tensor
    indices: Tensor


class EdgeSubgraph(NamedTuple):
    r"""The edges an explanation selects, in edge-id order.

    Attributes:
        edge_ids (Tensor): Edge ids (columns of the full ``edge_index``), ``(K,)``.
        edge_index (Tensor): Their endpoints, original node ids, ``(2, K)``.
        edge_mask (Tensor): Their attributions, ``(K,)``.
        nodes (Tensor): Sorted ids of the nodes they touch, with the explained node
            of a node task.
    """

    edge_ids: Tensor
    edge_index: Tensor
    edge_mask: Tensor
    nodes: Tensor


@dataclass
class EdgeExplanation:
    r"""The attribution of one prediction (of a node, a graph or a node pair) to the edges of the input graph.

    Made by :func:`edgeattr.explain`. An explanation holds one explained
    output: ``edge_mask`` is ``(E,)``, one value per edge of the graph the
    model was called with (columns of ``edge_index`` for PyG, edge ids for
    DGL), exactly zero for edges whose messages cannot reach the output.

    Attributes:
        edge_mask (Tensor): Attribution per edge, ``(E,)``. For a layerwise
            method, the sum over layers of ``layer_masks`` (for
            ``layerwise_gradient`` this is the input-level gradient).
        layer_masks (Tensor or None): Attribution per message-passing call and
            edge, ``(L, E)``, when explained layerwise; else ``None``.
        edge_index (Tensor): Edges of the graph, ``(2, E)``; messages flow from
            row 0 to row 1.
        target (int): The explained class.
        prediction (Tensor): The model's output row at the explained node or
            graph with every edge present, e.g. its ``C`` logits.
        method (str): The method's name in :data:`edgeattr.methods.METHODS`.
        index (int): The explained node id (node task), graph id (graph task)
            or pair (edge task: its position among the scored pairs).
        task (str): ``'node'``, ``'graph'`` or ``'edge'`` (link prediction).
        num_nodes (int): Nodes of the graph.
        computation_edges (Tensor): Sorted ids of the edges whose messages can
            reach the explained output (the computation subgraph); the
            attribution of every other edge is 0.
        layer_names (list[str]): Name of the module making each message-passing
            call, in call order (one per row of ``layer_masks``); their number
            is the hops the explained output depends on.
        own_edge_layers (list[str]): The calls among ``layer_names`` whose
            messages run along edges the model builds in ``forward`` from no
            input edge (an attentive readout's node-to-graph edges): they keep
            weight 1 and carry no edge's attribution.
        pair (tuple[int, int], optional): For an edge task on a homogeneous
            graph, the scored pair's nodes ``(u, v)``; else ``None``.
        feature_mask (Tensor or None): With ``explain(..., features=True)``,
            the attribution of every node feature, shaped like the node
            features, ``(N, F)``, exactly zero for nodes whose features cannot
            reach the explained output (for ``'gnnexplainer'``, its feature
            mask: ``(N, 1)``, ``(N, F)`` or ``(1, F)`` by its
            ``node_mask_type``); else ``None``.
        node_mask (Tensor or None): The attribution of every node, ``(N,)``:
            :math:`n_v = \sum_f a_{v,f}`, the sum of ``feature_mask`` over the
            node's features (:func:`node_mask_of` with ``'object'``); ``None``
            without a ``feature_mask`` of one row per node.
    """

    edge_mask: Tensor
    layer_masks: Optional[Tensor]
    edge_index: Tensor
    target: int
    prediction: Tensor
    method: str
    index: int
    task: str
    num_nodes: int
    computation_edges: Tensor
    layer_names: List[str]
    own_edge_layers: List[str]
    pair: Optional[Tuple[int, int]] = field(default=None, kw_only=True)
    feature_mask: Optional[Tensor] = field(default=None, kw_only=True)
    node_mask: Optional[Tensor] = field(default=None, kw_only=True)

    @property
    def num_edges(self) -> int:
        r"""Edges of the graph, ``E``."""
        return self.edge_index.size(1)

    def topk(self, k: int, absolute: bool = False) -> EdgeRanking:
        r"""The ``k`` edges of highest attribution.

        Ties are broken by the lower edge id, so the ranking is deterministic.

        Args:
            k (int): How many edges, ``0 <= k <= E``.
            absolute (bool, optional): Rank by :math:`|a_e|` (evidence for or
                against the target) instead of the signed :math:`a_e` (evidence
                for it). (default: ``False``)

        Returns:
            EdgeRanking: ``(values, indices)``, best first; ``values`` are the
            signed attributions also when ranking by magnitude.
        """
        return _ranking(self.edge_mask, k, absolute)

    def subgraph(self, k: Optional[int] = None, absolute: bool = False) -> EdgeSubgraph:
        r"""The explanation subgraph: the top ``k`` edges, or every edge of positive attribution.

        Without ``k`` this is the evidence for the target, :math:`\{e : a_e > 0\}`:
        for ``gradient_sign`` exactly the edges the rule keeps.

        Args:
            k (int, optional): Keep the ``k`` best edges of :meth:`topk`.
            absolute (bool, optional): With ``k``, rank by magnitude. (default: ``False``)

        Returns:
            EdgeSubgraph: The selected edges in edge-id order, and their nodes.
        """
        if k is None:
            edge_ids = (self.edge_mask > 0).nonzero().view(-1)
        else:
            edge_ids = self.topk(k, absolute).indices.sort().values
        edge_index = self.edge_index[:, edge_ids]
        nodes = torch.cat([edge_index.reshape(-1), torch.tensor(self.explained_nodes, dtype=torch.long, device=edge_index.device)])
        return EdgeSubgraph(edge_ids, edge_index, self.edge_mask[edge_ids], torch.unique(nodes))

    @property
    def explained_nodes(self) -> List[int]:
        r"""The nodes whose output is explained: the node of a node task, the pair of an edge task, none for a graph."""
        if self.task == "node":
            return [self.index]
        return list(self.pair) if self.pair is not None else []

    def to_networkx(self) -> "networkx.MultiDiGraph":
        r"""The graph with its attributions, as a ``networkx.MultiDiGraph``.

        Every edge ``e`` becomes ``(src, dst, key=e)`` with the attribute
        ``attribution`` (and ``layer_attributions``, a list of ``L`` values, when
        layerwise), so that parallel edges stay apart. Nodes are ``0 .. N-1``,
        each with its ``attribution`` when the explanation has a ``node_mask``;
        the explained node of a node task, and the scored pair of an edge task,
        have ``target=True``. The graph's
        attributes hold ``method``, ``target``, ``index`` and ``task``.

        Returns:
            networkx.MultiDiGraph
        """
        import networkx as nx

        graph = nx.MultiDiGraph(method=self.method, target=self.target, index=self.index, task=self.task)
        graph.add_nodes_from(range(self.num_nodes))
        if self.node_mask is not None:
            for node, value in enumerate(self.node_mask.tolist()):
                graph.nodes[node]["attribution"] = value
        for node in self.explained_nodes:
            graph.nodes[node]["target"] = True
        layers = self.layer_masks.t().tolist() if self.layer_masks is not None else None
        for e, ((u, v), value) in enumerate(zip(self.edge_index.t().tolist(), self.edge_mask.tolist())):
            attributes = {"attribution": value}
            if layers is not None:
                attributes["layer_attributions"] = layers[e]
            graph.add_edge(u, v, key=e, **attributes)
        return graph

    def to_pyg(self) -> "Explanation":
        r"""The explanation as PyG's ``torch_geometric.explain.Explanation``.

        It holds ``edge_index``, ``edge_mask`` ``(E,)``, ``target``,
        ``prediction``, ``index`` and ``num_nodes``, and when layerwise the
        layer masks transposed to an edge attribute, ``layer_edge_mask``
        ``(E, L)``, so that PyG's edge subgraphs slice them with the edges.
        With node attributions, ``node_mask`` is ``feature_mask`` as PyG
        shapes it, ``(N, F)``, ``(N, 1)`` or ``(1, F)`` (else ``node_mask``
        as ``(N, 1)``), so that PyG's node subgraphs, its feature-importance
        plot and its masked predictions read it.

        Returns:
            torch_geometric.explain.Explanation
        """
        from torch_geometric.explain import Explanation

        extra = {} if self.layer_masks is None else {"layer_edge_mask": self.layer_masks.t()}
        if self.feature_mask is not None:
            extra["node_mask"] = self.feature_mask.reshape(self.feature_mask.size(0), -1)
        elif self.node_mask is not None:
            extra["node_mask"] = self.node_mask.view(-1, 1)
        return Explanation(
            edge_index=self.edge_index,
            edge_mask=self.edge_mask,
            target=torch.tensor([self.target], device=self.edge_mask.device),
            prediction=self.prediction,
            index=self.index,
            num_nodes=self.num_nodes,
            **extra,
        )

    def plot(self, path: str, layers: bool = True, node_colors: Optional[List[str]] = None, seed: int = 0) -> "matplotlib.figure.Figure":
        r"""Draws the computation subgraph coloured by signed attribution (see :func:`edgeattr.plotting.plot_edge_attribution`).

        Args:
            path (str): Output file (PNG, PDF or SVG, by suffix).
            layers (bool, optional): When explained layerwise, one panel per
                layer; else one panel of ``edge_mask``. (default: ``True``)
            node_colors (list[str], optional): Fill colour of every node;
                default, where the explanation has a ``node_mask``, each
                node's attribution on a diverging scale of its own.
            seed (int, optional): Seed of the layout. (default: ``0``)

        Returns:
            matplotlib.figure.Figure: The figure written (closed).
        """
        from edgeattr.plotting import plot_edge_attribution

        layer_masks = self.layer_masks if layers else None
        per_layer = layer_masks is not None
        explained = {"node": f"node {self.index}", "graph": f"graph {self.index}"}.get(self.task, f"pair {self.pair or self.index}")
        return plot_edge_attribution(
            self.edge_index,
            layer_masks if layer_masks is not None else self.edge_mask,
            self.index if self.task == "node" else self.pair,
            path,
            node_colors=node_colors,
            title=f"{self.method}, class {self.target}, {explained}",
            seed=seed,
            edges=self.computation_edges,
            panel_titles=[f"layer {i}: {name}" for i, name in enumerate(self.layer_names)] if per_layer else None,
            node_values=self.node_mask if node_colors is None else None,
        )


def node_mask_of(feature_attribution: Tensor, node_mask_type: str) -> Tensor:
    r"""A node mask of one of PyG's types from an attribution of every node feature.

    .. math::
        \texttt{object}_v = \sum_f a_{v,f}, \qquad
        \texttt{attributes}_{v,f} = a_{v,f}, \qquad
        \texttt{common\_attributes}_f = \sum_v a_{v,f}

    Sums keep an attribution's completeness (Integrated Gradients' attributions
    of a node's features add up to that node's share of the output change).

    Args:
        feature_attribution (Tensor): One value per node and feature, ``(N, F)``.
        node_mask_type (str): ``'object'``, ``'attributes'`` or ``'common_attributes'``.

    Returns:
        Tensor: ``(N, 1)``, ``(N, F)`` or ``(1, F)``.
    """
    if feature_attribution.dim() != 2:
        raise ValueError(f"feature_attribution must have shape (N, F), got {tuple(feature_attribution.shape)}")
    if node_mask_type == "object":
        return feature_attribution.sum(1, keepdim=True)
    if node_mask_type == "common_attributes":
        return feature_attribution.sum(0, keepdim=True)
    if node_mask_type == "attributes":
        return feature_attribution
    raise ValueError(f"node_mask_type must be 'object', 'attributes' or 'common_attributes', got {node_mask_type!r}")


def _ranking(edge_mask: Tensor, k: int, absolute: bool) -> EdgeRanking:
    """The ``k`` best entries of ``edge_mask`` ``(E,)``, ties broken by the lower position."""
    if not 0 <= k <= edge_mask.numel():
        raise ValueError(f"k must be between 0 and the number of edges ({edge_mask.numel()}), got {k}")
    order = top_edges(edge_mask.abs() if absolute else edge_mask, k)
    return EdgeRanking(edge_mask[order], order)


def top_edges(scores: Tensor, k: int) -> Tensor:
    r"""Positions of the ``k`` largest scores along the last dimension, best first, ties broken by the lower position.

    Args:
        scores (Tensor): Shape ``(..., E)``.
        k (int): How many, at most ``E``.

    Returns:
        Tensor: Edge positions, shape ``(..., k)``.
    """
    return torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]


@dataclass
class HeteroEdgeExplanation(EdgeExplanation):
    r"""The attribution of one prediction to the edges of a heterogeneous graph, per edge type.

    Made by :func:`edgeattr.explain` for a PyG model called with ``x_dict,
    edge_index_dict`` (or a ``HeteroData``) and for a DGL heterograph. The
    inherited tensors are flat, edge type after edge type in the order of
    :attr:`edge_types` (the adapter's mask order: ``edge_index_dict`` for PyG,
    ``graph.canonical_etypes`` for DGL) and by edge id within a type, so that
    ``edge_mask`` is ``(E,)`` with :math:`E = \sum_t E_t`; the ``*_dict``
    properties key them by edge type, as the framework keys edge types:

    - :attr:`edge_mask_dict`: ``{edge type: (E_t,)}``;
    - :attr:`layer_masks_dict`: ``{edge type: (L, E_t)}`` when layerwise;
    - :attr:`edge_index_dict`: ``{edge type: (2, E_t)}``, node ids of the
      source and destination types.

    :meth:`topk` ranks all edges together and returns flat positions;
    :meth:`locate` names their edge type and id. :meth:`to_pyg` gives PyG's
    ``HeteroExplanation``, whose ``get_explanation_subgraph`` and
    ``visualize_graph`` take the place of :meth:`subgraph`, :meth:`plot` and
    :meth:`to_networkx` (node ids are per node type, so a flat graph of them
    would merge unrelated nodes; these three raise).

    Attributes:
        num_edges_dict (dict[EdgeType, int]): Edges per edge type, in mask order.
        node_type (str or None): The node type of the explained node, for a
            model returning outputs per node type; else ``None``.
        num_nodes_dict (dict[str, int]): Nodes per node type.

    The inherited ``index`` is the explained node's id within ``node_type``
    (node task) or the graph's id; ``num_nodes`` counts the nodes of all types;
    ``computation_edges`` holds the flat positions of the edges whose
    messages can reach the explained output.
    """

    num_edges_dict: Dict[EdgeType, int]
    node_type: Optional[str]
    num_nodes_dict: Dict[str, int]

    @property
    def edge_types(self) -> List[EdgeType]:
        r"""The edge types, in mask order."""
        return list(self.num_edges_dict)

    def split(self, values: Tensor) -> Dict[EdgeType, Tensor]:
        r"""Keys the last dimension of flat ``values`` ``(..., E)`` by edge type.

        Args:
            values (Tensor): Values over all edges in mask order, ``(..., E)``.

        Returns:
            dict[EdgeType, Tensor]: ``{edge type: (..., E_t)}``, in mask order.
        """
        if values.size(-1) != self.num_edges:
            raise ValueError(f"values must have {self.num_edges} entries in their last dimension, got {tuple(values.shape)}")
        return dict(zip(self.edge_types, values.split(list(self.num_edges_dict.values()), dim=-1)))

    @property
    def edge_mask_dict(self) -> Dict[EdgeType, Tensor]:
        r"""The attribution per edge type, ``{edge type: (E_t,)}``."""
        return self.split(self.edge_mask)

    @property
    def layer_masks_dict(self) -> Optional[Dict[EdgeType, Tensor]]:
        r"""The attribution per call and edge, per edge type, ``{edge type: (L, E_t)}``; ``None`` unless layerwise."""
        return None if self.layer_masks is None else self.split(self.layer_masks)

    @property
    def edge_index_dict(self) -> Dict[EdgeType, Tensor]:
        r"""The edges per edge type, ``{edge type: (2, E_t)}``, in their own node types' ids."""
        return self.split(self.edge_index)

    def locate(self, positions: Tensor) -> List[Tuple[EdgeType, int]]:
        r"""The edge type and id within it of flat positions, e.g. the ``indices`` of :meth:`topk`.

        Args:
            positions (Tensor): Positions in the flat mask, ``(K,)``.

        Returns:
            list[tuple[EdgeType, int]]: ``(edge type, edge id)`` per position.
        """
        if positions.numel() and not 0 <= int(positions.min()) <= int(positions.max()) < self.num_edges:
            raise IndexError(f"positions must lie in [0, {self.num_edges}), got {positions.tolist()}")
        starts = torch.tensor([0] + list(self.num_edges_dict.values())).cumsum(0)
        types = torch.searchsorted(starts, positions.cpu(), right=True) - 1
        return [(self.edge_types[t], int(p - starts[t])) for t, p in zip(types.tolist(), positions.cpu().tolist())]

    def to_pyg(self) -> "HeteroExplanation":
        r"""The explanation as PyG's ``torch_geometric.explain.HeteroExplanation``.

        Each edge type's store holds ``edge_index`` ``(2, E_t)`` and
        ``edge_mask`` ``(E_t,)`` (and when layerwise ``layer_edge_mask``
        ``(E_t, L)``, so that PyG's subgraphs slice it with the edges); each
        node type's store holds ``num_nodes``; ``target``, ``prediction`` and
        ``index`` are global.

        Returns:
            torch_geometric.explain.HeteroExplanation
        """
        from torch_geometric.explain import HeteroExplanation

        explanation = HeteroExplanation()
        explanation.set_value_dict("edge_index", self.edge_index_dict)
        explanation.set_value_dict("edge_mask", self.edge_mask_dict)
        if self.layer_masks is not None:
            explanation.set_value_dict("layer_edge_mask", {t: m.t() for t, m in self.split(self.layer_masks).items()})
        for node_type, count in self.num_nodes_dict.items():
            explanation[node_type].num_nodes = count
        explanation.target = torch.tensor([self.target], device=self.edge_mask.device)
        explanation.prediction, explanation.index = self.prediction, self.index
        return explanation

    def subgraph(self, k: Optional[int] = None, absolute: bool = False) -> EdgeSubgraph:
        r"""Not available per edge type: raises, naming what to use instead."""
        _per_type_only("subgraph()", "to_pyg().get_explanation_subgraph(), or edge_mask_dict")

    def to_networkx(self) -> "networkx.MultiDiGraph":
        r"""Not available per edge type: raises, naming what to use instead."""
        _per_type_only("to_networkx()", "to_pyg(), or edge_mask_dict and edge_index_dict")

    def plot(self, path: str, layers: bool = True, node_colors: Optional[List[str]] = None, seed: int = 0) -> "matplotlib.figure.Figure":
        r"""Not available per edge type: raises, naming what to use instead."""
        _per_type_only("plot()", "to_pyg().visualize_graph(path)")


def _per_type_only(what: str, instead: str) -> NoReturn:
    raise NotImplementedError(
        f"{what} draws one graph with one id per node, but a heterogeneous explanation numbers nodes per node type; "
        f"use {instead}"
    )


__all__ = ["EdgeExplanation", "EdgeRanking", "EdgeSubgraph", "HeteroEdgeExplanation", "node_mask_of"]

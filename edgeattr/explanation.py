r"""An edge explanation of one prediction, with ways to rank, cut, convert and draw it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, NamedTuple, Optional

import torch
from torch import Tensor

if TYPE_CHECKING:
    import matplotlib.figure
    import networkx
    from torch_geometric.explain import Explanation


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
    r"""The attribution of one prediction (one node or one graph) to the edges of the input graph.

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
        index (int): The explained node id (node task) or graph id (graph task).
        task (str): ``'node'`` or ``'graph'``.
        num_nodes (int): Nodes of the graph.
        computation_edges (Tensor): Sorted ids of the edges whose messages can
            reach the explained output (the computation subgraph); the
            attribution of every other edge is 0.
        layer_names (list[str]): Name of the module making each message-passing
            call, in call order (one per row of ``layer_masks``); their number
            is the hops the explained output depends on.
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
        if not 0 <= k <= self.num_edges:
            raise ValueError(f"k must be between 0 and the number of edges ({self.num_edges}), got {k}")
        score = self.edge_mask.abs() if absolute else self.edge_mask
        order = torch.sort(score, descending=True, stable=True).indices[:k]
        return EdgeRanking(self.edge_mask[order], order)

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
        nodes = edge_index.reshape(-1)
        if self.task == "node":
            nodes = torch.cat([nodes, torch.tensor([self.index], device=nodes.device)])
        return EdgeSubgraph(edge_ids, edge_index, self.edge_mask[edge_ids], torch.unique(nodes))

    def to_networkx(self) -> "networkx.MultiDiGraph":
        r"""The graph with its attributions, as a ``networkx.MultiDiGraph``.

        Every edge ``e`` becomes ``(src, dst, key=e)`` with the attribute
        ``attribution`` (and ``layer_attributions``, a list of ``L`` values, when
        layerwise), so that parallel edges stay apart. Nodes are ``0 .. N-1``;
        the explained node of a node task has ``target=True``. The graph's
        attributes hold ``method``, ``target``, ``index`` and ``task``.

        Returns:
            networkx.MultiDiGraph
        """
        import networkx as nx

        graph = nx.MultiDiGraph(method=self.method, target=self.target, index=self.index, task=self.task)
        graph.add_nodes_from(range(self.num_nodes))
        if self.task == "node":
            graph.nodes[self.index]["target"] = True
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

        Returns:
            torch_geometric.explain.Explanation
        """
        from torch_geometric.explain import Explanation

        extra = {} if self.layer_masks is None else {"layer_edge_mask": self.layer_masks.t()}
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
            node_colors (list[str], optional): Fill colour of every node.
            seed (int, optional): Seed of the layout. (default: ``0``)

        Returns:
            matplotlib.figure.Figure: The figure written (closed).
        """
        from edgeattr.plotting import plot_edge_attribution

        layer_masks = self.layer_masks if layers else None
        per_layer = layer_masks is not None
        what = f"{self.method}, class {self.target}, " + (f"node {self.index}" if self.task == "node" else f"graph {self.index}")
        return plot_edge_attribution(
            self.edge_index,
            layer_masks if layer_masks is not None else self.edge_mask,
            self.index if self.task == "node" else None,
            path,
            node_colors=node_colors,
            title=what,
            seed=seed,
            edges=self.computation_edges,
            panel_titles=[f"layer {i}: {name}" for i, name in enumerate(self.layer_names)] if per_layer else None,
        )


__all__ = ["EdgeExplanation", "EdgeRanking", "EdgeSubgraph"]

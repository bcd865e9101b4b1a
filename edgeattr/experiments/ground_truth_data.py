r"""Synthetic graphs whose explanations are known: BA-Shapes, BA-2Motifs and PyG's infection graphs.

All three come from PyG's generators, offline. :class:`~torch_geometric.datasets.ExplainerDataset`
marks the edges of its motifs in ``edge_mask`` (1 inside a motif, 0 on the base graph and on the
edge that attaches a motif to it); :class:`~torch_geometric.datasets.InfectionDataset` labels each
node with its distance to the nearest infected node. From these, the ground truth of one
explanation is:

- BA-Shapes (node task): the edges of the house the explained node belongs to;
- BA-2Motifs (graph task): the edges of the graph's motif (a house or a 5-cycle);
- infection (node task): the edges of the unique shortest path from an infected node to the
  explained node, in the direction the infection travels (source to target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from torch import Tensor
from torch_geometric import seed_everything
from torch_geometric.data import Data
from torch_geometric.datasets import ExplainerDataset
from torch_geometric.datasets.graph_generator import BAGraph
from torch_geometric.datasets.motif_generator import CycleMotif, HouseMotif

#: BA-2Motifs: the graph label of each motif.
MOTIF_LABELS = {"house": 0, "cycle": 1}


@dataclass
class ExplainedTarget:
    r"""One prediction to explain and the edges that explain it.

    Attributes:
        id (int): The node id (node tasks) or the graph's position among the test graphs (graph tasks).
        x (Tensor): Node features of the graph the model is called on.
        edge_index (Tensor): Its edges ``(2, E)``.
        index (int, optional): The explained node; ``None`` for a graph task (the whole graph).
        truth (Tensor): Bool ``(E,)``, ``True`` on the ground-truth edges.
    """

    id: int
    x: Tensor
    edge_index: Tensor
    index: Optional[int]
    truth: Tensor


@dataclass
class GroundTruthTask:
    r"""A dataset with known explanations, its trained model and the targets to explain.

    Attributes:
        name (str): The dataset's name in the result files.
        level (str): ``"node"`` or ``"graph"``, PyG's task level.
        model (torch.nn.Module): The trained model, in eval mode, called ``model(x, edge_index)``.
        mode (str): What its output means (:mod:`edgeattr.modes`), PyG's ``ModelConfig`` mode.
        model_name (str): The architecture, as the result files name it.
        targets (list[ExplainedTarget]): The explained predictions.
        training (dict): The model's accuracies.
    """

    name: str
    level: str
    model: torch.nn.Module
    mode: str
    model_name: str
    targets: List[ExplainedTarget]
    training: Dict[str, float] = field(default_factory=dict)


def ba_shapes(num_nodes: int = 300, num_edges: int = 5, num_motifs: int = 80, seed: int = 0) -> Data:
    r"""The BA-Shapes graph: a Barabási–Albert graph with ``num_motifs`` houses attached to random nodes.

    Args:
        num_nodes (int): Nodes of the Barabási–Albert graph. (default: ``300``)
        num_edges (int): Edges each new node of it brings. (default: ``5``)
        num_motifs (int): Houses attached, 5 nodes each. (default: ``80``)
        seed (int): Seed of the generators. (default: ``0``)

    Returns:
        :class:`~torch_geometric.data.Data` with constant features ``x`` ``(N, 1)``,
        ``edge_index``, ``y`` (0 base graph; 1, 2, 3 the top, middle and bottom of a house),
        ``edge_mask`` (1 on house edges) and ``motif`` (the house of each node, -1 for the base graph).
    """
    seed_everything(seed)  # PyG's Barabási–Albert generator draws from NumPy as well as torch
    graph = ExplainerDataset(BAGraph(num_nodes, num_edges), HouseMotif(), num_motifs=num_motifs)[0]
    motif = motif_instances(graph.edge_index, graph.edge_mask, graph.num_nodes)
    return Data(x=torch.ones(graph.num_nodes, 1), edge_index=graph.edge_index, y=graph.y, edge_mask=graph.edge_mask, motif=motif)


def ba_2motifs(num_graphs: int = 1000, num_nodes: int = 20, seed: int = 0) -> List[Data]:
    r"""BA-2Motifs: Barabási–Albert trees with one motif each, a house (label 0) or a 5-cycle (label 1).

    Half the graphs carry each motif; they come back in a seeded random order.

    Args:
        num_graphs (int): Graphs, at least 2. (default: ``1000``)
        num_nodes (int): Nodes of each Barabási–Albert tree (one edge per new node). (default: ``20``)
        seed (int): Seed of the generators and of the order. (default: ``0``)

    Returns:
        list[Data]: Graphs with constant features ``x`` ``(N, 1)``, ``edge_index``, ``y`` ``(1,)``
        and ``edge_mask`` (1 on the motif's edges).
    """
    if num_graphs < 2:
        raise ValueError(f"num_graphs must be at least 2 (one per motif), got {num_graphs}")
    seed_everything(seed)
    graphs = []
    for (name, label), count in zip(MOTIF_LABELS.items(), (num_graphs // 2, num_graphs - num_graphs // 2)):
        motif = HouseMotif() if name == "house" else CycleMotif(5)
        for graph in ExplainerDataset(BAGraph(num_nodes, 1), motif, num_motifs=1, num_graphs=count):
            graphs.append(Data(x=torch.ones(graph.num_nodes, 1), edge_index=graph.edge_index, y=torch.tensor([label]), edge_mask=graph.edge_mask))
    order = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(seed)).tolist()
    return [graphs[i] for i in order]


def motif_instances(edge_index: Tensor, edge_mask: Tensor, num_nodes: int) -> Tensor:
    r"""Which motif each node belongs to: the connected components of the motif edges.

    Args:
        edge_index (Tensor): Edges ``(2, E)``.
        edge_mask (Tensor): Nonzero on motif edges ``(E,)``.
        num_nodes (int): Nodes of the graph.

    Returns:
        Long tensor ``(N,)``: the smallest node id of the node's motif, -1 for a node in no motif.
    """
    source, target = edge_index[:, edge_mask != 0]
    component = torch.arange(num_nodes)
    while True:  # each round spreads the smallest id one hop; a motif's diameter bounds the rounds
        spread = component.scatter_reduce(0, target, component[source], "amin")
        if torch.equal(spread, component):
            break
        component = spread
    in_motif = torch.zeros(num_nodes, dtype=torch.bool)
    in_motif[source] = in_motif[target] = True
    return torch.where(in_motif, component, torch.full_like(component, -1))


def own_motif_edges(graph: Data, node: int) -> Tensor:
    r"""The BA-Shapes ground truth of ``node``: the edges of its own house.

    Args:
        graph (Data): A graph of :func:`ba_shapes`.
        node (int): A node of a house.

    Returns:
        Bool tensor ``(E,)``.

    Raises:
        ValueError: for a node of the base graph, which has no ground truth.
    """
    instance = int(graph.motif[node])
    if instance < 0:
        raise ValueError(f"node {node} belongs to no motif, so its explanation has no ground truth")
    inside = graph.motif == instance
    return (graph.edge_mask != 0) & inside[graph.edge_index[0]] & inside[graph.edge_index[1]]


def hops_to(edge_index: Tensor, node: int, num_nodes: int, max_hops: int) -> Tensor:
    r"""Length of the shortest directed walk from every node to ``node``, up to ``max_hops``.

    Returns:
        Long tensor ``(N,)``; ``max_hops + 1`` for nodes farther away.
    """
    hops = torch.full((num_nodes,), max_hops + 1, dtype=torch.long)
    hops[node] = 0
    for step in range(1, max_hops + 1):
        sources = edge_index[0, hops[edge_index[1]] == step - 1]
        hops.scatter_reduce_(0, sources, torch.full_like(sources, step), "amin")
    return hops


def infection_path_edges(graph: Data, node: int) -> Tensor:
    r"""The edges that lie on a shortest path from an infected node to ``node``.

    PyG's ``y`` is each node's distance from the infection (0 infected, ``max_path_length + 1``
    beyond the longest labelled distance), so edge :math:`a \to b` lies on such a path exactly when
    :math:`y_a + 1 + d(b, \text{node}) = y_{\text{node}}`. The path is unique exactly when
    there are :math:`y_{\text{node}}` such edges (every shortest path takes one edge per step).

    Args:
        graph (Data): An infection graph (``edge_index``, ``y``).
        node (int): The explained node.

    Returns:
        Bool tensor ``(E,)``; all ``False`` for an infected node.
    """
    distance = int(graph.y[node])
    to_node = hops_to(graph.edge_index, node, graph.num_nodes, distance)
    source, target = graph.edge_index
    return (graph.y[source] + 1 + to_node[target] == distance) & (distance > 0)


def unique_path_nodes(graph: Data, max_path_length: int) -> Tensor:
    r"""Nodes at distance 1 to ``max_path_length`` from the infection that it reaches along exactly one shortest path.

    Returns:
        Long tensor of node ids, increasing.
    """
    candidates = ((graph.y >= 1) & (graph.y <= max_path_length)).nonzero().view(-1).tolist()
    unique = [node for node in candidates if int(infection_path_edges(graph, node).sum()) == int(graph.y[node])]
    return torch.tensor(unique, dtype=torch.long)


__all__ = [
    "ExplainedTarget", "GroundTruthTask", "ba_shapes", "ba_2motifs", "motif_instances", "own_motif_edges", "hops_to", "infection_path_edges", "unique_path_nodes", "MOTIF_LABELS",
]

r"""The two recipes of the negative-evidence experiment: its graphs and how the model is trained on them.

``edgeattr`` draws every white node's link counts at random from one seeded
torch generator per graph and trains with one full-batch Adam step per epoch on
the disjoint union of the training graphs. ``paper`` is the reference
notebooks' recipe: one seed, set once, drives Python's ``random`` through the
construction of the four training graphs and then the test graph; the white
nodes take the ordered tuples of distinct counts in turn (:func:`count_cycle`);
and each epoch takes one Adam step per training graph, in order.
"""

from __future__ import annotations

import itertools
import random
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from edgeattr.experiments.synthetic import coloured_graph, negative_evidence_graph
from edgeattr.experiments.training import RECIPES, classification_loss, node_accuracy


def count_cycle(num_colours: int, min_links: int, max_links: int) -> List[Tuple[int, ...]]:
    r"""The ordered tuples of distinct link counts that the reference's white nodes take in turn.

    All ``k``-permutations of :math:`\{\text{min\_links}, \dots, \text{max\_links}\}`
    with ``k = num_colours``, in lexicographic order; white node ``i`` (counted
    among the white nodes) gets tuple ``i mod len``, one count per colour.

    Args:
        num_colours (int): Colours, i.e. the tuple length.
        min_links (int): Smallest count.
        max_links (int): Largest count.

    Returns:
        list[tuple[int, ...]]: The cycle, e.g. ``[(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]`` for 2 colours and counts 1 to 3.
    """
    if max_links - min_links + 1 < num_colours:
        raise ValueError(f"distinct counts for {num_colours} colours need at least {num_colours} values in [min_links, max_links], got [{min_links}, {max_links}]")
    return list(itertools.permutations(range(min_links, max_links + 1), num_colours))


def cycled_negative_evidence_graph(
    rng: random.Random,
    num_nodes: int = 2000,
    nodes_per_colour: int = 10,
    num_colours: int = 2,
    min_links: int = 1,
    max_links: int = 10,
    p_white: float = 0.005,
) -> Data:
    r"""The reference's negative-evidence graph, drawn from ``rng`` call for call as its notebooks draw it.

    Nodes ``0 .. C*nodes_per_colour - 1`` are coloured (``nodes_per_colour`` per
    colour, in order), the rest white. First every pair of white nodes
    :math:`u < v`, in order, is linked when ``rng.random() < p_white``; then
    white node ``i`` takes the counts ``count_cycle(...)[i mod len]`` and is
    linked to ``rng.sample(colour_nodes, k_c)`` for each colour ``c`` in turn.
    Its label is the colour of the largest count (0-based). The edges come in
    the order of an insertion-ordered adjacency list (node by node, each
    node's neighbours in the order their edges were added), both directions.

    Args:
        rng (random.Random): The generator; the reference seeds Python's
            ``random`` once and builds the training graphs, then the test graph, from it.
        num_nodes (int): All nodes. (default: ``2000``)
        nodes_per_colour (int): Coloured nodes per colour. (default: ``10``)
        num_colours (int): Colours. (default: ``2``)
        min_links (int): Smallest count of the cycle. (default: ``1``)
        max_links (int): Largest count, at most ``nodes_per_colour``. (default: ``10``)
        p_white (float): White-white edge probability. (default: ``0.005``)

    Returns:
        :class:`~torch_geometric.data.Data` with the fields of
        :func:`~edgeattr.experiments.synthetic.negative_evidence_graph`.
    """
    if max_links > nodes_per_colour:
        raise ValueError(f"max_links <= nodes_per_colour is needed so that links do not repeat; got {max_links} > {nodes_per_colour}")
    cycle = count_cycle(num_colours, min_links, max_links)
    num_coloured = num_colours * nodes_per_colour
    if num_nodes <= num_coloured:
        raise ValueError(f"num_nodes must exceed the {num_coloured} coloured nodes, got {num_nodes}")
    white = range(num_coloured, num_nodes)
    neighbours: List[List[int]] = [[] for _ in range(num_nodes)]

    def link(u: int, v: int) -> None:
        neighbours[u].append(v)
        neighbours[v].append(u)

    for u, v in itertools.combinations(white, 2):
        if rng.random() < p_white:
            link(u, v)
    groups = [list(range(c * nodes_per_colour, (c + 1) * nodes_per_colour)) for c in range(num_colours)]
    counts = torch.zeros(num_nodes, num_colours, dtype=torch.long)
    for i, node in enumerate(white):
        counts[node] = torch.tensor(cycle[i % len(cycle)])
        for group, k in zip(groups, cycle[i % len(cycle)]):
            for u in rng.sample(group, k):
                link(node, u)

    edge_index = torch.tensor([[u, v] for u in range(num_nodes) for v in neighbours[u]], dtype=torch.long).t()
    return coloured_graph(edge_index, counts, nodes_per_colour)


def recipe_graphs(recipe: str, shape: Mapping[str, int | float], num_train: int, seed: int) -> Tuple[List[Data], Data]:
    r"""The training graphs and the test graph of ``recipe``.

    ``edgeattr``: :func:`~edgeattr.experiments.synthetic.negative_evidence_graph`
    with distinct counts, the test graph from ``seed`` and training graph ``i``
    from ``seed + 1 + i``. ``paper``: :func:`cycled_negative_evidence_graph`,
    the training graphs and then the test graph from one ``random.Random(seed)``.

    Args:
        recipe (str): ``'paper'`` or ``'edgeattr'``.
        shape (Mapping): ``num_nodes``, ``nodes_per_colour``, ``num_colours``, ``min_links``, ``max_links``, ``p_white``.
        num_train (int): Training graphs.
        seed (int): The seed.

    Returns:
        tuple: ``(training graphs, test graph)``.
    """
    if recipe == "edgeattr":
        test = negative_evidence_graph(**shape, seed=seed, distinct=True)  # type: ignore[arg-type]
        return [negative_evidence_graph(**shape, seed=seed + 1 + i, distinct=True) for i in range(num_train)], test  # type: ignore[arg-type]
    if recipe == "paper":
        rng = random.Random(seed)
        graphs = [cycled_negative_evidence_graph(rng, **shape) for _ in range(num_train + 1)]  # type: ignore[arg-type]
        return graphs[:-1], graphs[-1]
    raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")


def train_per_graph(model: torch.nn.Module, graphs: Sequence[Data], masks: Sequence[Tensor], epochs: int, lr: float, l1: float) -> float:
    r"""Trains as the reference does: per epoch one Adam step on each graph in turn; the last epoch is kept.

    The loss of a step is :func:`~edgeattr.experiments.training.classification_loss`
    on the graph's masked nodes plus ``l1`` times the L1 norm of the parameters.
    Nothing is random: the initial weights are the model's.

    Args:
        model (Module): Maps ``(x, edge_index)`` to logits ``(N, C)``.
        graphs (Sequence[Data]): The training graphs, in the order of the steps.
        masks (Sequence[Tensor]): Bool ``(N,)`` per graph: the nodes trained on.
        epochs (int): Epochs; ``epochs * len(graphs)`` steps in all.
        lr (float): Adam's learning rate.
        l1 (float): L1 penalty.

    Returns:
        float: Accuracy on the masked nodes of all the graphs after training (eval mode).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for graph, mask in zip(graphs, masks):
            model.train()
            optimizer.zero_grad()
            loss = classification_loss(model(graph.x, graph.edge_index)[mask], graph.y[mask])
            loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())
            loss.backward()
            optimizer.step()
    correct = [node_accuracy(model, g.x, g.edge_index, g.y, m) * int(m.sum()) for g, m in zip(graphs, masks)]
    return sum(correct) / max(sum(int(m.sum()) for m in masks), 1)


def model_weights(model: torch.nn.Module) -> Dict[str, List[List[float]]]:
    r"""The trained parameters as nested lists, by name (a sum GraphSAGE has one ``(C, 1 + colours)`` matrix)."""
    return {name: p.detach().reshape(p.size(0), -1).tolist() for name, p in model.named_parameters()}

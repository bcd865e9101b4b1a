r"""Synthetic graphs generated offline."""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected


def negative_evidence_graph(
    num_nodes: int = 2000,
    nodes_per_colour: int = 10,
    num_colours: int = 2,
    max_links: int = 4,
    p_white: float = 0.005,
    seed: int = 0,
) -> Data:
    r"""The paper's negative-evidence graph.

    ``num_colours`` groups of ``nodes_per_colour`` coloured nodes (blue, red,
    and green for the 3-class variant); every other node is white and is
    linked to :math:`k_c \in \{0, \dots, \text{max\_links}\}` random nodes of
    each colour :math:`c`, drawn until one colour has a strict majority, which
    is its label. White nodes are linked among themselves with probability
    ``p_white``. Edges are undirected. Features are one-hot colours
    ``[white, colour_1, ...]``. For a model that sums neighbour features, a
    neighbour of the majority colour is positive evidence and a neighbour of
    another colour negative evidence for the label.

    Args:
        num_nodes (int): All nodes, coloured ones included. (default: ``2000``)
        nodes_per_colour (int): Coloured nodes per colour. (default: ``10``)
        num_colours (int): 2 (binary task) or more. (default: ``2``)
        max_links (int): Most links from a white node to one colour. (default: ``4``)
        p_white (float): White-white edge probability. (default: ``0.005``)
        seed (int): Seed of the generator. (default: ``0``)

    Returns:
        :class:`~torch_geometric.data.Data` with ``x`` ``(N, 1 + C)``,
        ``edge_index`` ``(2, E)``, ``y`` ``(N,)`` (the majority colour, 0-based;
        coloured nodes get their own colour) and ``white_mask`` ``(N,)``.
    """
    if num_colours < 2:
        raise ValueError(f"num_colours must be at least 2, got {num_colours}")
    num_coloured = num_colours * nodes_per_colour
    if num_nodes <= num_coloured:
        raise ValueError(f"num_nodes must exceed the {num_coloured} coloured nodes, got {num_nodes}")
    g = torch.Generator().manual_seed(seed)
    colour = torch.zeros(num_nodes, dtype=torch.long)  # 0 = white
    colour[:num_coloured] = torch.arange(num_colours).repeat_interleave(nodes_per_colour) + 1
    white = torch.arange(num_coloured, num_nodes)

    counts = torch.randint(0, max_links + 1, (white.numel(), num_colours), generator=g)
    tied = (counts == counts.max(1, keepdim=True).values).sum(1) > 1
    while tied.any():
        counts[tied] = torch.randint(0, max_links + 1, (int(tied.sum()), num_colours), generator=g)
        tied = (counts == counts.max(1, keepdim=True).values).sum(1) > 1

    sources, targets = [], []
    for c in range(num_colours):
        k = counts[:, c]
        receivers = white.repeat_interleave(k)
        ranks = torch.rand(white.numel(), nodes_per_colour, generator=g).argsort(1)  # links without repeats
        picks = ranks[torch.arange(nodes_per_colour).expand(white.numel(), -1) < k.view(-1, 1)]
        sources.append(picks + c * nodes_per_colour)
        targets.append(receivers)
    pairs = torch.rand(white.numel(), white.numel(), generator=g) < p_white
    pairs = torch.triu(pairs, diagonal=1).nonzero().T + num_coloured
    edge_index = torch.cat([torch.stack([torch.cat(sources), torch.cat(targets)]), pairs], 1)
    edge_index = coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)

    y = colour - 1
    y[white] = counts.argmax(1)
    x = torch.nn.functional.one_hot(colour, num_colours + 1).float()
    return Data(x=x, edge_index=edge_index, y=y, white_mask=colour == 0)

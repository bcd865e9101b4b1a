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
    min_links: int = 0,
    distinct: bool = False,
) -> Data:
    r"""The paper's negative-evidence graph.

    ``num_colours`` groups of ``nodes_per_colour`` coloured nodes (blue, red,
    and green for the 3-class variant); every other node is white and is
    linked to :math:`k_c \in \{\text{min\_links}, \dots, \text{max\_links}\}`
    distinct random nodes of each colour :math:`c`, the counts drawn until one
    colour has a strict majority (or, with ``distinct``, until all counts
    differ, as the paper's graphs have them), which is its label. White nodes are linked among themselves with probability
    ``p_white``. Edges are undirected. Features are one-hot colours
    ``[white, colour_1, ...]``. For a model that sums neighbour features, a
    neighbour of the majority colour is positive evidence and a neighbour of
    another colour negative evidence for the label.

    Args:
        num_nodes (int): All nodes, coloured ones included. (default: ``2000``)
        nodes_per_colour (int): Coloured nodes per colour. (default: ``10``)
        num_colours (int): 2 (binary task) or more. (default: ``2``)
        max_links (int): Most links from a white node to one colour, at most
            ``nodes_per_colour``. (default: ``4``)
        p_white (float): White-white edge probability. (default: ``0.005``)
        seed (int): Seed of the generator. (default: ``0``)
        min_links (int): Fewest links from a white node to one colour. (default: ``0``)
        distinct (bool): Draw until a white node's counts all differ, not
            only its largest. (default: ``False``)

    Returns:
        :class:`~torch_geometric.data.Data` with ``x`` ``(N, 1 + C)``,
        ``edge_index`` ``(2, E)``, ``y`` ``(N,)`` (the majority colour, 0-based;
        coloured nodes get their own colour), ``white_mask`` ``(N,)`` and
        ``link_counts`` ``(N, C)``: :math:`k_c` of each white node (0 for
        coloured nodes).
    """
    if num_colours < 2:
        raise ValueError(f"num_colours must be at least 2, got {num_colours}")
    num_coloured = num_colours * nodes_per_colour
    if num_nodes <= num_coloured:
        raise ValueError(f"num_nodes must exceed the {num_coloured} coloured nodes, got {num_nodes}")
    if not 0 <= min_links < max_links <= nodes_per_colour:
        raise ValueError(
            f"need 0 <= min_links < max_links <= nodes_per_colour so that one colour can lead and links do not "
            f"repeat; got min_links={min_links}, max_links={max_links}, nodes_per_colour={nodes_per_colour}"
        )
    if distinct and max_links - min_links + 1 < num_colours:
        raise ValueError(
            f"distinct counts for {num_colours} colours need at least {num_colours} values in "
            f"[min_links, max_links], got [{min_links}, {max_links}]; widen the range or pass distinct=False"
        )
    g = torch.Generator().manual_seed(seed)
    colour = torch.zeros(num_nodes, dtype=torch.long)  # 0 = white
    colour[:num_coloured] = torch.arange(num_colours).repeat_interleave(nodes_per_colour) + 1
    white = torch.arange(num_coloured, num_nodes)

    counts = torch.randint(min_links, max_links + 1, (white.numel(), num_colours), generator=g)
    tied = _tied(counts, distinct)
    while tied.any():
        counts[tied] = torch.randint(min_links, max_links + 1, (int(tied.sum()), num_colours), generator=g)
        tied = _tied(counts, distinct)

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

    link_counts = torch.zeros(num_nodes, num_colours, dtype=torch.long)
    link_counts[white] = counts
    return coloured_graph(edge_index, link_counts, nodes_per_colour)


def coloured_graph(edge_index: torch.Tensor, link_counts: torch.Tensor, nodes_per_colour: int) -> Data:
    r"""A negative-evidence graph from its edges and the white nodes' link counts.

    Nodes ``0 .. C * nodes_per_colour - 1`` are coloured, ``nodes_per_colour``
    per colour in order, the rest white; a coloured node's label is its colour,
    a white node's the colour of its largest count (0-based).

    Args:
        edge_index (Tensor): The edges, ``(2, E)``.
        link_counts (Tensor): :math:`k_c` of each white node, 0 for coloured nodes, ``(N, C)``.
        nodes_per_colour (int): Coloured nodes per colour.

    Returns:
        :class:`~torch_geometric.data.Data` as :func:`negative_evidence_graph` gives it.
    """
    num_nodes, num_colours = link_counts.shape
    num_coloured = num_colours * nodes_per_colour
    colour = torch.zeros(num_nodes, dtype=torch.long)  # 0 = white
    colour[:num_coloured] = torch.arange(num_colours).repeat_interleave(nodes_per_colour) + 1
    y = colour - 1
    y[num_coloured:] = link_counts[num_coloured:].argmax(1)
    x = torch.nn.functional.one_hot(colour, num_colours + 1).float()
    return Data(x=x, edge_index=edge_index, y=y, white_mask=colour == 0, link_counts=link_counts)


def _tied(counts: torch.Tensor, distinct: bool) -> torch.Tensor:
    r"""Rows of ``counts`` ``(W, C)`` to redraw: a tie for the largest, or with ``distinct`` any tie."""
    if distinct:
        ordered = counts.sort(1).values
        return (ordered[:, 1:] == ordered[:, :-1]).any(1)
    return (counts == counts.max(1, keepdim=True).values).sum(1) > 1

r"""Drawing an edge attribution around its target."""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor


def plot_edge_attribution(
    edge_index: Tensor,
    attribution: Tensor,
    target: int,
    path: str,
    node_colors: Optional[Sequence[str]] = None,
    title: str = "",
    seed: int = 0,
) -> None:
    r"""Writes a figure of the edges with non-zero attribution around ``target``.

    Edges are coloured by signed attribution on a diverging colour map centred
    at 0 (green supports the explained class, magenta opposes it), with a colour bar;
    an undirected pair is drawn once, with the attribution of larger magnitude.
    The target node is drawn larger, with a black ring.

    Args:
        edge_index (Tensor): Edges ``(2, E)``.
        attribution (Tensor): One value per edge, ``(E,)``.
        target (int): The explained node.
        path (str): Output file (PNG, PDF or SVG, by suffix).
        node_colors (Sequence[str], optional): Fill colour of every node.
        title (str, optional): Figure title.
        seed (int, optional): Seed of the layout. (default: ``0``)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    if attribution.dim() != 1 or attribution.numel() != edge_index.size(1):
        raise ValueError(
            f"attribution must have shape ({edge_index.size(1)},), one value per edge; got {tuple(attribution.shape)}"
        )
    values = attribution.detach().double().cpu()
    shown = {}
    for (u, v), value in zip(edge_index.t().tolist(), values.tolist()):
        if value == 0:
            continue
        key = (min(u, v), max(u, v))
        if key not in shown or abs(value) > abs(shown[key]):
            shown[key] = value
    graph = nx.Graph()
    graph.add_node(target)
    graph.add_edges_from(shown)
    edges = list(graph.edges())
    weights = [shown[(min(u, v), max(u, v))] for u, v in edges]
    limit = max((abs(w) for w in weights), default=1.0) or 1.0

    figure, axis = plt.subplots(figsize=(7, 6))
    layout = nx.spring_layout(graph, seed=seed)
    nodes = list(graph.nodes())
    fills = [node_colors[n] if node_colors is not None else "lightgrey" for n in nodes]
    sizes = [420 if n == target else 160 for n in nodes]
    edge_map = plt.get_cmap("PiYG")
    nx.draw_networkx_edges(graph, layout, edgelist=edges, edge_color=weights, edge_cmap=edge_map, edge_vmin=-limit, edge_vmax=limit, width=2.5, ax=axis)
    nx.draw_networkx_nodes(graph, layout, nodelist=nodes, node_color=fills, node_size=sizes, edgecolors="dimgray", ax=axis)
    nx.draw_networkx_nodes(graph, layout, nodelist=[target], node_color=[fills[nodes.index(target)]], node_size=520, edgecolors="black", linewidths=2.5, ax=axis)
    scale = plt.cm.ScalarMappable(cmap=edge_map, norm=plt.Normalize(-limit, limit))
    figure.colorbar(scale, ax=axis, label="edge attribution (signed)")
    axis.set_title(title or f"edge attribution for node {target}")
    axis.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


__all__ = ["plot_edge_attribution"]

r"""Drawing edge attributions around their target."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from torch import Tensor

#: Diverging colour map of every edge panel: green supports the explained class, magenta opposes it.
EDGE_COLOUR_MAP = "PiYG"

Pair = Tuple[int, int]


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
    import matplotlib.pyplot as plt

    title = title or f"edge attribution for node {target}"
    figure = edge_attribution_figure(edge_index, {title: attribution}, target, node_colors=node_colors, seed=seed, panel_size=(7, 6))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def edge_attribution_figure(
    edge_index: Tensor,
    panels: Mapping[str, Tensor],
    target: int,
    node_colors: Optional[Sequence[str]] = None,
    limits: Optional[Mapping[str, float]] = None,
    colorbar_labels: Optional[Mapping[str, str]] = None,
    seed: int = 0,
    panel_size: Tuple[float, float] = (5, 4.5),
) -> Any:
    r"""A figure with one panel per attribution, all drawn on the same layout around ``target``.

    The graph drawn is every undirected pair with a non-zero value in some
    panel; each panel draws all of them in light grey and colours its own
    non-zero pairs on the diverging map :data:`EDGE_COLOUR_MAP`, from
    :math:`-\ell` to :math:`\ell`, with a colour bar. An undirected pair takes
    the value of larger magnitude of its two directions.

    Args:
        edge_index (Tensor): Edges ``(2, E)``.
        panels (Mapping[str, Tensor]): Panel title -> one value per edge, ``(E,)``.
        target (int): The explained node, drawn larger, with a black ring.
        node_colors (Sequence[str], optional): Fill colour of every node.
        limits (Mapping[str, float], optional): Panel title -> :math:`\ell`;
            default the panel's largest magnitude.
        colorbar_labels (Mapping[str, str], optional): Panel title -> colour
            bar label; default ``'edge attribution (signed)'``.
        seed (int, optional): Seed of the layout. (default: ``0``)
        panel_size (tuple, optional): Inches per panel. (default: ``(5, 4.5)``)

    Returns:
        matplotlib.figure.Figure: The figure; save and close it, e.g. with
        :meth:`~edgeattr.experiments.outputs.ResultFolder.save_figure`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    if not panels:
        raise ValueError("panels is empty: pass at least one title -> attribution")
    values = {title: _undirected_values(edge_index, attribution) for title, attribution in panels.items()}
    graph = nx.Graph()
    graph.add_node(target)
    for shown in values.values():
        graph.add_edges_from(shown)
    layout = nx.spring_layout(graph, seed=seed)
    nodes = list(graph.nodes())
    fills = [node_colors[n] if node_colors is not None else "lightgrey" for n in nodes]
    sizes = [420 if n == target else 160 for n in nodes]
    edge_map = plt.get_cmap(EDGE_COLOUR_MAP)

    width, height = panel_size
    figure, axes = plt.subplots(1, len(values), figsize=(width * len(values), height), squeeze=False)
    for axis, (title, shown) in zip(axes[0], values.items()):
        edges = [pair for pair in (_pair(u, v) for u, v in graph.edges()) if pair in shown]
        weights = [shown[pair] for pair in edges]
        limit = (limits or {}).get(title) or max((abs(w) for w in weights), default=1.0) or 1.0
        nx.draw_networkx_edges(graph, layout, edge_color="lightgrey", width=1.0, ax=axis)
        nx.draw_networkx_edges(graph, layout, edgelist=edges, edge_color=weights, edge_cmap=edge_map, edge_vmin=-limit, edge_vmax=limit, width=2.5, ax=axis)
        nx.draw_networkx_nodes(graph, layout, nodelist=nodes, node_color=fills, node_size=sizes, edgecolors="dimgray", ax=axis)
        nx.draw_networkx_nodes(graph, layout, nodelist=[target], node_color=[fills[nodes.index(target)]], node_size=520, edgecolors="black", linewidths=2.5, ax=axis)
        scale = plt.cm.ScalarMappable(cmap=edge_map, norm=plt.Normalize(-limit, limit))
        figure.colorbar(scale, ax=axis, label=(colorbar_labels or {}).get(title, "edge attribution (signed)"))
        axis.set_title(title)
        axis.set_axis_off()
    figure.tight_layout()
    return figure


def _pair(u: int, v: int) -> Pair:
    return (min(u, v), max(u, v))


def _undirected_values(edge_index: Tensor, attribution: Tensor) -> Dict[Pair, float]:
    r"""Undirected pair -> the non-zero value of larger magnitude among its directions."""
    if attribution.dim() != 1 or attribution.numel() != edge_index.size(1):
        raise ValueError(
            f"attribution must have shape ({edge_index.size(1)},), one value per edge; got {tuple(attribution.shape)}"
        )
    shown: Dict[Pair, float] = {}
    for (u, v), value in zip(edge_index.t().tolist(), attribution.detach().double().cpu().tolist()):
        key = _pair(u, v)
        if value != 0 and (key not in shown or abs(value) > abs(shown[key])):
            shown[key] = value
    return shown


__all__ = ["plot_edge_attribution", "edge_attribution_figure", "EDGE_COLOUR_MAP"]

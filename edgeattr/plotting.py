r"""Drawing edge attributions around their target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

if TYPE_CHECKING:
    import matplotlib.figure

#: Diverging colour map of every edge panel: green supports the explained class, magenta opposes it.
EDGE_COLOUR_MAP = "PiYG"
#: Diverging colour map of the nodes' attributions (``node_values``): orange supports the class, purple opposes it.
NODE_COLOUR_MAP = "PuOr_r"

Pair = Tuple[int, int]

#: The explained node, a scored pair's two nodes, or none (a graph).
Targets = Union[None, int, Sequence[int]]


def plot_edge_attribution(
    edge_index: Tensor,
    attribution: Tensor,
    target: Targets,
    path: str,
    node_colors: Optional[Sequence[str]] = None,
    title: str = "",
    seed: int = 0,
    edges: Optional[Tensor] = None,
    panel_titles: Optional[Sequence[str]] = None,
    node_values: Optional[Tensor] = None,
) -> "matplotlib.figure.Figure":
    r"""Writes a figure of the edges around ``target`` coloured by signed attribution.

    Several attribution rows (layers) are drawn as panels side by side, on
    one layout and one colour scale :math:`\pm \max |a|` with one colour bar;
    see :func:`edge_attribution_figure` for how edges and nodes are drawn.

    Args:
        edge_index (Tensor): Edges ``(2, E)``.
        attribution (Tensor): One value per edge, ``(E,)``, or one row per
            panel, ``(L, E)``.
        target (int or Sequence[int], optional): The explained node, or the
            scored pair's two nodes (an edge task); ``None`` marks no node (a graph task).
        path (str): Output file (PNG, PDF or SVG, by suffix).
        node_colors (Sequence[str], optional): Fill colour of every node.
        title (str, optional): Figure title.
        seed (int, optional): Seed of the layout. (default: ``0``)
        edges (Tensor, optional): Ids of the edges to draw, e.g. the
            computation subgraph of ``target``. Default: the edges with a
            non-zero attribution in some row.
        panel_titles (Sequence[str], optional): One title per row of ``attribution``.
        node_values (Tensor, optional): An attribution per node, ``(N,)``,
            drawn as the nodes' fill (see :func:`edge_attribution_figure`).

    Returns:
        matplotlib.figure.Figure: The figure written (closed), one axes per
        panel and then the colour bars'.
    """
    import matplotlib.pyplot as plt

    rows = _attribution_rows(edge_index, attribution)
    if panel_titles is not None and len(panel_titles) != rows.size(0):
        raise ValueError(f"panel_titles holds {len(panel_titles)} titles for {rows.size(0)} rows of attribution")
    names = list(panel_titles) if panel_titles is not None else [" " * i for i in range(rows.size(0))]
    figure = edge_attribution_figure(
        edge_index, dict(zip(names, rows)), target, node_colors=node_colors, edges=edges, seed=seed, title=title, shared_scale=True,
        node_values=node_values,
    )
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return figure


def edge_attribution_figure(
    edge_index: Tensor,
    panels: Mapping[str, Tensor],
    target: Targets,
    node_colors: Optional[Sequence[str]] = None,
    edges: Optional[Tensor] = None,
    limits: Optional[Mapping[str, float]] = None,
    colorbar_labels: Optional[Mapping[str, str]] = None,
    seed: int = 0,
    title: str = "",
    shared_scale: bool = False,
    node_values: Optional[Tensor] = None,
) -> "matplotlib.figure.Figure":
    r"""A figure with one panel per attribution, all drawn on the same layout around ``target``.

    Edges are coloured on the diverging map :data:`EDGE_COLOUR_MAP` from
    :math:`-\ell` to :math:`\ell` (green supports the explained class,
    magenta opposes it), with a colour bar; drawn edges of attribution 0 stay
    thin and grey. The graph is drawn undirected: of the two directions
    ``u -> v`` and ``v -> u`` of a pair (and any parallel edges), the one of
    larger magnitude is shown (the first in edge order on a tie). The larger
    magnitude rather than the sum keeps each method's own scale (a
    gradient-sign mask stays 0/1, a GNNExplainer mask in [0, 1]) and never
    lets two directions of opposite sign cancel into an edge that looks
    irrelevant. Self-loops are not drawn. The target node (both nodes of a
    scored pair) is drawn larger, with a black ring.

    Args:
        edge_index (Tensor): Edges ``(2, E)``.
        panels (Mapping[str, Tensor]): Panel title -> one value per edge, ``(E,)``.
        target (int or Sequence[int], optional): The explained node, or a
            scored pair's two nodes; ``None`` marks no node.
        node_colors (Sequence[str], optional): Fill colour of every node.
        edges (Tensor, optional): Ids of the edges to draw. Default: the edges
            with a non-zero value in some panel.
        limits (Mapping[str, float], optional): Panel title -> :math:`\ell`;
            default the largest magnitude shown (of all panels if ``shared_scale``).
        colorbar_labels (Mapping[str, str], optional): Panel title -> colour
            bar label; default ``'edge attribution (signed)'``.
        seed (int, optional): Seed of the layout. (default: ``0``)
        title (str, optional): Figure title.
        shared_scale (bool, optional): One scale and one colour bar for all
            panels (layers of one attribution), else one per panel (different
            methods). (default: ``False``)
        node_values (Tensor, optional): An attribution per node, ``(N,)`` (an
            explanation's ``node_mask``): every node drawn is filled on the
            diverging map :data:`NODE_COLOUR_MAP` from :math:`-m` to :math:`m`,
            :math:`m` the largest magnitude drawn, with a colour bar of its own
            ``'node attribution (signed)'``; ``node_colors`` is then not given.

    Returns:
        matplotlib.figure.Figure: The figure, one axes per panel and then the
        colour bars'; save and close it, e.g. with
        :meth:`~edgeattr.experiments.outputs.ResultFolder.save_figure`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    if not panels:
        raise ValueError("panels is empty: pass at least one title -> attribution")
    if node_values is not None and node_colors is not None:
        raise ValueError("node_values and node_colors both fill the nodes: pass one of them")
    rows = {name: _panel_values(edge_index, name, values) for name, values in panels.items()}
    edge_index = edge_index.cpu()
    if edges is None:
        edges = torch.stack(list(rows.values())).ne(0).any(0).nonzero().view(-1)
    pairs = _undirected_pairs(edge_index, edges)
    targets = [target] if isinstance(target, int) else list(dict.fromkeys(target or ()))
    graph = nx.Graph()
    graph.add_nodes_from(targets)
    graph.add_edges_from(pairs)
    layout = nx.spring_layout(graph, seed=seed, k=1.5 / max(1, graph.number_of_nodes()) ** 0.5)
    shown = {name: _shown_values(values, pairs) for name, values in rows.items()}
    largest = {name: max((abs(v) for v in values.values()), default=0.0) for name, values in shown.items()}
    common = max(largest.values()) or 1.0

    figure, axes = plt.subplots(1, len(shown), figsize=(5.6 * len(shown) + 1.0, 5.4), squeeze=False, layout="constrained")
    edge_map = plt.get_cmap(EDGE_COLOUR_MAP)
    nodes = list(graph.nodes())
    small = len(nodes) > 60
    fills: List[Any] = [node_colors[n] if node_colors is not None else "lightgrey" for n in nodes]
    node_map, node_norm, drawn = plt.get_cmap(NODE_COLOUR_MAP), None, []
    if node_values is not None:
        drawn = _node_values(node_values, nodes)
        node_limit = max(map(abs, drawn), default=0.0) or 1.0
        node_norm = plt.Normalize(-node_limit, node_limit)
        fills = [node_map(node_norm(value)) for value in drawn]
    for axis, (name, values) in zip(axes[0], shown.items()):
        limit = (limits or {}).get(name) or (common if shared_scale else largest[name] or 1.0)
        norm = plt.Normalize(-limit, limit)
        nx.draw_networkx_edges(graph, layout, edgelist=list(pairs), edge_color="lightgrey", width=0.8, ax=axis)
        coloured = sorted((pair for pair in pairs if values[pair] != 0), key=lambda pair: abs(values[pair]))
        if coloured:
            shown_values = [values[pair] for pair in coloured]
            lines = nx.draw_networkx_edges(
                graph, layout, edgelist=coloured, edge_color=shown_values, edge_cmap=edge_map,
                edge_vmin=-limit, edge_vmax=limit, width=3.0, ax=axis,
            )
            lines.set_array(shown_values)  # keep the values, not only their colours, on the figure
            lines.set_cmap(edge_map)
            lines.set_norm(norm)
        circles = nx.draw_networkx_nodes(graph, layout, nodelist=nodes, node_color=fills, node_size=40 if small else 150, edgecolors="dimgray", linewidths=0.8, ax=axis)
        if node_norm is not None:  # keep the nodes' values on the figure too
            circles.set_array(drawn)
            circles.set_cmap(node_map)
            circles.set_norm(node_norm)
        if targets:
            target_fills = [fills[nodes.index(node)] for node in targets]
            nx.draw_networkx_nodes(graph, layout, nodelist=targets, node_color=target_fills, node_size=480, edgecolors="black", linewidths=2.5, ax=axis)
        if not small:
            nx.draw_networkx_labels(graph, layout, font_size=7, ax=axis)
        axis.set_title(name.strip())
        axis.set_axis_off()
        if not shared_scale:
            label = (colorbar_labels or {}).get(name, "edge attribution (signed)")
            figure.colorbar(plt.cm.ScalarMappable(cmap=edge_map, norm=norm), ax=axis, label=label, shrink=0.85)
    if shared_scale:
        scale = plt.cm.ScalarMappable(cmap=edge_map, norm=plt.Normalize(-common, common))
        figure.colorbar(scale, ax=list(axes[0]), label="edge attribution (signed)", shrink=0.85)
    if node_norm is not None:
        figure.colorbar(plt.cm.ScalarMappable(cmap=node_map, norm=node_norm), ax=list(axes[0]), label="node attribution (signed)", shrink=0.85)
    explained = f"node {targets[0]}" if isinstance(target, int) else f"pair ({', '.join(map(str, target or ()))})"
    if targets:
        marker = Line2D([], [], marker="o", linestyle="", markersize=13, markerfacecolor="lightgrey", markeredgecolor="black", markeredgewidth=2.5)
        figure.legend([marker], [f"target {explained}"], loc="outside lower left", frameon=False)
    figure.suptitle(title or (f"edge attribution for {explained}" if targets else "edge attribution"))
    return figure


def _attribution_rows(edge_index: Tensor, attribution: Tensor) -> Tensor:
    """The attribution as ``(rows, E)``, after checking its shape."""
    if attribution.dim() not in (1, 2) or attribution.size(-1) != edge_index.size(1):
        raise ValueError(
            f"attribution must have shape ({edge_index.size(1)},) or (L, {edge_index.size(1)}), "
            f"one value per edge; got {tuple(attribution.shape)}"
        )
    return attribution.reshape(-1, edge_index.size(1))


def _panel_values(edge_index: Tensor, name: str, values: Tensor) -> Tensor:
    """One panel's values as doubles on the CPU, after checking their shape."""
    if values.dim() != 1 or values.numel() != edge_index.size(1):
        raise ValueError(f"panel {name.strip()!r} must have shape ({edge_index.size(1)},), one value per edge; got {tuple(values.shape)}")
    return values.detach().double().cpu()


def _node_values(values: Tensor, nodes: List[int]) -> List[float]:
    """The attribution of each drawn node, after checking that ``values`` has one per node of the graph."""
    if values.dim() != 1 or (nodes and values.numel() <= max(nodes)):
        raise ValueError(f"node_values must have shape (N,), one value per node of the graph; got {tuple(values.shape)}")
    return values.detach().double().cpu()[nodes].tolist()


def _undirected_pairs(edge_index: Tensor, edges: Tensor) -> Dict[Pair, List[int]]:
    """Each unordered node pair among ``edges`` with its edge ids, in edge order (self-loops dropped)."""
    pairs: Dict[Pair, List[int]] = {}
    edges = torch.as_tensor(edges).cpu().view(-1).sort().values
    for e, (u, v) in zip(edges.tolist(), edge_index[:, edges].t().tolist()):
        if u != v:
            pairs.setdefault((min(u, v), max(u, v)), []).append(e)
    return pairs


def _shown_values(values: Tensor, pairs: Dict[Pair, List[int]]) -> Dict[Pair, float]:
    """Per pair, the value of its edge of largest magnitude (the first on a tie)."""
    shown = {}
    for pair, ids in pairs.items():
        candidates = values[ids].tolist()
        shown[pair] = max(candidates, key=abs)
    return shown


__all__ = ["plot_edge_attribution", "edge_attribution_figure", "EDGE_COLOUR_MAP", "NODE_COLOUR_MAP"]

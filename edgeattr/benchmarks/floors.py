r"""What the model alone costs on the subgraphs a method has to run: the floor under a row's time.

A method that runs the user's model on each target's computation subgraph
cannot be faster than the model's own arithmetic there. These floors are
measured without edgeattr: PyG's ``k_hop_subgraph`` of each target (which
leaves out the edges that only set degrees, so it is a lower bound on the
subgraph an exact gradient needs), joined as one disjoint union, run through
the model with PyG's own ``set_masks``. A row whose goal asks for less time
than its floor cannot be met by running the model; the report says so.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import k_hop_subgraph

from edgeattr.benchmarks.timing import median_seconds


def subgraph_union(edge_index: Tensor, nodes: List[int], hops: int, num_nodes: int, copies: List[int]) -> Tuple[Tensor, Tensor, Tensor]:
    r"""PyG's ``k_hop_subgraph`` of each node, ``copies[i]`` times for node ``i``, as one disjoint union.

    Returns:
        ``(subset, edges, rows)``: the node id in the graph of every node of
        the union ``(N_u,)``, the union's ``edge_index`` ``(2, E_u)``, and
        the row of each copy's target ``(sum(copies),)``.
    """
    subsets, edges, rows, offset = [], [], [], 0
    for node, count in zip(nodes, copies):
        subset, sub_edges, position, _ = k_hop_subgraph(node, hops, edge_index, relabel_nodes=True, num_nodes=num_nodes)
        for _ in range(count):
            subsets.append(subset)
            edges.append(sub_edges + offset)
            rows.append(position + offset)
            offset += subset.numel()
    return torch.cat(subsets), torch.cat(edges, 1), torch.cat(rows)


def message_entries(edge_index: Tensor, node: int, hops: int, num_nodes: int) -> int:
    r"""The (layer, edge) pairs whose message can reach ``node``: at layer :math:`l` of
    :math:`L`, the edges into nodes within :math:`L - l` hops, :math:`\sum_l |E_{in}(N_{L-l})|`."""
    total = 0
    for remaining in range(hops):
        within = k_hop_subgraph(node, remaining, edge_index, num_nodes=num_nodes)[0]
        total += int(torch.isin(edge_index[1], within).sum())
    return total


def gradient_seconds(model: torch.nn.Module, x: Tensor, edge_index: Tensor, groups: List[List[int]], hops: int) -> float:
    r"""Seconds of one forward and one backward pass of ``model`` per group of nodes, on the union of their subgraphs:
    the gradient of the sum of each node's largest output with respect to a mask on every edge of the union."""
    unions = [subgraph_union(edge_index, nodes, hops, x.size(0), [1] * len(nodes)) for nodes in groups]

    def run() -> None:
        for subset, edges, rows in unions:
            set_masks(model, torch.ones(edges.size(1), device=x.device, requires_grad=True), edges, apply_sigmoid=False)
            try:
                out = model(x[subset], edges)[rows]
                torch.autograd.grad(out.max(1).values.sum(), _held_mask(model))
            finally:
                clear_masks(model)

    return median_seconds(run)


def occlusion_seconds(model: torch.nn.Module, x: Tensor, edge_index: Tensor, nodes: List[int], hops: int, per_pass: Sequence[int] = (8, 32, 128)) -> float:
    r"""Seconds of the forward passes layerwise occlusion needs: :math:`1 + \sum_l |E_{in}(N_{L-l})|` copies of
    each node's subgraph (one unmasked, one per message that reaches it), the least over running ``per_pass``
    copies per forward pass."""
    counts = [1 + message_entries(edge_index, node, hops, x.size(0)) for node in nodes]

    def seconds(size: int) -> float:
        passes = [
            subgraph_union(edge_index, [node], hops, x.size(0), [min(size, count - first)])
            for node, count in zip(nodes, counts) for first in range(0, count, size)
        ]

        def run() -> None:
            with torch.no_grad():
                for subset, edges, rows in passes:
                    model(x[subset], edges)[rows]

        return median_seconds(run, repeats=1)

    return min(seconds(size) for size in per_pass)


def _held_mask(model: torch.nn.Module) -> Tensor:
    """The mask the model's layers hold after ``set_masks``: a new Parameter where an explainer run
    before left its mask registered as one (PyG's GNNExplainer does)."""
    return next(module._edge_mask for module in model.modules() if isinstance(module, MessagePassing) and module.explain)


def floor_note(floor: float, unit: str = "node", baseline: Optional[float] = None) -> str:
    r"""The note a row carries: its floor per ``unit``, and the largest speed-up over ``baseline`` it leaves."""
    most = "" if baseline is None else f" (at most {baseline / floor:.0f}x the baseline)"
    return f"; floor, the model alone on PyG's k_hop_subgraph: {_seconds(floor)} / {unit}{most}"


def _seconds(value: float) -> str:
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"

r"""The computation subgraph of node targets."""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor


def computation_subgraph(src: Tensor, dst: Tensor, targets: Tensor, hops: int, num_nodes: int) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Nodes and edges that can influence the targets' outputs after ``hops`` layers.

    These are the edges incident to nodes within ``hops`` of a target: those
    into nodes within ``hops - 1`` carry messages that reach a target, and the
    others set the in- and out-degrees of nodes whose messages do, which degree
    normalisation reads (PyG's GCN uses in-degrees, DGL's GraphConv the
    out-degree of the source).

    Args:
        src, dst (Tensor): Edge endpoints, ``(E,)``; messages flow src to dst.
        targets (Tensor): Target node ids.
        hops (int): Number of message-passing calls.
        num_nodes (int): Nodes of the graph.

    Returns:
        ``(nodes, edges, carriers)``: sorted node ids, sorted edge ids, and the
        positions in ``edges`` of the message carriers.
    """
    reached = torch.zeros(num_nodes, dtype=torch.bool, device=src.device)
    reached[targets] = True
    for _ in range(hops - 1):
        reached[src[reached[dst]]] = True
    inner = reached.clone()
    reached[src[inner[dst]]] = True
    edges = (reached[dst] | reached[src]).nonzero().view(-1)
    carriers = inner[dst[edges]].nonzero().view(-1)
    reached[src[edges]] = True
    reached[dst[edges]] = True
    return reached.nonzero().view(-1), edges, carriers


def relabeling(nodes: Tensor, num_nodes: int) -> Tensor:
    r"""Map from old node ids to positions in ``nodes`` (``-1`` for others), ``(num_nodes,)``."""
    relabel = torch.full((num_nodes,), -1, dtype=torch.long, device=nodes.device)
    relabel[nodes] = torch.arange(nodes.numel(), device=nodes.device)
    return relabel

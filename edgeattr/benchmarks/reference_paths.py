r"""A straightforward per-node implementation of the paper's walk searches, for PyG's basic GNNs.

It follows the structure of the reference code of He et al. (KDD 2025): Python
loops over the nodes at each distance from the target and over their
neighbours, and for every node a full forward pass plus the dense Jacobian of
one layer at that node (``torch.autograd.functional.jacobian``). It is slow on
purpose: the tests use it as an independent reference for
:class:`edgeattr.BestWalk` and :class:`edgeattr.AMPAve`, and the benchmark times
them against it.

Usage::

    from edgeattr.benchmarks.reference_paths import reference_walk
    nodes, score = reference_walk(model, data.x, data.edge_index, index=10, target=3, method="best")
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.nn.models.basic_gnn import BasicGNN
from torch_geometric.utils import add_remaining_self_loops, get_embeddings, k_hop_subgraph


def layer_inputs(model: BasicGNN, x: Tensor, edge_index: Tensor) -> List[Tensor]:
    r"""The features entering each layer, ``[x, act(conv_1), ..., act(conv_{L-1})]``."""
    outputs = get_embeddings(model, x, edge_index)
    return [x] + [model.act(out) for out in outputs[:-1]]


def layer_jacobian(model: BasicGNN, x: Tensor, edge_index: Tensor, node: int, target: int, layer: int) -> Tensor:
    r"""Jacobian of layer ``layer`` (0-based) at ``node`` with respect to all its inputs, ``(d_out, N, d_in)``.

    Inner layers include the activation; the last layer ends in the ``target`` logit (``d_out = 1``).
    """
    inputs = layer_inputs(model, x, edge_index)[layer].detach()
    last = layer == model.num_layers - 1

    def apply(features: Tensor) -> Tensor:
        out = model.convs[layer](features, edge_index)[node]
        return out[target].view(1) if last else model.act(out)

    return torch.autograd.functional.jacobian(apply, inputs)


def reference_walk(
    model: BasicGNN, x: Tensor, edge_index: Tensor, index: int, target: int, method: str = "best"
) -> Tuple[List[int], float]:
    r"""The best walk to ``index`` under the paper's search (``"best"``) or AMP-ave (``"amp"``).

    Args:
        model: A PyG basic GNN (``model.convs``, ``model.act``, ``model.num_layers``), in eval mode.
        x (Tensor): Node features ``(N, F)``.
        edge_index (Tensor): Edges ``(2, E)``.
        index (int): The target node.
        target (int): The explained class.
        method (str): ``"best"`` (chained Jacobians, greedy) or ``"amp"`` (AMP-ave).

    Returns:
        ``(nodes, score)``: the walk from its source to ``index`` and its score.
    """
    num_layers = model.num_layers
    inputs = [h.detach() for h in layer_inputs(model, x, edge_index)]
    with_loops = add_remaining_self_loops(edge_index)[0]
    levels = [set(k_hop_subgraph(index, hops, edge_index, num_nodes=x.size(0))[0].tolist()) for hops in range(num_layers + 1)]
    scores = [{node: -float("inf") for node in level} for level in levels]
    parents = [{node: -1 for node in level} for level in levels]
    chains: List[Dict[int, Tensor]] = [{} for _ in levels]
    scores[0][index] = 0.0
    chains[0][index] = torch.ones(1, 1)
    for back in range(num_layers):
        layer = num_layers - 1 - back
        features = inputs[layer]
        for node in sorted(levels[back]):
            jacobian = layer_jacobian(model, x, edge_index, node, target, layer)
            neighbours = k_hop_subgraph(node, 1, with_loops, num_nodes=x.size(0))[0].tolist()
            for neighbour in sorted(neighbours):
                block = jacobian[:, neighbour, :]
                vector: Optional[Tensor]
                if method == "best":
                    vector = chains[back][node] @ block
                    score = float(vector @ features[neighbour])
                else:
                    vector = None
                    score = scores[back][node] + float(features[neighbour] @ block.mean(0))
                if score > scores[back + 1][neighbour]:
                    scores[back + 1][neighbour] = score
                    parents[back + 1][neighbour] = node
                    if vector is not None:  # only the chained search ("best") reads the chains
                        chains[back + 1][neighbour] = vector
    source = max(sorted(scores[-1]), key=lambda node: scores[-1][node])
    walk = [source]
    for back in range(num_layers, 0, -1):
        walk.append(parents[back][walk[-1]])
    return walk, scores[-1][source]

r"""The graphs and trained models the benchmarks run on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class CoraWorkload:
    r"""Cora (PyG's Planetoid) with a trained model.

    Attributes:
        model (torch.nn.Module): The trained model, in eval mode.
        x (Tensor): Node features, ``(2708, 1433)``.
        edge_index (Tensor): ``(2, 10556)``.
        test_nodes (Tensor): The public split's test nodes.
    """

    model: torch.nn.Module
    x: Tensor
    edge_index: Tensor
    test_nodes: Tensor

    @staticmethod
    def load(root: str, build: Callable[[int, int], torch.nn.Module], seed: int = 0, epochs: int = 100) -> "CoraWorkload":
        r"""Loads Cora from ``root`` and trains ``build(features, classes)`` with Adam (lr 0.01, weight decay 5e-4)."""
        from torch_geometric.datasets import Planetoid

        data = Planetoid(root, "Cora")[0]
        torch.manual_seed(seed)
        model = build(data.num_features, int(data.y.max()) + 1)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        model.train()
        for _ in range(epochs):
            optimiser.zero_grad()
            loss = F.cross_entropy(model(data.x, data.edge_index)[data.train_mask], data.y[data.train_mask])
            loss.backward()
            optimiser.step()
        model.eval()
        return CoraWorkload(model, data.x, data.edge_index, data.test_mask.nonzero().view(-1))


def random_graph(num_nodes: int, num_edges: int, features: int, seed: int) -> Tuple[Tensor, Tensor]:
    r"""Node features ``(N, features)`` and a random directed ``edge_index`` without self-loops."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = (src + torch.randint(1, num_nodes, (num_edges,), generator=generator)) % num_nodes
    return torch.randn(num_nodes, features, generator=generator), torch.stack([src, dst])

r"""The graphs and trained models the benchmarks run on."""

from __future__ import annotations

import os
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
        device = bench_device()
        return CoraWorkload(model.to(device), data.x.to(device), data.edge_index.to(device), data.test_mask.nonzero().view(-1).to(device))


def random_graph(num_nodes: int, num_edges: int, features: int, seed: int) -> Tuple[Tensor, Tensor]:
    r"""Node features ``(N, features)`` and a random directed ``edge_index`` without self-loops, on :func:`bench_device`."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = (src + torch.randint(1, num_nodes, (num_edges,), generator=generator)) % num_nodes
    device = bench_device()
    return torch.randn(num_nodes, features, generator=generator).to(device), torch.stack([src, dst]).to(device)


def bench_device() -> torch.device:
    r"""The device the PyG workloads run on: :data:`DEVICE_VARIABLE` (``make bench DEVICE=cuda``), else the CPU.

    Models are trained on the CPU with the same seed either way, then moved.

    Raises:
        RuntimeError: for CUDA where torch sees no CUDA device.
    """
    device = torch.device(os.environ.get(DEVICE_VARIABLE) or "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{DEVICE_VARIABLE}={device} but torch sees no CUDA device: run make bench without DEVICE, or on a machine with a GPU")
    return device


#: The environment variable naming the benchmarks' device (set by ``edgeattr bench --device``).
DEVICE_VARIABLE = "EDGEATTR_BENCH_DEVICE"

r"""Full-batch training of node classifiers."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def train_node_classifier(
    model: torch.nn.Module,
    x: Tensor,
    edge_index: Tensor,
    y: Tensor,
    train_mask: Optional[Tensor] = None,
    epochs: int = 200,
    lr: float = 0.01,
    l1: float = 0.0,
    seed: int = 0,
) -> float:
    r"""Trains ``model(x, edge_index)`` full-batch with Adam and returns the training accuracy.

    The loss is binary cross-entropy for a single logit (``y`` in {0, 1}) and
    cross-entropy otherwise, plus ``l1`` times the L1 norm of the parameters.

    Args:
        model (torch.nn.Module): Maps ``(x, edge_index)`` to logits ``(N, C)``.
        x (Tensor): Node features ``(N, F)``.
        edge_index (Tensor): Edges ``(2, E)``.
        y (Tensor): Labels ``(N,)``.
        train_mask (Tensor, optional): Bool ``(N,)``; default all nodes.
        epochs (int): Optimisation steps. (default: ``200``)
        lr (float): Adam's learning rate. (default: ``0.01``)
        l1 (float): L1 penalty on the parameters. (default: ``0.0``)
        seed (int): Seed for dropout. (default: ``0``)

    Returns:
        float: Accuracy on the training nodes after training (eval mode).
    """
    torch.manual_seed(seed)
    mask = torch.ones_like(y, dtype=torch.bool) if train_mask is None else train_mask
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        out = model(x, edge_index)[mask]
        if out.size(-1) == 1:
            loss = F.binary_cross_entropy_with_logits(out.view(-1), y[mask].float())
        else:
            loss = F.cross_entropy(out, y[mask])
        if l1:
            loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        out = model(x, edge_index)[mask]
        predicted = (out.view(-1) > 0).long() if out.size(-1) == 1 else out.argmax(-1)
        return float((predicted == y[mask]).float().mean())

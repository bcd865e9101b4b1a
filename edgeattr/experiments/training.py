r"""Training the experiments' models: full-batch node classifiers and mini-batch graph classifiers."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

#: The training recipes of the experiments that take ``--recipe``, the default first: ``'paper'``, the
#: reference code's training and sampling, quirks included; ``'edgeattr'``, edgeattr's own.
RECIPES = ("paper", "edgeattr")


def classification_loss(out: Tensor, y: Tensor) -> Tensor:
    r"""Binary cross-entropy for a single logit (``y`` in {0, 1}), cross-entropy for ``C > 1`` classes."""
    if out.size(-1) == 1:
        return F.binary_cross_entropy_with_logits(out.view(-1), y.float())
    return F.cross_entropy(out, y)


def predicted_classes(out: Tensor) -> Tensor:
    r"""The predicted class per row: ``logit > 0`` for a single logit, else the argmax."""
    return (out.view(-1) > 0).long() if out.size(-1) == 1 else out.argmax(-1)


@torch.no_grad()
def node_accuracy(model: torch.nn.Module, x: Tensor, edge_index: Tensor, y: Tensor, mask: Tensor) -> float:
    r"""Accuracy of ``model(x, edge_index)`` on the nodes of ``mask``, in eval mode."""
    model.eval()
    return float((predicted_classes(model(x, edge_index)[mask]) == y[mask]).float().mean())


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
    weight_decay: float = 0.0,
    val_mask: Optional[Tensor] = None,
) -> float:
    r"""Trains ``model(x, edge_index)`` full-batch with Adam and returns the training accuracy.

    The loss is :func:`classification_loss` plus ``l1`` times the L1 norm of
    the parameters. With ``val_mask``, the weights of the epoch with the best
    validation accuracy are kept (the first such epoch).

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
        weight_decay (float): Adam's weight decay. (default: ``0.0``)
        val_mask (Tensor, optional): Bool ``(N,)``: select the epoch by accuracy on these nodes.

    Returns:
        float: Accuracy on the training nodes after training (eval mode).
    """
    torch.manual_seed(seed)
    mask = torch.ones_like(y, dtype=torch.bool) if train_mask is None else train_mask
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_accuracy, best_state = -1.0, None
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        loss = classification_loss(model(x, edge_index)[mask], y[mask])
        if l1:
            loss = loss + l1 * sum(p.abs().sum() for p in model.parameters())
        loss.backward()
        optimizer.step()
        if val_mask is not None:
            accuracy = node_accuracy(model, x, edge_index, y, val_mask)
            if accuracy > best_accuracy:
                best_accuracy, best_state = accuracy, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    return node_accuracy(model, x, edge_index, y, mask)


@torch.no_grad()
def graph_accuracy(model: torch.nn.Module, graphs: Sequence[Data]) -> float:
    r"""Accuracy of a graph classifier ``model(x, edge_index, edge_attr=..., batch=...)`` on ``graphs``."""
    from torch_geometric.loader import DataLoader

    model.eval()
    correct = 0
    for batch in DataLoader(list(graphs), batch_size=256):
        out = model(batch.x, batch.edge_index, edge_attr=batch.edge_attr, batch=batch.batch)
        correct += int((predicted_classes(out) == batch.y).sum())
    return correct / max(len(graphs), 1)


def train_graph_classifier(
    model: torch.nn.Module,
    train: List[Data],
    val: List[Data],
    epochs: int = 100,
    lr: float = 0.003,
    weight_decay: float = 1e-4,
    batch_size: int = 32,
    seed: int = 0,
) -> Dict[str, float]:
    r"""Trains a graph classifier with Adam on shuffled mini-batches; keeps the best epoch on ``val``.

    The model is called ``model(x, edge_index, edge_attr=..., batch=...)`` and
    returns ``(num_graphs, C)`` logits; the loss is :func:`classification_loss`.

    Args:
        model (torch.nn.Module): The classifier, e.g. a :class:`~edgeattr.experiments.models.GraphClassifier`.
        train (list[Data]): Training graphs.
        val (list[Data]): Validation graphs that select the epoch.
        epochs (int): Passes over the training graphs. (default: ``100``)
        lr (float): Adam's learning rate. (default: ``0.003``)
        weight_decay (float): Adam's weight decay. (default: ``1e-4``)
        batch_size (int): Graphs per step. (default: ``32``)
        seed (int): Seed of shuffling and dropout. (default: ``0``)

    Returns:
        dict: ``train_accuracy`` and ``val_accuracy`` of the kept weights.
    """
    from torch_geometric.loader import DataLoader

    torch.manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_accuracy, best_state = -1.0, None
    for _ in range(epochs):
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index, edge_attr=batch.edge_attr, batch=batch.batch)
            classification_loss(out, batch.y).backward()
            optimizer.step()
        accuracy = graph_accuracy(model, val)
        if accuracy > best_accuracy:
            best_accuracy, best_state = accuracy, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"train_accuracy": graph_accuracy(model, train), "val_accuracy": best_accuracy}

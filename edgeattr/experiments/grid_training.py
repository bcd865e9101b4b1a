r"""The two training recipes of the grid experiments (``input-level``, ``layerwise``, ``sign-flips``).

``paper`` is the reference code's (``train/train_node_classification.py``,
``train_graph_classification.py``, ``train_sgc.py``), quirks included where
they change the trained weights:

- one ``torch.manual_seed(seed)`` before everything; the graph tasks' split
  (``dataset.shuffle()``), the weights, the mini-batch order
  (``DataLoader(shuffle=True)`` without a generator) and dropout all draw from
  torch's global generator in that order;
- Cora and CiteSeer on PyG's ``geom-gcn`` split 0 (WebKB: split 0);
- Adam, learning rate 0.003, weight decay 1e-5 (node tasks) and 1e-4 (graph
  tasks); 1000 full-batch epochs (node tasks), 2000 epochs of mini-batches of
  32 graphs (graph tasks) and 2000 epochs for the linear SGC;
- graph tasks call ``optimizer.zero_grad()`` once per epoch, so each step
  follows the gradients summed over the epoch's batches so far;
- the GCN of graph tasks is trained with LayerNorms over the whole mini-batch
  (see :func:`train_graph_classifier_paper`); explained one graph at a time,
  the same model normalises that graph alone, as edgeattr's always does;
- the *last* epoch is kept: the reference keeps "the best validation epoch"
  as ``state = model.state_dict()``, whose tensors share their storage with
  the parameters that Adam updates in place, so ``load_state_dict(state)``
  restores the last weights.

``edgeattr`` is edgeattr's own: the public Planetoid split, 200 node and 30
graph epochs, the best validation epoch kept for real, seeds of its own for
the split, the weights and training (:func:`~edgeattr.experiments.training.train_node_classifier`,
:func:`~edgeattr.experiments.training.train_graph_classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Sequence, Tuple, TypedDict

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import global_mean_pool

from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.datasets import LoadedDataset
from edgeattr.experiments.models import GraphClassifier, build_model
from edgeattr.experiments.training import (
    classification_loss,
    graph_accuracy,
    node_accuracy,
    predicted_classes,
    train_graph_classifier,
    train_node_classifier,
)

if TYPE_CHECKING:  # the grid's configuration names these recipes
    from edgeattr.experiments.grid import GridConfig


@dataclass(frozen=True)
class GridRecipe:
    r"""How one recipe splits the data and how long it trains.

    Attributes:
        name (str): ``"paper"`` or ``"edgeattr"`` (:data:`~edgeattr.experiments.training.RECIPES`).
        planetoid_split (str): PyG's ``Planetoid`` split of Cora and CiteSeer (mask column 0 where there are several).
        node_epochs (int): Full-batch epochs of the node classifiers.
        graph_epochs (int): Epochs of the graph classifiers.
        linear_epochs (int): Full-batch epochs of the linear SGC check.
    """

    name: str
    planetoid_split: str
    node_epochs: int
    graph_epochs: int
    linear_epochs: int


class NodeTraining(TypedDict):
    r"""Training options of a node task (keyword arguments of :func:`train_node_classifier`)."""

    lr: float
    weight_decay: float


class GraphTraining(NodeTraining):
    r"""Training options of a graph task (keyword arguments of :func:`train_graph_classifier`)."""

    batch_size: int


#: The paper's training (both recipes): Adam, learning rate 0.003; weight decay 1e-5 (node) and 1e-4 (graph tasks).
NODE_TRAINING: NodeTraining = dict(lr=0.003, weight_decay=1e-5)
GRAPH_TRAINING: GraphTraining = dict(lr=0.003, weight_decay=1e-4, batch_size=32)

#: The grid's recipes by name.
GRID_RECIPES = {
    "paper": GridRecipe("paper", planetoid_split="geom-gcn", node_epochs=1000, graph_epochs=2000, linear_epochs=2000),
    "edgeattr": GridRecipe("edgeattr", planetoid_split="public", node_epochs=200, graph_epochs=30, linear_epochs=200),
}


def train_node_classifier_paper(model: torch.nn.Module, graph: Data, epochs: int, lr: float, weight_decay: float) -> None:
    r"""The reference's full-batch node training: Adam on the cross-entropy of the training nodes,
    dropout from torch's global generator (no seeding here), the last epoch kept.

    Args:
        model (torch.nn.Module): ``model(x, edge_index)`` returning logits ``(N, C)``.
        graph (Data): ``x``, ``edge_index``, ``y`` and a boolean ``train_mask`` ``(N,)``.
        epochs (int): Optimisation steps.
        lr (float): Adam's learning rate.
        weight_decay (float): Adam's weight decay.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        out = model(graph.x, graph.edge_index)
        classification_loss(out[graph.train_mask], graph.y[graph.train_mask]).backward()
        optimizer.step()
    model.eval()


def train_graph_classifier_paper(model: GraphClassifier, train: List[Data], epochs: int, lr: float, weight_decay: float, batch_size: int,
                                 norms_see_batch: bool = True) -> None:
    r"""The reference's graph training: mini-batches in ``DataLoader(shuffle=True)`` order drawn from
    torch's global generator, ``zero_grad`` once per epoch (the steps of an epoch follow the
    gradients summed over its batches so far), binary cross-entropy, the last epoch kept, and the
    one draw of the validation loader after each epoch.

    Args:
        model (GraphClassifier): The classifier, returning ``(num_graphs, 1)``.
        train (list[Data]): Training graphs, in the split's order.
        epochs (int): Passes over the training graphs.
        lr (float): Adam's learning rate.
        weight_decay (float): Adam's weight decay.
        batch_size (int): Graphs per step.
        norms_see_batch (bool): Pass the mini-batch's ``batch`` vector to the
            GNN, whose LayerNorms then normalise each graph alone. The
            reference's ``Sequential`` passes its GCN's ``batch`` in the place
            of ``edge_attr`` (ignored), so that there the LayerNorms normalise
            the whole mini-batch at once: ``False``. (default: ``True``)
    """
    from torch_geometric.loader import DataLoader

    loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        for batch in loader:
            if norms_see_batch:
                out = model(batch.x, batch.edge_index, edge_attr=batch.edge_attr, batch=batch.batch)
            else:
                out = global_mean_pool(model.gnn(batch.x, batch.edge_index), batch.batch)
            classification_loss(out, batch.y).backward()
            optimizer.step()
        # The reference validates after every epoch through a DataLoader, whose iterator draws its base
        # seed from the global generator: one draw, whatever the validation finds (the last epoch is kept).
        torch.empty((), dtype=torch.int64).random_()
    model.eval()


def trained_model(data: LoadedDataset, architecture: str, depth: int, config: "GridConfig") -> Tuple[torch.nn.Module, Dict[str, float]]:
    r"""The model of one grid cell, trained with the configuration's recipe or loaded from the cache.

    ``paper`` (:mod:`~edgeattr.experiments.grid_training`) seeds torch's global
    generator once, advances it by the split's permutation on graph tasks (the
    reference's ``dataset.shuffle()``), then builds and trains the model from
    it; ``edgeattr`` seeds the weights and the training each with ``seed``.

    Returns:
        tuple: The model in eval mode, and its metrics (training, validation
        and test accuracy; graph tasks also the reference's "AUROC", see
        :func:`~edgeattr.experiments.grid_training.balanced_accuracy`).
    """
    epochs = config.epochs(data.task)
    paper = config.recipe == "paper"
    torch.manual_seed(config.seed)
    if paper and data.task == "graph":
        torch.randperm(len(data.train) + len(data.val) + len(data.test))
    model = build_model(architecture, data.num_features, data.num_classes, depth, data.task, data.edge_dim)
    training = NODE_TRAINING if data.task == "node" else GRAPH_TRAINING
    key = dict(dataset=data.name, architecture=architecture, depth=depth, task=data.task, epochs=epochs, recipe=config.recipe,
               seed=config.seed, split=GRID_RECIPES[config.recipe].planetoid_split, **training)
    if data.task == "node":
        g = data.node_graph()

        def train(m: torch.nn.Module) -> Dict[str, float]:
            if paper:
                train_node_classifier_paper(m, g, epochs=epochs, **NODE_TRAINING)
            else:
                train_node_classifier(m, g.x, g.edge_index, g.y, g.train_mask, epochs=epochs, seed=config.seed, val_mask=g.val_mask, **NODE_TRAINING)
            return {f"{split}_accuracy": node_accuracy(m, g.x, g.edge_index, g.y, g[f"{split}_mask"]) for split in ("train", "val")}

        def test(m: torch.nn.Module) -> Dict[str, float]:
            return {"test_accuracy": node_accuracy(m, g.x, g.edge_index, g.y, g.test_mask)}
    else:
        def train(m: torch.nn.Module) -> Dict[str, float]:
            if paper:
                assert isinstance(m, GraphClassifier)  # what build_model makes of a graph task
                train_graph_classifier_paper(m, data.train, epochs=epochs, norms_see_batch=architecture != "GCN", **GRAPH_TRAINING)
            else:
                train_graph_classifier(m, data.train, data.val, epochs=epochs, seed=config.seed, **GRAPH_TRAINING)
            return graph_metrics(m, {"train": data.train, "val": data.val})

        def test(m: torch.nn.Module) -> Dict[str, float]:
            return graph_metrics(m, {"test": data.test})

    code: List[Callable[..., object]] = [trained_model, train_node_classifier, train_graph_classifier, train_node_classifier_paper]
    metrics = load_or_train(model, key, train, config.cache_dir, code=code)
    metrics.update(test(model))
    model.eval()
    return model, metrics


@torch.no_grad()
def balanced_accuracy(model: torch.nn.Module, graphs: Sequence[Data]) -> float:
    r"""The mean of the true-positive and true-negative rates of a binary graph classifier on ``graphs``.

    This is what the reference reports as "AUROC": ``binary_auroc`` of the
    thresholded predictions ``out > 0``, whose ROC curve has one corner, so
    that its area is :math:`(\mathrm{TPR} + \mathrm{TNR}) / 2`.
    """
    from torch_geometric.loader import DataLoader

    model.eval()
    predicted: List[Tensor] = []
    labels: List[Tensor] = []
    for batch in DataLoader(list(graphs), batch_size=256):
        predicted.append(predicted_classes(model(batch.x, batch.edge_index, edge_attr=batch.edge_attr, batch=batch.batch)))
        labels.append(batch.y)
    hits = torch.cat(predicted) == torch.cat(labels)
    y = torch.cat(labels)
    rates = [float(hits[y == label].float().mean()) for label in (0, 1) if bool((y == label).any())]
    return sum(rates) / len(rates)


def graph_metrics(model: torch.nn.Module, splits: Dict[str, Sequence[Data]]) -> Dict[str, float]:
    r"""Accuracy and :func:`balanced_accuracy` (the reference's "AUROC") of a graph classifier on each split.

    Returns:
        dict: ``<split>_accuracy`` and ``<split>_auroc`` per split name.
    """
    metrics: Dict[str, float] = {}
    for name, graphs in splits.items():
        metrics[f"{name}_accuracy"] = graph_accuracy(model, graphs)
        metrics[f"{name}_auroc"] = balanced_accuracy(model, graphs)
    return metrics


__all__ = ["GridRecipe", "GRID_RECIPES", "NodeTraining", "GraphTraining", "NODE_TRAINING", "GRAPH_TRAINING", "trained_model", "train_node_classifier_paper", "train_graph_classifier_paper", "balanced_accuracy", "graph_metrics"]

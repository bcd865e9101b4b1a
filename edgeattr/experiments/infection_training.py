r"""The infection experiment's data and model, trained by one of two recipes.

Both recipes train PyG's sum GraphSAGE on all infection graphs but the last
with Adam (lr 0.005, weight decay 3e-4), one graph per step, cross-entropy,
and keep the model of the last epoch. They differ in the order of random draws
and in the clipping:

``"paper"``, the reference's training exactly (its ``nbks/infection.py``):
    torch is seeded once, then the graphs are generated and the model built from
    the same stream (no reseed in between); each epoch's order of the training
    graphs is drawn as ``DataLoader(shuffle=True)`` draws it from torch's global
    generator (:func:`dataloader_order`); ``clip_grad_norm_`` is called *before*
    ``backward()``, when the gradients have just been cleared, so it clips nothing.

``"edgeattr"``, edgeattr's own recipe:
    torch is reseeded before the model is built and before training, so the
    weights do not depend on how many draws the graph generator made; each epoch's
    order is ``torch.randperm``; gradients are clipped to norm 2 after ``backward()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.datasets import InfectionDataset
from torch_geometric.datasets.graph_generator import ERGraph
from torch_geometric.nn import GraphSAGE

from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.outputs import progress
from edgeattr.experiments.training import RECIPES

#: Adam's settings in both recipes (the reference's).
LEARNING_RATE, WEIGHT_DECAY = 0.005, 3e-4

#: Gradient-norm limit (applied by the edgeattr recipe only; see the module docstring).
CLIP_NORM = 2.0


@dataclass(frozen=True)
class InfectionSizes:
    r"""The sizes of the infection graphs and of the model.

    Args:
        graphs (int): Graphs generated; the last is the test graph. (paper: 5)
        num_nodes (int): Nodes per Erdős–Rényi graph. (paper: 1000)
        edge_prob (float): Edge probability. (paper: 0.004)
        infected (int): Infected nodes per graph. (paper: 50)
        max_path_length (int): Longest labelled distance, also the number of layers. (paper: 4)
        hidden (int): GraphSAGE's hidden width. (paper: 20)
    """

    graphs: int = 5
    num_nodes: int = 1000
    edge_prob: float = 0.004
    infected: int = 50
    max_path_length: int = 4
    hidden: int = 20


def infection_graphs(num_graphs: int, num_nodes: int, edge_prob: float, infected: int, max_path_length: int, seed: int) -> List[Data]:
    r"""PyG's InfectionDataset on Erdős–Rényi graphs, generated offline after seeding torch with ``seed``.

    Returns:
        list[Data]: ``num_graphs`` graphs with ``x`` (one-hot healthy/infected), ``edge_index`` and ``y``
        (distance to the nearest infected node; ``max_path_length + 1`` beyond).
    """
    torch.manual_seed(seed)
    dataset = InfectionDataset(
        graph_generator=ERGraph(num_nodes=num_nodes, edge_prob=edge_prob),
        num_graphs=num_graphs,
        num_infected_nodes=infected,
        max_path_length=max_path_length,
    )
    return [Data(x=graph.x, edge_index=graph.edge_index, y=graph.y) for graph in dataset]


def infection_model(hidden: int, max_path_length: int) -> GraphSAGE:
    r"""PyG's GraphSAGE with sum aggregation, one layer per step of the longest path, one class per distance."""
    return GraphSAGE(2, hidden_channels=hidden, num_layers=max_path_length, out_channels=max_path_length + 2, aggr="sum")


def dataloader_order(count: int) -> List[int]:
    r"""The order in which ``DataLoader(dataset, shuffle=True)`` visits ``count`` items in one epoch,
    drawn from torch's global generator exactly as it draws it.

    Iterating such a loader draws two int64 numbers from the global generator: the
    iterator's base seed (for worker processes; unused here, but drawn first) and
    then the seed of the random sampler's own generator, from which the order is
    ``randperm(count)``.

    Returns:
        list[int]: A permutation of ``range(count)``.
    """
    torch.empty((), dtype=torch.int64).random_()  # the iterator's base seed
    sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
    return torch.randperm(count, generator=torch.Generator().manual_seed(sampler_seed)).tolist()


def train_paper(model: torch.nn.Module, graphs: List[Data], epochs: int) -> Dict[str, float]:
    r"""The reference's training: :func:`dataloader_order` each epoch, ``clip_grad_norm_`` before
    ``backward()`` (a no-op: the gradients were just cleared), the last epoch kept. Draws continue
    torch's global generator from where the graphs and the model left it.

    Returns:
        dict: ``train_accuracy`` and ``test_accuracy`` (the last graph is the test graph).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    training = graphs[:-1] or graphs
    for _ in progress(range(epochs), "training GraphSAGE (paper recipe)"):
        model.train()
        for position in dataloader_order(len(training)):
            graph = training[position]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(graph.x, graph.edge_index), graph.y)
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)  # before backward, as the reference: clips nothing
            loss.backward()
            optimizer.step()
    return accuracies(model, graphs)


def train_edgeattr(model: torch.nn.Module, graphs: List[Data], epochs: int, seed: int) -> Dict[str, float]:
    r"""edgeattr's training: torch reseeded with ``seed``, ``randperm`` order each epoch, gradients
    clipped to norm 2 after ``backward()``, the last epoch kept.

    Returns:
        dict: ``train_accuracy`` and ``test_accuracy`` (the last graph is the test graph).
    """
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    training = graphs[:-1] or graphs
    for _ in progress(range(epochs), "training GraphSAGE (edgeattr recipe)"):
        model.train()
        for position in torch.randperm(len(training)).tolist():
            graph = training[position]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(graph.x, graph.edge_index), graph.y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
    return accuracies(model, graphs)


def accuracies(model: torch.nn.Module, graphs: List[Data]) -> Dict[str, float]:
    r"""``train_accuracy`` over all graphs but the last (all of them if there is one) and ``test_accuracy``
    on the last, in eval mode."""
    model.eval()
    return {"train_accuracy": accuracy(model, graphs[:-1] or graphs), "test_accuracy": accuracy(model, graphs[-1:])}


@torch.no_grad()
def accuracy(model: torch.nn.Module, graphs: List[Data]) -> float:
    r"""Node classification accuracy over ``graphs``."""
    correct = sum(int((model(g.x, g.edge_index).argmax(-1) == g.y).sum()) for g in graphs)
    return correct / sum(g.num_nodes for g in graphs)


def trained_infection_model(
    sizes: InfectionSizes, recipe: str, seed: int, epochs: int, cache_dir: Optional[str] = None
) -> Tuple[List[Data], GraphSAGE, Dict[str, float]]:
    r"""The infection graphs and the GraphSAGE trained on them by ``recipe``, or loaded from the cache.

    Args:
        sizes (InfectionSizes): Graphs and model.
        recipe (str): ``"paper"`` or ``"edgeattr"`` (see the module docstring).
        seed (int): The seed of the graphs, the initial weights and the training order.
        epochs (int): Training epochs. (paper: 100)
        cache_dir (str, optional): As :func:`~edgeattr.experiments.cache.load_or_train` takes it.

    Returns:
        tuple: The graphs (the last is the test graph), the model in eval mode, and
        ``{"train_accuracy", "test_accuracy"}``.

    Raises:
        ValueError: for an unknown recipe.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown infection recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    graphs = infection_graphs(sizes.graphs, sizes.num_nodes, sizes.edge_prob, sizes.infected, sizes.max_path_length, seed)
    if recipe == "edgeattr":
        torch.manual_seed(seed)
    model = infection_model(sizes.hidden, sizes.max_path_length)  # the paper recipe: no reseed, the stream goes on from the graphs

    def fit(m: torch.nn.Module) -> Dict[str, float]:
        return train_paper(m, graphs, epochs) if recipe == "paper" else train_edgeattr(m, graphs, epochs, seed)

    config = {"experiment": "infection", **asdict(sizes), "recipe": recipe, "epochs": epochs, "seed": seed}
    metrics = load_or_train(model, config, fit, cache_dir)
    return graphs, model.eval(), metrics

r"""The paper's real datasets, loaded through PyG's dataset classes from a ``root`` folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from torch import Tensor
from torch_geometric.data import Data

#: Node classification datasets: PyG class name, the name it takes.
NODE_DATASETS = {"Cora": ("Planetoid", "Cora"), "CiteSeer": ("Planetoid", "CiteSeer"),
                 "Cornell": ("WebKB", "Cornell"), "Texas": ("WebKB", "Texas"), "Wisconsin": ("WebKB", "Wisconsin")}
#: Graph classification datasets (TU Dortmund collection).
GRAPH_DATASETS = ("MUTAG", "PROTEINS")
#: Datasets of the paper that cannot be loaded here, and why.
UNAVAILABLE = {
    "Graph-SST2": (
        "Graph-SST2 cannot be obtained offline: PyG has no dataset class for it (it is downloaded from the "
        "DIG library's file host) and its files are not among the raw data; leave it out of the grid"
    ),
}
#: PyG's ``Planetoid`` splits the experiments use: the public one (edgeattr's recipe), ``geom-gcn`` split 0 (the paper's).
PLANETOID_SPLITS = ("public", "geom-gcn")
#: Fractions of the seeded train/validation split of a graph dataset; the rest is the test set.
GRAPH_SPLIT = (0.6, 0.2)


@dataclass
class LoadedDataset:
    r"""One dataset, ready for training and explaining.

    Attributes:
        name (str): The canonical name (e.g. ``"CiteSeer"``).
        task (str): ``"node"`` or ``"graph"``.
        num_features (int): Node feature size.
        num_classes (int): Classes (2 for the binary graph tasks).
        edge_dim (int): Edge feature size (0 if none).
        graph (Data, optional): Node tasks: the graph, with 1-D boolean
            ``train_mask``, ``val_mask`` and ``test_mask``.
        train (list[Data]): Graph tasks: training graphs.
        val (list[Data]): Graph tasks: validation graphs.
        test (list[Data]): Graph tasks: test graphs.
    """

    name: str
    task: str
    num_features: int
    num_classes: int
    edge_dim: int = 0
    graph: Optional[Data] = None
    train: List[Data] = field(default_factory=list)
    val: List[Data] = field(default_factory=list)
    test: List[Data] = field(default_factory=list)

    def node_graph(self) -> Data:
        r"""The graph of a node task.

        Raises:
            ValueError: for a dataset without one (a graph task).
        """
        if self.graph is None:
            raise ValueError(f"{self.name} is a {self.task} task without a single graph; its graphs are train, val and test")
        return self.graph


def canonical_name(name: str) -> str:
    r"""The dataset's canonical spelling, matched case-insensitively.

    Raises:
        ValueError: for a dataset that cannot be loaded offline, or an unknown name.
    """
    known = {n.lower(): n for n in (*NODE_DATASETS, *GRAPH_DATASETS, *UNAVAILABLE)}
    canonical = known.get(name.lower())
    if canonical in UNAVAILABLE:
        raise ValueError(UNAVAILABLE[canonical])
    if canonical is None:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join((*NODE_DATASETS, *GRAPH_DATASETS))}")
    return canonical


def dataset_task(name: str) -> str:
    r"""``"node"`` or ``"graph"``: the task the paper sets on dataset ``name``."""
    return "node" if canonical_name(name) in NODE_DATASETS else "graph"


def load_dataset(name: str, root: str, seed: int = 0, planetoid_split: str = "public") -> LoadedDataset:
    r"""Loads one of the paper's datasets with PyG's own class.

    Node tasks: ``Planetoid`` (Cora, CiteSeer) with its ``public`` split or
    the paper's ``geom-gcn`` split 0 (whose files PyG reads from
    ``root/Planetoid/<name>/geom-gcn/raw``), ``WebKB`` (Cornell, Texas,
    Wisconsin) with its split 0. Graph tasks: ``TUDataset`` (MUTAG, PROTEINS),
    split 60/20/20 into train, validation and test graphs by the permutation
    ``torch.randperm`` draws from a generator seeded with ``seed``: the one the
    reference's ``dataset.shuffle()`` draws right after ``torch.manual_seed(seed)``.

    Args:
        name (str): Dataset name, any casing (``"Citeseer"`` works).
        root (str): The data folder, laid out as ``root/Planetoid/Cora``,
            ``root/WebKB/cornell``, ``root/TUDataset/MUTAG`` (each class reads
            ``raw/`` and writes ``processed/`` there, so it must be writable).
        seed (int, optional): Seed of the graph split. (default: ``0``)
        planetoid_split (str, optional): ``"public"`` or ``"geom-gcn"``: the
            split of Cora and CiteSeer. (default: ``"public"``)

    Returns:
        :class:`LoadedDataset`.

    Raises:
        ValueError: for Graph-SST2 (not obtainable offline), an unknown name or split.
    """
    name = canonical_name(name)
    if planetoid_split not in PLANETOID_SPLITS:
        raise ValueError(f"unknown Planetoid split {planetoid_split!r}; choose from {', '.join(PLANETOID_SPLITS)}")
    if name in NODE_DATASETS:
        return _node_dataset(name, root, planetoid_split)
    return _graph_dataset(name, root, seed)


def _node_dataset(name: str, root: str, planetoid_split: str) -> LoadedDataset:
    from torch_geometric.datasets import Planetoid, WebKB

    kind, pyg_name = NODE_DATASETS[name]
    folder = os.path.join(root, kind)
    dataset = Planetoid(folder, pyg_name, split=planetoid_split) if kind == "Planetoid" else WebKB(folder, pyg_name)
    data = dataset[0]
    for key in ("train_mask", "val_mask", "test_mask"):
        mask: Tensor = data[key]
        data[key] = (mask[:, 0] if mask.dim() == 2 else mask).bool()
    return LoadedDataset(name, "node", dataset.num_features, dataset.num_classes, graph=data)


def _graph_dataset(name: str, root: str, seed: int) -> LoadedDataset:
    from torch_geometric.datasets import TUDataset

    dataset = TUDataset(os.path.join(root, "TUDataset"), name)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    graphs = [dataset[i] for i in order]
    num_train, num_val = (int(len(graphs) * share) for share in GRAPH_SPLIT)
    return LoadedDataset(
        name, "graph", dataset.num_features, dataset.num_classes, edge_dim=dataset.num_edge_features,
        train=graphs[:num_train], val=graphs[num_train:num_train + num_val], test=graphs[num_train + num_val:],
    )


__all__ = ["load_dataset", "dataset_task", "canonical_name", "LoadedDataset", "NODE_DATASETS", "GRAPH_DATASETS", "UNAVAILABLE", "PLANETOID_SPLITS"]

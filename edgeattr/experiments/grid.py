r"""The paper's grid of real-data experiments: datasets x architectures x depths, a sample of explained items each.

Every grid experiment (``input-level``, ``layerwise``, ``sign-flips``) runs
:func:`run_grid` with its own *measure*: a function of one
:class:`ExplainedItem` (a trained model and one test node or test graph)
that returns the numbers of that item. The grid trains or loads each model
(cached by configuration and seed), samples the explained items with a seed,
and collects one row per item; :func:`summarize` averages them per cell and
:func:`plot_grid` draws the paper's figure (rows = architectures, columns =
datasets, x = depth).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypedDict

import torch
from torch import Tensor
from torch_geometric.utils import k_hop_subgraph

from edgeattr.adapters.pyg import PyGAdapter
from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.datasets import GRAPH_DATASETS, NODE_DATASETS, LoadedDataset, load_dataset
from edgeattr.experiments.models import ARCHITECTURES, build_model, output_mode
from edgeattr.experiments.outputs import progress
from edgeattr.experiments.training import graph_accuracy, node_accuracy, train_graph_classifier, train_node_classifier


class NodeTraining(TypedDict):
    r"""Training options of a node task (keyword arguments of :func:`train_node_classifier`)."""

    lr: float
    weight_decay: float


class GraphTraining(NodeTraining):
    r"""Training options of a graph task (keyword arguments of :func:`train_graph_classifier`)."""

    batch_size: int


#: The paper's training: Adam, learning rate 0.003; weight decay 1e-5 (node) and 1e-4 (graph tasks).
NODE_TRAINING: NodeTraining = dict(lr=0.003, weight_decay=1e-5)
GRAPH_TRAINING: GraphTraining = dict(lr=0.003, weight_decay=1e-4, batch_size=32)
#: Bumped whenever training changes, so that cached models of an older recipe are not reused.
TRAINING_VERSION = 1
#: Node feature values of all masks run in one forward pass (about 200 MB in float32).
VALUES_PER_PASS = 50_000_000
#: The widest hidden layer of the grid's models (GATv2: 4 heads of 32).
WIDEST_HIDDEN = 128


@dataclass(frozen=True)
class GridConfig:
    r"""What a grid run covers and how its models are trained.

    Attributes:
        datasets (tuple[str]): Dataset names (see :mod:`edgeattr.experiments.datasets`).
        architectures (tuple[str]): ``"GCN"``, ``"GAT"``, ``"GIN"`` (or ``"SGC"``).
        depths (tuple[int]): Numbers of layers.
        explained (int): Explained items per cell (test nodes, or test graphs
            of label 1), sampled with ``seed``; 0 explains all of them.
        node_epochs (int): Full-batch epochs of node classifiers (paper: 1000).
        graph_epochs (int): Epochs of graph classifiers (paper: 2000).
        seed (int): Seed of splits, training, sampling and explanations.
        root (str): Dataset folder (see :func:`~edgeattr.experiments.datasets.load_dataset`).
        cache_dir (str, optional): Trained-model cache (see :func:`~edgeattr.experiments.cache.load_or_train`).
        threads (int): Torch's intra-op threads during the run (0: leave as
            is). One thread is fastest for these small graphs on a shared
            CPU, where several threads wait on each other.
    """

    datasets: Tuple[str, ...]
    architectures: Tuple[str, ...]
    depths: Tuple[int, ...]
    explained: int = 5
    node_epochs: int = 200
    graph_epochs: int = 30
    seed: int = 0
    root: str = "data"
    cache_dir: Optional[str] = None
    threads: int = 1


@dataclass
class ExplainedItem:
    r"""One explained prediction: a trained model and one test node or test graph.

    Attributes:
        dataset (str): Dataset name.
        architecture (str): Architecture name.
        depth (int): Number of layers :math:`L`.
        item (int): Node id (node task) or position in the test set (graph task).
        task (str): ``"node"`` or ``"graph"``.
        model (torch.nn.Module): The trained model, in eval mode.
        args (tuple): Positional arguments of the model call, ``(x, edge_index)``.
        kwargs (dict): Keyword arguments of the model call (``edge_attr``, ``batch``).
        index (int): The adapter's ``index``: the node id, or 0 for the one graph.
        seed (int): A seed for this item's random draws.
    """

    dataset: str
    architecture: str
    depth: int
    item: int
    task: str
    model: torch.nn.Module
    args: Tuple[Tensor, Tensor]
    kwargs: Dict[str, Any] = field(default_factory=dict)
    index: int = 0
    seed: int = 0

    @property
    def edge_index(self) -> Tensor:
        r"""The explained graph's edges ``(2, E)``; masks are indexed by its columns."""
        return self.args[1]

    @property
    def num_edges(self) -> int:
        r""":math:`E`, the length of an input-level mask."""
        return self.args[1].size(1)

    def adapter(self, layerwise: bool = False) -> PyGAdapter:
        r"""A :class:`~edgeattr.PyGAdapter` explaining this item (layerwise: masks ``(B, L, E)``),
        running as many masks per pass as keep one pass's node features under :data:`VALUES_PER_PASS`."""
        x = self.args[0]
        nodes = x.size(0) if self.task == "graph" else k_hop_subgraph(self.index, self.depth, self.edge_index, num_nodes=x.size(0))[0].numel()
        copies = max(1, VALUES_PER_PASS // (nodes * max(x.size(1), WIDEST_HIDDEN)))
        return PyGAdapter(
            self.model, *self.args, index=self.index, layerwise=layerwise, task=self.task, mode=output_mode(self.task),
            copies_per_pass=copies, **self.kwargs,
        )

    def in_double(self) -> "ExplainedItem":
        r"""The same item with a float64 copy of the model and of every floating input (for exact checks)."""
        as_double = lambda t: t.double() if t.is_floating_point() else t  # noqa: E731
        return dataclasses.replace(
            self, model=copy.deepcopy(self.model).double(), args=tuple(as_double(a) for a in self.args),
            kwargs={k: as_double(v) for k, v in self.kwargs.items()},
        )

    def full_mask(self) -> Tensor:
        r"""The paper's "Full" explanation ``(1, E)``: 1 on every edge within :math:`L` hops of the
        explained node (``torch_geometric.utils.k_hop_subgraph``), on every edge for a graph task."""
        if self.task == "graph":
            return torch.ones(1, self.num_edges)
        _, _, _, within = k_hop_subgraph(self.index, self.depth, self.edge_index, num_nodes=self.args[0].size(0))
        return within.float().view(1, -1)


#: A measure: the numbers of one explained item (``None`` leaves the item out, e.g. nothing to compare).
Measure = Callable[[ExplainedItem], Optional[Dict[str, float]]]


def sampled_edges(adapter: PyGAdapter, max_edges: int) -> Tensor:
    r"""Ids of the edges whose messages reach the adapter's target: at most ``max_edges`` of them,
    drawn with torch's default generator (so seeded with the grid), or all for ``max_edges = 0``."""
    message_edge_ids = adapter.edge_ids[adapter.message_edges]
    if max_edges and message_edge_ids.numel() > max_edges:
        message_edge_ids = message_edge_ids[torch.randperm(message_edge_ids.numel())[:max_edges]]
    return message_edge_ids


def trained_model(data: LoadedDataset, architecture: str, depth: int, config: GridConfig) -> Tuple[torch.nn.Module, Dict[str, float]]:
    r"""The model of one grid cell, trained with the paper's recipe or loaded from the cache.

    Returns:
        tuple: The model in eval mode, and its metrics (training and
        validation accuracy when trained, test accuracy always).
    """
    torch.manual_seed(config.seed)
    model = build_model(architecture, data.num_features, data.num_classes, depth, data.task, data.edge_dim)
    epochs = config.node_epochs if data.task == "node" else config.graph_epochs
    training = NODE_TRAINING if data.task == "node" else GRAPH_TRAINING
    key = dict(dataset=data.name, architecture=architecture, depth=depth, task=data.task, epochs=epochs,
               seed=config.seed, version=TRAINING_VERSION, **training)
    if data.task == "node":
        g = data.node_graph()

        def train(m: torch.nn.Module) -> Dict[str, float]:
            accuracy = train_node_classifier(m, g.x, g.edge_index, g.y, g.train_mask, epochs=epochs, seed=config.seed, val_mask=g.val_mask, **training)
            return {"train_accuracy": accuracy, "val_accuracy": node_accuracy(m, g.x, g.edge_index, g.y, g.val_mask)}

        metrics = load_or_train(model, key, train, config.cache_dir, code=[train_node_classifier])
        metrics["test_accuracy"] = node_accuracy(model, g.x, g.edge_index, g.y, g.test_mask)
    else:
        metrics = load_or_train(model, key, lambda m: train_graph_classifier(m, data.train, data.val, epochs=epochs, seed=config.seed, **training),
                                config.cache_dir, code=[train_graph_classifier])
        metrics["test_accuracy"] = graph_accuracy(model, data.test)
    model.eval()
    return model, metrics


def explained_items(data: LoadedDataset, model: torch.nn.Module, architecture: str, depth: int, config: GridConfig) -> List[ExplainedItem]:
    r"""The explained items of one cell: test nodes, or test graphs of label 1 (as in the paper),
    ``config.explained`` of them drawn with ``config.seed`` (the same ones for every architecture and depth)."""
    if data.task == "node":
        pool = data.node_graph().test_mask.nonzero().view(-1).tolist()
    else:
        pool = [i for i, graph in enumerate(data.test) if int(graph.y) == 1]
    if config.explained:
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(config.seed)).tolist()
        pool = sorted(pool[i] for i in order[: config.explained])
    items = []
    for item in pool:
        common = dict(dataset=data.name, architecture=architecture, depth=depth, item=item, task=data.task, model=model, seed=config.seed * 1_000_003 + item)
        if data.task == "node":
            graph = data.node_graph()
            items.append(ExplainedItem(args=(graph.x, graph.edge_index), index=item, **common))
        else:
            graph = data.test[item]
            kwargs = {"batch": torch.zeros(graph.num_nodes, dtype=torch.long)}
            if graph.edge_attr is not None:
                kwargs["edge_attr"] = graph.edge_attr
            items.append(ExplainedItem(args=(graph.x, graph.edge_index), kwargs=kwargs, index=0, **common))
    return items


def run_grid(config: GridConfig, measure: Measure, description: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    r"""Runs ``measure`` on every explained item of every cell of the grid.

    Args:
        config (GridConfig): The grid.
        measure (Measure): Numbers of one item; ``None`` leaves it out.
        description (str): Label of the progress bar.

    Returns:
        tuple: ``(rows, models)``: one row per measured item (``dataset``,
        ``architecture``, ``depth``, ``item`` and the measure's numbers), and
        one row per trained model with its accuracies.
    """
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _run_cells(config, measure, description)
    finally:
        torch.set_num_threads(threads)


def _run_cells(config: GridConfig, measure: Measure, description: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    rows: List[Dict[str, Any]] = []
    models: List[Dict[str, Any]] = []
    cells = [(d, a, L) for d in config.datasets for a in config.architectures for L in config.depths]
    loaded: Dict[str, LoadedDataset] = {}
    for name, architecture, depth in progress(cells, description):
        if name not in loaded:
            loaded[name] = load_dataset(name, config.root, seed=config.seed)
        data = loaded[name]
        model, metrics = trained_model(data, architecture, depth, config)
        models.append(dict(dataset=data.name, architecture=architecture, depth=depth, **{k: round(v, 4) for k, v in sorted(metrics.items())}))
        for item in explained_items(data, model, architecture, depth, config):
            torch.manual_seed(item.seed)
            numbers = measure(item)
            if numbers is not None:
                rows.append(dict(dataset=data.name, architecture=architecture, depth=depth, item=item.item, **numbers))
    return rows, models


def summarize(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> List[Dict[str, Any]]:
    r"""Mean and standard deviation of ``columns`` per cell (dataset, architecture, depth), in the rows' order.

    Returns:
        list[dict]: ``dataset``, ``architecture``, ``depth``, ``count`` and
        ``<column>_mean``, ``<column>_std`` (sample std; 0 for one item).
    """
    cells: Dict[Tuple[str, str, int], List[Dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["dataset"], row["architecture"], row["depth"]), []).append(row)
    summary = []
    for (dataset, architecture, depth), members in cells.items():
        entry: Dict[str, Any] = dict(dataset=dataset, architecture=architecture, depth=depth, count=len(members))
        for column in columns:
            values = torch.tensor([float(m[column]) for m in members], dtype=torch.float64)
            entry[f"{column}_mean"] = round(float(values.mean()), 4)
            entry[f"{column}_std"] = round(float(values.std()) if values.numel() > 1 else 0.0, 4)
        summary.append(entry)
    return summary


def plot_grid(summary: Sequence[Dict[str, Any]], columns: Dict[str, str], ylabel: str, title: str, ylim: Optional[Tuple[float, float]] = (0.0, 1.02)) -> Any:
    r"""The paper's grid figure: rows = architectures, columns = datasets, x = depth.

    Args:
        summary (list[dict]): Output of :func:`summarize`.
        columns (dict): Summarised column -> legend label; one line each
            (mean over items, with a band of one standard deviation).
        ylabel (str): Label of the y axes.
        title (str): Figure title.
        ylim (tuple, optional): Limits of the y axes, the lower one moved down
            (to at most -1) where a band dips below it, so that negative cosines
            show; ``None`` lets matplotlib choose.

    Returns:
        matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if ylim is not None:
        lowest = min(row[f"{column}_mean"] - row[f"{column}_std"] for row in summary for column in columns)
        ylim = (min(ylim[0], max(lowest, -1.0) - 0.02), ylim[1])
    datasets = list(dict.fromkeys(row["dataset"] for row in summary))
    architectures = list(dict.fromkeys(row["architecture"] for row in summary))
    figure, axes = plt.subplots(len(architectures), len(datasets), figsize=(2.3 * len(datasets) + 1, 2.0 * len(architectures) + 0.8),
                                sharex=True, sharey=ylim is not None, squeeze=False)
    for r, architecture in enumerate(architectures):
        for c, dataset in enumerate(datasets):
            axis = axes[r][c]
            cell = sorted((row for row in summary if row["dataset"] == dataset and row["architecture"] == architecture), key=lambda row: row["depth"])
            depths = [row["depth"] for row in cell]
            for column, label in columns.items():
                means = [row[f"{column}_mean"] for row in cell]
                stds = [row[f"{column}_std"] for row in cell]
                (line,) = axis.plot(depths, means, marker="o", markersize=3, label=label)
                axis.fill_between(depths, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], color=line.get_color(), alpha=0.15)
            if ylim is not None:
                axis.set_ylim(*ylim)
            axis.grid(alpha=0.3)
            if r == 0:
                axis.set_title(dataset)
            if c == 0:
                axis.set_ylabel(f"{architecture}\n{ylabel}")
            if r == len(architectures) - 1:
                axis.set_xlabel("layers")
                axis.set_xticks(sorted({row["depth"] for row in summary}))
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), bbox_to_anchor=(0.5, -0.02), frameon=False)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure


def add_grid_arguments(parser: argparse.ArgumentParser, explained: int = 2, depths: Sequence[int] = (1, 2, 3)) -> None:
    r"""The grid's command-line flags, with defaults for a 2-core CPU (the paper's sizes in the help)."""
    parser.add_argument("--datasets", nargs="*", default=[*NODE_DATASETS, *GRAPH_DATASETS],
                        help="datasets (default: all seven; Graph-SST2 cannot be obtained offline)")
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES), help="architectures (default: GCN GAT GIN)")
    parser.add_argument("--depths", nargs="+", type=int, default=list(depths), help=f"numbers of layers (default: {' '.join(map(str, depths))}; paper: 1 2 3 4 5)")
    parser.add_argument("--explained", type=int, default=explained, help=f"explained test nodes / graphs per cell, 0 for all (default: {explained}; paper: 0)")
    parser.add_argument("--node-epochs", type=int, default=200, help="training epochs of node classifiers (default: 200; paper: 1000)")
    parser.add_argument("--graph-epochs", type=int, default=30, help="training epochs of graph classifiers (default: 30; paper: 2000)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, 0 for torch's default (default: 1, fastest for small graphs on a shared CPU)")


def grid_config(args: argparse.Namespace) -> GridConfig:
    r"""The :class:`GridConfig` of parsed command-line arguments (see :func:`add_grid_arguments`)."""
    return GridConfig(
        datasets=tuple(args.datasets), architectures=tuple(args.architectures), depths=tuple(args.depths),
        explained=args.explained, node_epochs=args.node_epochs, graph_epochs=args.graph_epochs,
        seed=args.seed, root=args.root, cache_dir=args.cache_dir, threads=args.threads,
    )


__all__ = ["GridConfig", "ExplainedItem", "Measure", "sampled_edges", "run_grid", "summarize", "plot_grid", "trained_model",
           "explained_items", "add_grid_arguments", "grid_config"]

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
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.utils import k_hop_subgraph

from edgeattr.adapters.pyg import PyGAdapter
from edgeattr.experiments import seed_spread
from edgeattr.experiments.datasets import GRAPH_DATASETS, NODE_DATASETS, LoadedDataset, load_dataset
from edgeattr.experiments.grid_training import GRID_RECIPES, trained_model
from edgeattr.experiments.models import ARCHITECTURES, output_mode
from edgeattr.experiments.outputs import progress
from edgeattr.experiments.training import RECIPES

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
        recipe (str): ``"paper"`` or ``"edgeattr"``: the split and the training
            (:data:`~edgeattr.experiments.grid_training.GRID_RECIPES`).
        node_epochs (int, optional): Full-batch epochs of node classifiers
            (default: the recipe's; paper: 1000).
        graph_epochs (int, optional): Epochs of graph classifiers (default: the recipe's; paper: 2000).
        seed (int): Seed of splits, training, sampling and explanations.
        seeds (int): Seeds run, ``seed`` .. ``seed + seeds - 1``: each trains its
            own models and draws its own items (see :func:`summarize`).
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
    recipe: str = "paper"
    node_epochs: Optional[int] = None
    graph_epochs: Optional[int] = None
    seed: int = 0
    seeds: int = 1
    root: str = "data"
    cache_dir: Optional[str] = None
    threads: int = 1

    def __post_init__(self) -> None:
        if self.recipe not in GRID_RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose from {', '.join(GRID_RECIPES)}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")

    def epochs(self, task: str) -> int:
        r"""Training epochs of a ``"node"`` or ``"graph"`` task: the one set here, else the recipe's."""
        recipe = GRID_RECIPES[self.recipe]
        if task == "node":
            return recipe.node_epochs if self.node_epochs is None else self.node_epochs
        return recipe.graph_epochs if self.graph_epochs is None else self.graph_epochs


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

    def full_mask(self, layerwise: bool = False) -> Tensor:
        r"""The paper's "Full" explanation: 1 on every edge within :math:`L` hops of the explained
        node (the edges of ``torch_geometric.utils.k_hop_subgraph``), on every edge for a graph task.

        Args:
            layerwise (bool): Give the mask ``(1, L, E)`` of the layerwise masks:
                layer :math:`l` of :math:`L` (the first is :math:`l = 0`) holds the
                edges within :math:`L - l` hops, whose messages at that layer can
                still reach the node. (default: ``False``, the mask ``(1, E)``)
        """
        hops = range(self.depth, 0, -1) if layerwise else [self.depth]
        if self.task == "graph":
            rows = [torch.ones(self.num_edges) for _ in hops]
        else:
            rows = [k_hop_subgraph(self.index, h, self.edge_index, num_nodes=self.args[0].size(0))[3].float() for h in hops]
        return torch.stack(rows).unsqueeze(0) if layerwise else rows[0].view(1, -1)


#: A measure: the numbers of one explained item (``None`` leaves the item out, e.g. nothing to compare).
Measure = Callable[[ExplainedItem], Optional[Dict[str, float]]]


def sampled_edges(adapter: PyGAdapter, max_edges: int) -> Tensor:
    r"""Ids of the edges whose messages reach the adapter's target: at most ``max_edges`` of them,
    drawn with torch's default generator (so seeded with the grid), or all for ``max_edges = 0``."""
    message_edge_ids = adapter.edge_ids[adapter.message_edges]
    if max_edges and message_edge_ids.numel() > max_edges:
        message_edge_ids = message_edge_ids[torch.randperm(message_edge_ids.numel())[:max_edges]]
    return message_edge_ids


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
        tuple: ``(rows, models)``: one row per measured item (``seed``,
        ``dataset``, ``architecture``, ``depth``, ``item`` and the measure's
        numbers), and one row per trained model with its accuracies, for each
        of the configuration's seeds.
    """
    threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    rows: List[Dict[str, Any]] = []
    models: List[Dict[str, Any]] = []
    try:
        for seed in range(config.seed, config.seed + config.seeds):
            seed_rows, seed_models = _run_cells(dataclasses.replace(config, seed=seed, seeds=1), measure, description)
            rows += seed_rows
            models += seed_models
    finally:
        torch.set_num_threads(threads)
    return rows, models


def _run_cells(config: GridConfig, measure: Measure, description: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    rows: List[Dict[str, Any]] = []
    models: List[Dict[str, Any]] = []
    cells = [(d, a, L) for d in config.datasets for a in config.architectures for L in config.depths]
    loaded: Dict[str, LoadedDataset] = {}
    for name, architecture, depth in progress(cells, description):
        if name not in loaded:
            loaded[name] = load_dataset(name, config.root, seed=config.seed, planetoid_split=GRID_RECIPES[config.recipe].planetoid_split)
        data = loaded[name]
        model, metrics = trained_model(data, architecture, depth, config)
        models.append(dict(seed=config.seed, dataset=data.name, architecture=architecture, depth=depth, **{k: round(v, 4) for k, v in sorted(metrics.items())}))
        for item in explained_items(data, model, architecture, depth, config):
            torch.manual_seed(item.seed)
            numbers = measure(item)
            if numbers is not None:
                rows.append(dict(seed=config.seed, dataset=data.name, architecture=architecture, depth=depth, item=item.item, **numbers))
    return rows, models


def summarize(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> List[Dict[str, Any]]:
    r"""Mean and standard deviation of ``columns`` per cell (dataset, architecture, depth), in the rows' order;
    with rows of several seeds, also the spread of the seeds' cell means.

    Returns:
        list[dict]: ``dataset``, ``architecture``, ``depth``, ``count`` (items
        over all seeds) and ``<column>_mean``, ``<column>_std`` (over all items;
        sample std, 0 for one item). With several seeds, also ``seeds`` and
        ``<column>_seed_mean``, ``<column>_seed_std``, ``<column>_seed_min``,
        ``<column>_seed_max``, ``<column>_seed_first``: the mean, sample std,
        minimum and maximum over the seeds of each seed's mean, and the first
        seed's mean.
    """
    cells: Dict[Tuple[str, str, int], List[Dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["dataset"], row["architecture"], row["depth"]), []).append(row)
    summary = []
    for (dataset, architecture, depth), members in cells.items():
        entry: Dict[str, Any] = dict(dataset=dataset, architecture=architecture, depth=depth, count=len(members))
        by_seed: Dict[Any, List[Dict[str, Any]]] = {}
        for member in members:
            by_seed.setdefault(member.get("seed"), []).append(member)
        if len(by_seed) > 1:
            entry["seeds"] = len(by_seed)
        for column in columns:
            values = torch.tensor([float(m[column]) for m in members], dtype=torch.float64)
            entry[f"{column}_mean"] = round(float(values.mean()), 4)
            entry[f"{column}_std"] = round(float(values.std()) if values.numel() > 1 else 0.0, 4)
            if len(by_seed) > 1:
                over_seeds = seed_spread.spread([sum(float(m[column]) for m in seed_rows) / len(seed_rows) for seed_rows in by_seed.values()])
                for name in ("mean", "std", "min", "max", "first"):
                    entry[f"{column}_seed_{name}"] = round(over_seeds[name], 4)
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
    parser.add_argument("--recipe", choices=RECIPES, default=RECIPES[0],
                        help="'paper': the reference code's split and training, quirks included; 'edgeattr': the public split, "
                             "shorter training, the best validation epoch (default: paper)")
    parser.add_argument("--node-epochs", type=int, default=None,
                        help="training epochs of node classifiers (default: the recipe's, paper 1000, edgeattr 200)")
    parser.add_argument("--graph-epochs", type=int, default=None,
                        help="training epochs of graph classifiers (default: the recipe's, paper 2000, edgeattr 30)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds run, --seed .. --seed + N - 1, each with its own models and items; the tables add the spread of the seeds' means (default: 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, 0 for torch's default (default: 1, fastest for small graphs on a shared CPU)")


def grid_config(args: argparse.Namespace) -> GridConfig:
    r"""The :class:`GridConfig` of parsed command-line arguments (see :func:`add_grid_arguments`)."""
    return GridConfig(
        datasets=tuple(args.datasets), architectures=tuple(args.architectures), depths=tuple(args.depths),
        explained=args.explained, recipe=args.recipe, node_epochs=args.node_epochs, graph_epochs=args.graph_epochs,
        seed=args.seed, seeds=args.seeds, root=args.root, cache_dir=args.cache_dir, threads=args.threads,
    )


__all__ = ["GridConfig", "ExplainedItem", "Measure", "sampled_edges", "run_grid", "summarize", "plot_grid",
           "explained_items", "add_grid_arguments", "grid_config"]

r"""infection: the best-walk search against AMP-ave on PyG's InfectionDataset.

Reproduces the infection experiment of He et al. (KDD 2025). Erdős–Rényi graphs
(1000 nodes, edge probability 0.004) with 50 infected nodes; a node's label is
its distance to the nearest infected node (up to the maximum path length, then
"far"). A 4-layer sum-aggregating GraphSAGE (hidden 20) is trained on all
graphs but the last, as the reference does, and explained on the last.

For every valid target (label below "far" and exactly one infected node within
that distance, so that the infection path is unique), BestWalk (the paper's
search over chained layer Jacobians) and AMP-ave each return one walk; a walk
is correct when it starts at an infected node and visits label + 1 distinct
nodes. Reported: path accuracy, seconds per node, and the cosine similarity of
the gradient-sign mask to GNNExplainer's mask on non-isolated nodes.
The paper reports 99.08% (best walk) vs 91.13% (AMP-ave), and a cosine
similarity of 0.8472 ± 0.0672.

Files: paths.csv, cosine.csv, summary.json, infection_paths.png.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.datasets import InfectionDataset
from torch_geometric.datasets.graph_generator import ERGraph
from torch_geometric.nn import GraphSAGE

from edgeattr import AMPAve, BestWalk, GNNExplainer, GradientSign, PyGAdapter, cosine_similarity
from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.outputs import ResultFolder, progress

#: What the paper reports for this experiment.
PAPER = {"best_walk_accuracy": 99.08, "amp_ave_accuracy": 91.13, "cosine_mean": 0.8472, "cosine_std": 0.0672}

#: The searches compared, by the name used in the files.
SEARCHES = {"best_walk": BestWalk, "amp_ave": AMPAve}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The experiment's flags; the defaults are the paper's sizes except for the number of explained nodes."""
    parser.add_argument("--graphs", type=int, default=5, help="graphs generated; the last is explained (paper: 5)")
    parser.add_argument("--num-nodes", type=int, default=1000, help="nodes per graph (paper: 1000)")
    parser.add_argument("--edge-prob", type=float, default=0.004, help="Erdős–Rényi edge probability (paper: 0.004)")
    parser.add_argument("--infected", type=int, default=50, help="infected nodes per graph (paper: 50)")
    parser.add_argument("--max-path-length", type=int, default=4, help="longest labelled distance, also the number of layers (paper: 4)")
    parser.add_argument("--hidden", type=int, default=20, help="GraphSAGE hidden width (paper: 20)")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (paper: 100)")
    parser.add_argument("--targets", type=int, default=100, help="valid targets searched, a seeded sample; 0: all (paper: all)")
    parser.add_argument("--cosine-nodes", type=int, default=30, help="non-isolated nodes for GradientSign vs GNNExplainer; 0: all (paper: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; the tensors are small, and one thread avoids contention (default: 1)")
    parser.add_argument("--gnnexplainer-epochs", type=int, default=100, help="GNNExplainer epochs (paper: 100, PyG's defaults otherwise)")


def infection_graphs(num_graphs: int, num_nodes: int, edge_prob: float, infected: int, max_path_length: int, seed: int) -> List[Data]:
    r"""PyG's InfectionDataset on Erdős–Rényi graphs, generated offline.

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


def train(model: torch.nn.Module, graphs: List[Data], epochs: int, seed: int) -> Dict[str, float]:
    r"""Trains as the reference does: Adam (lr 0.005, weight decay 3e-4), one graph per step in shuffled
    order, cross-entropy, gradients clipped to norm 2; the model of the last epoch is kept.

    Returns:
        dict: training and test accuracy (the last graph is the test graph).
    """
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=3e-4)
    training, test = graphs[:-1] or graphs, graphs[-1]
    for _ in progress(range(epochs), "training GraphSAGE"):
        model.train()
        for position in torch.randperm(len(training)).tolist():
            graph = training[position]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(graph.x, graph.edge_index), graph.y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
    model.eval()
    return {"train_accuracy": accuracy(model, training), "test_accuracy": accuracy(model, [test])}


@torch.no_grad()
def accuracy(model: torch.nn.Module, graphs: List[Data]) -> float:
    r"""Node classification accuracy over ``graphs``."""
    correct = sum(int((model(g.x, g.edge_index).argmax(-1) == g.y).sum()) for g in graphs)
    return correct / sum(g.num_nodes for g in graphs)


def valid_targets(graph: Data, max_path_length: int) -> Tensor:
    r"""Nodes with a unique infection path: label at most ``max_path_length`` and exactly one infected
    node within that many hops.

    Returns:
        Long tensor of node ids.
    """
    n = graph.num_nodes
    adjacency = torch.eye(n)
    adjacency[graph.edge_index[1], graph.edge_index[0]] = 1.0  # messages flow source -> target
    infected = (graph.y == 0).float()
    reach = torch.eye(n)
    counts = [infected.clone()]
    for _ in range(max_path_length):
        reach = ((reach @ adjacency) > 0).float()
        counts.append(reach @ infected)
    within = torch.stack(counts, 1)  # within[v, k]: infected nodes within k hops of v
    labelled = graph.y <= max_path_length
    hops = graph.y.clamp(max=max_path_length)
    return (labelled & (within[torch.arange(n), hops] == 1)).nonzero().view(-1)


def walk_is_correct(nodes: Tensor, graph: Data, target: int) -> bool:
    r"""The paper's criterion: the walk starts at an infected node and visits label + 1 distinct nodes."""
    return bool(graph.y[nodes[0]] == 0) and len(set(nodes.tolist())) == int(graph.y[target]) + 1


def search_paths(model: torch.nn.Module, graph: Data, targets: Tensor) -> List[Dict[str, Any]]:
    r"""Runs both searches on every target, explaining its labelled class as the paper does.

    Returns:
        list[dict]: per target, each search's walk (node ids, source first), whether it is correct,
        its score and its seconds (adapter included).
    """
    rows = []
    for node in progress(targets.tolist(), "searching walks"):
        label = int(graph.y[node])
        row: Dict[str, Any] = {"node": node, "label": label}
        for name, search in SEARCHES.items():
            start = time.perf_counter()
            adapter = PyGAdapter(model, graph.x, graph.edge_index, index=node, layerwise=True)
            walk = search(adapter).walk(target=label)
            row[f"{name}_seconds"] = time.perf_counter() - start
            row[f"{name}_walk"] = "-".join(str(v) for v in walk.nodes.tolist())
            row[f"{name}_correct"] = walk_is_correct(walk.nodes, graph, node)
            row[f"{name}_score"] = walk.score
        rows.append(row)
    return rows


def sign_vs_gnnexplainer(model: torch.nn.Module, graph: Data, nodes: Tensor, epochs: int, seed: int) -> List[Dict[str, Any]]:
    r"""Cosine similarity of GradientSign's mask to GNNExplainer's, over all edges, per node."""
    rows = []
    for node in progress(nodes.tolist(), "GradientSign vs GNNExplainer"):
        adapter = PyGAdapter(model, graph.x, graph.edge_index, index=node)
        sign = GradientSign(adapter).attribute(adapter.ones())
        torch.manual_seed(seed + node)
        explainer = GNNExplainer(adapter, epochs=epochs).attribute(adapter.ones())
        rows.append({"node": node, "cosine": float(cosine_similarity(explainer, sign)[0])})
    return rows


def sample(nodes: Tensor, count: int, seed: int) -> Tensor:
    r"""``count`` of ``nodes`` drawn without replacement (all for ``count <= 0``), in increasing order."""
    if count <= 0 or count >= nodes.numel():
        return nodes
    generator = torch.Generator().manual_seed(seed)
    return nodes[torch.randperm(nodes.numel(), generator=generator)[:count]].sort().values


def mean_std(values: List[float]) -> Tuple[float, float]:
    r"""Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs the experiment and writes its files into ``args.out``; returns the summary."""
    torch.set_num_threads(args.threads)
    folder = ResultFolder(args.out)
    config = {
        "experiment": "infection", "graphs": args.graphs, "num_nodes": args.num_nodes, "edge_prob": args.edge_prob,
        "infected": args.infected, "max_path_length": args.max_path_length, "hidden": args.hidden,
        "epochs": args.epochs, "seed": args.seed,
    }
    graphs = infection_graphs(args.graphs, args.num_nodes, args.edge_prob, args.infected, args.max_path_length, args.seed)
    torch.manual_seed(args.seed)
    model = infection_model(args.hidden, args.max_path_length)
    metrics = load_or_train(model, config, lambda m: train(m, graphs, args.epochs, args.seed), args.cache_dir)
    model.eval()
    graph = graphs[-1]
    print(f"GraphSAGE (sum, {args.max_path_length} layers, hidden {args.hidden}): "
          f"train accuracy {metrics['train_accuracy']:.4f}, test accuracy {metrics['test_accuracy']:.4f}")

    valid = valid_targets(graph, args.max_path_length)
    targets = sample(valid, args.targets, args.seed)
    rows = search_paths(model, graph, targets)
    folder.write_csv("paths.csv", rows)
    connected = torch.unique(graph.edge_index)
    cosines = sign_vs_gnnexplainer(model, graph, sample(connected, args.cosine_nodes, args.seed), args.gnnexplainer_epochs, args.seed)
    folder.write_csv("cosine.csv", cosines)

    summary: Dict[str, Any] = {"config": config, **metrics, "valid_targets": int(valid.numel()), "searched_targets": len(rows), "paper": PAPER}
    for name in SEARCHES:
        correct = [row[f"{name}_correct"] for row in rows]
        seconds = mean_std([row[f"{name}_seconds"] for row in rows])
        summary[f"{name}_accuracy"] = 100.0 * sum(correct) / len(correct) if correct else float("nan")
        summary[f"{name}_seconds_mean"], summary[f"{name}_seconds_std"] = seconds
    summary["cosine_mean"], summary["cosine_std"] = mean_std([row["cosine"] for row in cosines])
    summary["cosine_nodes"] = len(cosines)
    folder.write_json("summary.json", summary)
    figure = draw_example(graph, rows, args.max_path_length)
    if figure is not None:
        folder.save_figure("infection_paths.png", figure)
    print(format_summary(summary))
    print(f"wrote {folder.path}")
    return summary


def format_summary(summary: Dict[str, Any]) -> str:
    r"""The summary as a small table, ours beside the paper's."""
    lines = [
        f"{'':<34}{'ours':>16}{'paper':>10}",
        f"{'BestWalk path accuracy (%)':<34}{summary['best_walk_accuracy']:>16.2f}{PAPER['best_walk_accuracy']:>10.2f}",
        f"{'AMP-ave path accuracy (%)':<34}{summary['amp_ave_accuracy']:>16.2f}{PAPER['amp_ave_accuracy']:>10.2f}",
        f"{'BestWalk seconds per node':<34}{summary['best_walk_seconds_mean']:>9.3f} ± {summary['best_walk_seconds_std']:<4.3f}{'':>10}",
        f"{'AMP-ave seconds per node':<34}{summary['amp_ave_seconds_mean']:>9.3f} ± {summary['amp_ave_seconds_std']:<4.3f}{'':>10}",
        f"{'cos(GradientSign, GNNExplainer)':<34}{summary['cosine_mean']:>9.4f} ± {summary['cosine_std']:<6.4f}  "
        f"{PAPER['cosine_mean']:.4f} ± {PAPER['cosine_std']:.4f}",
        f"({summary['searched_targets']} of {summary['valid_targets']} valid targets; cosine over {summary['cosine_nodes']} nodes)",
    ]
    return "\n".join(lines)


def draw_example(graph: Data, rows: List[Dict[str, Any]], max_path_length: int) -> Optional[Any]:
    r"""One target's neighbourhood with the walk of each search drawn over it.

    Picks a target where the searches disagree and BestWalk is right, else the
    first target with the longest label. Infected nodes are orange, the target
    a star.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from torch_geometric.utils import k_hop_subgraph, subgraph

    if not rows:
        return None
    pick = next((r for r in rows if r["best_walk_correct"] and not r["amp_ave_correct"]), None)
    pick = pick or max(rows, key=lambda r: r["label"])
    node = pick["node"]
    walks = {name: [int(v) for v in pick[f"{name}_walk"].split("-")] for name in SEARCHES}
    around = k_hop_subgraph(node, max(pick["label"], 1), graph.edge_index)[0].tolist()
    shown = torch.tensor(sorted(set(around).union(*walks.values())))
    drawn = nx.Graph()
    drawn.add_nodes_from(shown.tolist())
    drawn.add_edges_from(subgraph(shown, graph.edge_index)[0].t().tolist())
    layout = nx.kamada_kawai_layout(drawn)
    figure, axes = plt.subplots(1, 2, figsize=(10, 5))
    colours = ["tab:orange" if graph.y[v] == 0 else "tab:blue" for v in drawn.nodes]
    for axis, name, title in zip(axes, SEARCHES, ("BestWalk (the paper's search)", "AMP-ave")):
        walk = walks[name]
        steps = [(a, b) for a, b in zip(walk[:-1], walk[1:]) if a != b]
        nx.draw_networkx_edges(drawn, layout, ax=axis, edge_color="lightgrey", style="dashed")
        nx.draw_networkx_nodes(drawn, layout, ax=axis, node_color=colours, node_size=60)
        nx.draw_networkx_nodes(drawn, layout, ax=axis, nodelist=[node], node_shape="*", node_size=500, node_color="white", edgecolors="black", linewidths=2)
        nx.draw_networkx_nodes(drawn, layout, ax=axis, nodelist=[walk[0]], node_shape="s", node_size=200, node_color="tab:orange" if graph.y[walk[0]] == 0 else "tab:blue", edgecolors="red", linewidths=2)
        nx.draw_networkx_edges(drawn, layout, ax=axis, edgelist=steps, width=3, edge_color="black")
        verdict = "correct" if pick[f"{name}_correct"] else "wrong"
        axis.set_title(f"{title}: {verdict}\nwalk {' → '.join(map(str, walk))}", fontsize=10)
        axis.set_axis_off()
    figure.suptitle(f"node {node}, label {pick['label']} (distance to the infection); orange: infected, square: walk source", fontsize=11)
    figure.tight_layout()
    return figure

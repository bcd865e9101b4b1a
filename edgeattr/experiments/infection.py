r"""infection: the best-walk search against AMP-ave on PyG's InfectionDataset.

Reproduces the infection experiment of He et al. (KDD 2025). Erdős–Rényi graphs
(1000 nodes, edge probability 0.004) with 50 infected nodes; a node's label is
its distance to the nearest infected node (up to the maximum path length, then
"far"). A 4-layer sum-aggregating GraphSAGE (hidden 20) is trained on all
graphs but the last, as the reference does, and explained on the last.
--recipe paper (the default) trains exactly as the reference does, its quirks
included; --recipe edgeattr is edgeattr's own sound recipe
(edgeattr/experiments/infection_training.py says how they differ).

For every valid target (label below "far" and exactly one infected node within
that distance, so that the infection path is unique), BestWalk (the paper's
search over chained layer Jacobians) and AMP-ave each return one walk; a walk
is correct when it starts at an infected node and visits label + 1 distinct
nodes. --seeds N trains N models (seeds --seed .. --seed + N - 1; each seed
generates its own graphs, as the reference's single seed does) and reports the
mean ± std, min-max and first seed's value of the path accuracies and the test
accuracy. On the first seed's model only: seconds per node, and the cosine
similarity of the gradient-sign mask to GNNExplainer's mask on non-isolated nodes.
The paper reports 99.08% (best walk) vs 91.13% (AMP-ave), and a cosine
similarity of 0.8472 ± 0.0672.

Files: seeds.csv, paths.csv, cosine.csv, summary.json, infection_paths.png.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from edgeattr import AMPAve, BestWalk, GNNExplainer, GradientSign, PyGAdapter, cosine_similarity
from edgeattr.experiments.infection_results import COSINE_NODES, FIGURES, PAPER, spread
from edgeattr.experiments.infection_training import RECIPES, InfectionSizes, trained_infection_model
from edgeattr.experiments.outputs import ResultFolder, progress

#: The searches compared, by the name used in the files.
SEARCHES = {"best_walk": BestWalk, "amp_ave": AMPAve}

#: The node whose walks the paper draws.
EXAMPLE_NODE = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The experiment's flags; the defaults are the paper's sizes except for the nodes of the cosine."""
    parser.add_argument("--recipe", choices=RECIPES, default="paper",
                        help="training: 'paper', the reference's exactly, or 'edgeattr', edgeattr's own (default: paper)")
    parser.add_argument("--seeds", type=int, default=1, help="models trained, seeds --seed .. --seed + N - 1 (default: 1; 5 or more for a spread)")
    parser.add_argument("--graphs", type=int, default=5, help="graphs generated; the last is explained (paper: 5)")
    parser.add_argument("--num-nodes", type=int, default=1000, help="nodes per graph (paper: 1000)")
    parser.add_argument("--edge-prob", type=float, default=0.004, help="Erdős–Rényi edge probability (paper: 0.004)")
    parser.add_argument("--infected", type=int, default=50, help="infected nodes per graph (paper: 50)")
    parser.add_argument("--max-path-length", type=int, default=4, help="longest labelled distance, also the number of layers (paper: 4)")
    parser.add_argument("--hidden", type=int, default=20, help="GraphSAGE hidden width (paper: 20)")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (paper: 100)")
    parser.add_argument("--targets", type=int, default=0, help="valid targets searched, a seeded sample; 0: all (default, as the paper)")
    parser.add_argument("--cosine-nodes", type=int, default=COSINE_NODES,
                        help=f"non-isolated nodes for GradientSign vs GNNExplainer; 0: all (default: {COSINE_NODES}; paper: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; the tensors are small, and one thread avoids contention (default: 1)")
    parser.add_argument("--gnnexplainer-epochs", type=int, default=100, help="GNNExplainer epochs (paper: 100, PyG's defaults otherwise)")
    parser.add_argument("--example-node", type=int, default=EXAMPLE_NODE,
                        help=f"target whose walks are drawn, where it is searched (default: {EXAMPLE_NODE}, the paper's example)")


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
    r"""Runs the experiment for every seed and writes its files into ``args.out``.

    Returns:
        dict: The summary written to ``summary.json``: ``config``, ``paper``, ``seeds`` (one row per
        trained model, see :func:`seed_row`), ``spread`` (of :func:`~edgeattr.experiments.infection_results.spread`)
        and the cosine of the first seed's model (``cosine_mean``, ``cosine_std``, ``cosine_nodes``).
    """
    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: train at least one model (--seeds 1)")
    torch.set_num_threads(args.threads)
    folder = ResultFolder(args.out)
    sizes = InfectionSizes(args.graphs, args.num_nodes, args.edge_prob, args.infected, args.max_path_length, args.hidden)
    seeds = list(range(args.seed, args.seed + args.seeds))
    config = {"experiment": "infection", **asdict(sizes), "recipe": args.recipe, "epochs": args.epochs, "seeds": seeds,
              "targets": args.targets, "threads": args.threads}
    rows: List[Dict[str, Any]] = []
    paths: List[Dict[str, Any]] = []
    cosines: List[Dict[str, Any]] = []
    for seed in seeds:
        start = time.perf_counter()
        graphs, model, metrics = trained_infection_model(sizes, args.recipe, seed, args.epochs, args.cache_dir)
        training_seconds = time.perf_counter() - start
        graph = graphs[-1]
        valid = valid_targets(graph, args.max_path_length)
        start = time.perf_counter()
        searched = search_paths(model, graph, sample(valid, args.targets, seed))
        rows.append(seed_row(seed, metrics, int(valid.numel()), searched, training_seconds, time.perf_counter() - start))
        paths.extend({"seed": seed, **row} for row in searched)
        print(f"seed {seed}: test accuracy {metrics['test_accuracy']:.4f}, BestWalk {rows[-1]['best_walk_accuracy']:.2f}%, "
              f"AMP-ave {rows[-1]['amp_ave_accuracy']:.2f}% ({len(searched)} of {int(valid.numel())} valid targets)")
        if seed == seeds[0]:
            connected = torch.unique(graph.edge_index)
            nodes = sample(connected, args.cosine_nodes, seed)
            cosines = sign_vs_gnnexplainer(model, graph, nodes, args.gnnexplainer_epochs, seed)
            figure = draw_example(graph, searched, args.max_path_length, args.example_node)
            if figure is not None:
                folder.save_figure("infection_paths.png", figure)
    folder.write_csv("seeds.csv", rows)
    folder.write_csv("paths.csv", paths)
    folder.write_csv("cosine.csv", cosines)
    cosine_mean, cosine_std = mean_std([row["cosine"] for row in cosines])
    summary: Dict[str, Any] = {"config": config, "paper": PAPER, "seeds": rows, "spread": spread(rows),
                               "cosine_mean": cosine_mean, "cosine_std": cosine_std, "cosine_nodes": len(cosines)}
    folder.write_json("summary.json", summary)
    print(format_summary(summary))
    print(f"wrote {folder.path}")
    return summary


def seed_row(seed: int, metrics: Dict[str, float], valid: int, searched: List[Dict[str, Any]], training_seconds: float,
             search_seconds: float) -> Dict[str, Any]:
    r"""The figures of one trained model.

    Returns:
        dict: ``seed``, ``train_accuracy``, ``test_accuracy``, ``valid_targets``, ``searched_targets``,
        per search (``best_walk``, ``amp_ave``): ``<search>_correct`` (walks found), ``<search>_accuracy``
        (their percentage) and ``<search>_seconds_mean`` / ``_std`` (per target), and the wall
        ``training_seconds`` (near 0 when loaded from the cache) and ``search_seconds``.
    """
    row: Dict[str, Any] = {"seed": seed, **metrics, "valid_targets": valid, "searched_targets": len(searched)}
    for name in SEARCHES:
        correct = sum(bool(found[f"{name}_correct"]) for found in searched)
        row[f"{name}_correct"] = correct
        row[f"{name}_accuracy"] = 100.0 * correct / len(searched) if searched else float("nan")
        row[f"{name}_seconds_mean"], row[f"{name}_seconds_std"] = mean_std([found[f"{name}_seconds"] for found in searched])
    row["training_seconds"], row["search_seconds"] = training_seconds, search_seconds
    return row


def format_summary(summary: Dict[str, Any]) -> str:
    r"""The summary as a small table: each figure's mean ± std and min–max over the seeds, the first seed's value, the paper's."""
    rows, first = summary["seeds"], summary["seeds"][0]
    first_label = f"seed {first['seed']}"
    lines = [
        f"recipe {summary['config']['recipe']}, seeds {', '.join(str(row['seed']) for row in rows)}",
        f"{'':<30}{'mean ± std':>18}{'min-max':>18}{first_label:>10}{'paper':>9}",
    ]
    for figure, label in FIGURES.items():
        stats = summary["spread"][figure]
        paper = f"{PAPER[figure]:.2f}" if figure in PAPER else "-"
        d = 4 if figure == "test_accuracy" else 2
        lines.append(f"{label:<30}{stats['mean']:>9.{d}f} ± {stats['std']:<6.{d}f}{stats['min']:>9.{d}f}-{stats['max']:<8.{d}f}{stats['first']:>10.{d}f}{paper:>9}")
    lines += [
        f"{'cos(GradientSign, GNNExplainer)':<30}{summary['cosine_mean']:>9.4f} ± {summary['cosine_std']:<6.4f} "
        f"(seed {first['seed']}, {summary['cosine_nodes']} nodes; paper {PAPER['cosine_mean']:.4f} ± {PAPER['cosine_std']:.4f})",
        f"({first['searched_targets']} of {first['valid_targets']} valid targets for seed {first['seed']})",
    ]
    return "\n".join(lines)


def draw_example(graph: Data, rows: List[Dict[str, Any]], max_path_length: int, node: int = EXAMPLE_NODE) -> Optional[Any]:
    r"""One target's neighbourhood with the walk of each search drawn over it.

    Draws ``node`` where it is among the searched targets; otherwise a target
    where the searches disagree and BestWalk is right, else the first target with
    the longest label. Infected nodes are orange, the target a star.

    Returns:
        matplotlib.figure.Figure, or ``None`` without rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from torch_geometric.utils import k_hop_subgraph, subgraph

    if not rows:
        return None
    pick = next((r for r in rows if r["node"] == node), None)
    pick = pick or next((r for r in rows if r["best_walk_correct"] and not r["amp_ave_correct"]), None)
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

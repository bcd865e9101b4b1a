r"""ground-truth: edge attributions scored against known explanations on BA-Shapes, BA-2Motifs and infection graphs.

Three synthetic datasets from PyG's generators whose explanations are known
(edgeattr/experiments/ground_truth_data.py): BA-Shapes (node task: a 3-layer
GCN tells base nodes from the top, middle and bottom of attached houses; truth:
the edges of the node's own house), BA-2Motifs (graph task: a 3-layer GIN
tells a house from a 5-cycle attached to a Barabási–Albert tree; truth: the
motif's edges) and PyG's InfectionDataset (node task: the sum GraphSAGE of
`edgeattr reproduce infection` predicts the distance to the infection; truth:
the edges of the node's unique shortest path from an infected node).

A seeded sample of targets (house nodes, test graphs, nodes with a unique
infection path) is explained, for the class the model predicts, by edgeattr's
EdgeGradient, GradientSign, EdgeOcclusion, LayerwiseOcclusion (summed over
layers) and GNNExplainer, by PyG's GNNExplainer, PGExplainer (trained on the
explained targets) and Captum's IntegratedGradients through PyG's Explainer,
and by uniform random scores. Per target and method, on the edges of the
target's computation subgraph (those whose messages reach it): the ROC AUC of
the scores against the ground truth, fidelity+ and fidelity- (PyG's
definitions) of the hard mask of the k highest-scored of those edges, k the
number of ground-truth edges, and the milliseconds of the explanation.

Files: targets.csv, summary.csv, summary.json, ground_truth.png.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.nn import GIN

from edgeattr import PyGAdapter
from edgeattr.doc_sections import GeneratedSection
from edgeattr.experiments.cache import load_or_train
from edgeattr.experiments.datasets import GRAPH_SPLIT
from edgeattr.experiments.ground_truth_data import (
    ExplainedTarget,
    GroundTruthTask,
    ba_2motifs,
    ba_shapes,
    infection_path_edges,
    own_motif_edges,
    unique_path_nodes,
)
from edgeattr.experiments.ground_truth_methods import METHODS, ExplainerSettings, ExplainFunction, build_explainers
from edgeattr.experiments.infection import mean_std, sample
from edgeattr.experiments.infection_training import InfectionSizes, trained_infection_model
from edgeattr.experiments.models import HIDDEN, GraphClassifier, build_model, output_mode
from edgeattr.experiments.outputs import ResultFolder, progress
from edgeattr.experiments.training import graph_accuracy, node_accuracy, train_graph_classifier, train_node_classifier
from edgeattr.metrics import fidelity, hard_masks, roc_auc

#: The datasets, by the name used in the files.
DATASETS = ("BA-Shapes", "BA-2Motifs", "Infection")
#: Message-passing layers of the GCN (BA-Shapes) and the GIN (BA-2Motifs).
DEPTH = 3
#: Hidden width of the infection model (that of ``edgeattr reproduce infection``).
INFECTION_HIDDEN = 20
#: The generated tables of the documentation page.
SECTION = GeneratedSection("ground-truth tables", "python -m edgeattr.experiments.ground_truth_eval --write-docs docs/results/ground_truth.json")
#: The lines around them.
TABLE_MARKERS = SECTION.markers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The experiment's flags; the dataset sizes default to the usual ones, the number of explained targets to a sample."""
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS), help="datasets (default: all three)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="methods (default: all)")
    parser.add_argument("--explained", type=int, default=20, help="targets explained per dataset, a seeded sample; 0: all (default: 20)")
    parser.add_argument("--ba-shapes-nodes", type=int, default=300, help="BA-Shapes: nodes of the Barabási–Albert graph (default: 300)")
    parser.add_argument("--ba-shapes-motifs", type=int, default=80, help="BA-Shapes: houses attached (default: 80)")
    parser.add_argument("--node-epochs", type=int, default=1000, help="BA-Shapes: GCN training epochs (default: 1000)")
    parser.add_argument("--ba-2motifs-graphs", type=int, default=1000, help="BA-2Motifs: graphs, half with each motif (default: 1000)")
    parser.add_argument("--ba-2motifs-nodes", type=int, default=20, help="BA-2Motifs: nodes of each Barabási–Albert tree (default: 20)")
    parser.add_argument("--graph-epochs", type=int, default=100, help="BA-2Motifs: GIN training epochs (default: 100)")
    parser.add_argument("--infection-graphs", type=int, default=5, help="infection: graphs; the last is explained (default: 5)")
    parser.add_argument("--infection-nodes", type=int, default=1000, help="infection: nodes per Erdős–Rényi graph (default: 1000)")
    parser.add_argument("--infection-edge-prob", type=float, default=0.004, help="infection: edge probability (default: 0.004)")
    parser.add_argument("--infected", type=int, default=50, help="infection: infected nodes per graph (default: 50)")
    parser.add_argument("--max-path-length", type=int, default=4, help="infection: longest labelled distance, also the layers (default: 4)")
    parser.add_argument("--infection-epochs", type=int, default=100, help="infection: GraphSAGE training epochs (default: 100)")
    parser.add_argument("--gnnexplainer-epochs", type=int, default=100, help="epochs of both GNNExplainers (default: 100, PyG's)")
    parser.add_argument("--pgexplainer-epochs", type=int, default=30, help="PGExplainer training epochs (default: 30, as PyG's documentation)")
    parser.add_argument("--ig-steps", type=int, default=50, help="Integrated Gradients steps (default: 50, Captum's)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")


def ba_shapes_task(args: argparse.Namespace) -> GroundTruthTask:
    r"""BA-Shapes with a 3-layer GCN trained on a seeded 80% of the nodes (the epoch kept by accuracy on 10%, tested
    on the other 10%); the targets are a sample of the house nodes."""
    graph = ba_shapes(args.ba_shapes_nodes, 5, args.ba_shapes_motifs, args.seed)
    order = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(args.seed))
    train_mask, val_mask, test_mask = (torch.zeros(graph.num_nodes, dtype=torch.bool) for _ in range(3))
    num_train, num_val = int(0.8 * graph.num_nodes), int(0.1 * graph.num_nodes)
    train_mask[order[:num_train]] = True
    val_mask[order[num_train:num_train + num_val]] = True
    test_mask[order[num_train + num_val:]] = True
    num_classes = int(graph.y.max()) + 1
    torch.manual_seed(args.seed)
    model = build_model("GCN", 1, num_classes, DEPTH)
    config = {"experiment": "ground-truth", "dataset": "BA-Shapes", "nodes": args.ba_shapes_nodes, "motifs": args.ba_shapes_motifs,
              "model": "GCN", "depth": DEPTH, "epochs": args.node_epochs, "seed": args.seed}

    def train(m: torch.nn.Module) -> Dict[str, float]:
        accuracy = train_node_classifier(m, graph.x, graph.edge_index, graph.y, train_mask, epochs=args.node_epochs, lr=0.01,
                                         weight_decay=5e-4, seed=args.seed, val_mask=val_mask)
        return {"train_accuracy": accuracy, "test_accuracy": node_accuracy(m, graph.x, graph.edge_index, graph.y, test_mask)}

    training = load_or_train(model, config, train, args.cache_dir, code=[train_node_classifier])
    nodes = sample((graph.y > 0).nonzero().view(-1), args.explained, args.seed).tolist()
    targets = [ExplainedTarget(node, graph.x, graph.edge_index, node, own_motif_edges(graph, node)) for node in nodes]
    return GroundTruthTask("BA-Shapes", "node", model.eval(), output_mode("node"), f"GCN ({DEPTH} layers)", targets, training)


def motif_classifier() -> GraphClassifier:
    r"""The BA-2Motifs model: PyG's GIN (hidden 32, BatchNorm after each hidden layer, no dropout), one logit, mean-pooled.

    Not :func:`~edgeattr.experiments.models.build_model`'s GIN: the LayerNorm it puts in each
    GINConv's MLP is called without ``batch``, so it normalises over every node of the mini-batch
    and a graph's prediction depends on the graphs batched with it (a single graph, as it is
    explained, comes out differently). BatchNorm uses its running statistics in eval mode. Without
    dropout, fewer graphs sit where every ReLU is off once the edge weights drop below 1 (a flat
    region where GNNExplainer's first gradient, and so its mask, is zero).
    """
    return GraphClassifier(GIN(1, HIDDEN, DEPTH, out_channels=1, act="relu", norm="BatchNorm"))


def ba_2motifs_task(args: argparse.Namespace) -> GroundTruthTask:
    r"""BA-2Motifs with the GIN of :func:`motif_classifier` trained on 60% of the graphs (the epoch kept by
    accuracy on 20%); the targets are a sample of the other 20%, the test graphs."""
    graphs = ba_2motifs(args.ba_2motifs_graphs, args.ba_2motifs_nodes, args.seed)
    num_train, num_val = (int(len(graphs) * share) for share in GRAPH_SPLIT)
    train, val, test = graphs[:num_train], graphs[num_train:num_train + num_val], graphs[num_train + num_val:]
    if not test:
        raise ValueError(f"{len(graphs)} graphs leave no test graph to explain; pass --ba-2motifs-graphs 5 or more")
    torch.manual_seed(args.seed)
    model = motif_classifier()
    config = {"experiment": "ground-truth", "dataset": "BA-2Motifs", "graphs": args.ba_2motifs_graphs, "nodes": args.ba_2motifs_nodes,
              "model": "GIN-BatchNorm-no-dropout", "depth": DEPTH, "epochs": args.graph_epochs, "seed": args.seed}
    training = load_or_train(model, config, lambda m: train_graph_classifier(m, train, val, epochs=args.graph_epochs, seed=args.seed), args.cache_dir,
                             code=[train_graph_classifier])
    model.eval()
    training = {**training, "test_accuracy": graph_accuracy(model, test)}
    picks = sample(torch.arange(len(test)), args.explained, args.seed).tolist()
    targets = [ExplainedTarget(i, test[i].x, test[i].edge_index, None, test[i].edge_mask != 0) for i in picks]
    return GroundTruthTask("BA-2Motifs", "graph", model, output_mode("graph"), f"GIN, BatchNorm ({DEPTH} layers)", targets, training)


def infection_task(args: argparse.Namespace) -> GroundTruthTask:
    r"""PyG's infection graphs with the sum GraphSAGE of ``edgeattr reproduce infection``, trained as there on all
    graphs but the last; the targets are a sample of the last graph's nodes with a unique infection path."""
    sizes = InfectionSizes(args.infection_graphs, args.infection_nodes, args.infection_edge_prob, args.infected, args.max_path_length, INFECTION_HIDDEN)
    graphs, model, training = trained_infection_model(sizes, "edgeattr", args.seed, args.infection_epochs, args.cache_dir)
    graph = graphs[-1]
    nodes = sample(unique_path_nodes(graph, args.max_path_length), args.explained, args.seed).tolist()
    targets = [ExplainedTarget(node, graph.x, graph.edge_index, node, infection_path_edges(graph, node)) for node in nodes]
    return GroundTruthTask("Infection", "node", model.eval(), output_mode("node"), f"GraphSAGE, sum ({args.max_path_length} layers)", targets, training)


#: Dataset name -> the function that builds its task.
TASKS = {"BA-Shapes": ba_shapes_task, "BA-2Motifs": ba_2motifs_task, "Infection": infection_task}


def computation_edges(adapter: PyGAdapter) -> Tensor:
    r"""Ids of the edges whose messages reach the adapter's target, increasing."""
    return adapter.edge_ids[adapter.message_edges].unique()


def ground_truth_scores(adapter: PyGAdapter, scores: Tensor, truth: Tensor, edges: Tensor, topk: Optional[int] = None) -> Tuple[Tensor, Tensor, Tensor]:
    r"""ROC AUC, fidelity+ and fidelity- of several explanations of the adapter's one target.

    Args:
        adapter (PyGAdapter): The model bound to the target's graph, one target.
        scores (Tensor): One explanation per row, ``(M, E)``.
        truth (Tensor): Bool ``(E,)``, the ground-truth edges.
        edges (Tensor): Ids of the edges scored (the computation subgraph); the others are left
            out of the AUC and out of the hard masks.
        topk (int, optional): Edges of each hard mask. Default: the ground-truth edges among ``edges``.

    Returns:
        ``(roc_auc, fid_plus, fid_minus)``, each ``(M,)``. The hard mask of a row keeps its ``topk``
        highest-scored edges of ``edges`` (ties to the lower edge id) and zeroes every other edge.

    Raises:
        ValueError: where ``edges`` holds no ground-truth edge.
    """
    kept = truth[edges]
    k = int(kept.sum()) if topk is None else topk
    if not kept.any():
        raise ValueError("the scored edges hold no ground-truth edge: the truth lies outside the target's computation subgraph")
    within = scores[:, edges]
    auc = roc_auc(within, kept.expand_as(within))
    hard = torch.zeros_like(scores)
    hard[:, edges] = hard_masks(within, topk=k)
    fid_plus, fid_minus = fidelity(adapter, hard)
    return auc, fid_plus, fid_minus


def evaluate_target(task: GroundTruthTask, target: ExplainedTarget, explainers: Mapping[str, ExplainFunction], seed: int = 0) -> List[Dict[str, Any]]:
    r"""Explains ``target`` with every explainer (each after seeding torch with ``seed``) and scores the explanations.

    Returns:
        list[dict]: One row per method: ``dataset``, ``target``, ``method``, ``roc_auc``,
        ``fid_plus``, ``fid_minus``, ``ms`` (the explanation's milliseconds), ``truth_edges`` and
        ``computation_edges`` (the sizes of the ground truth and the subgraph scored).
    """
    adapter = PyGAdapter(task.model, target.x, target.edge_index, index=target.index, task=task.level, mode=task.mode)
    edges = computation_edges(adapter)
    masks, milliseconds = [], []
    for explainer in explainers.values():
        torch.manual_seed(seed)
        start = time.perf_counter()
        mask = explainer(target)
        milliseconds.append(1000.0 * (time.perf_counter() - start))
        masks.append(mask.detach().to(adapter.dtype).view(-1))
    auc, fid_plus, fid_minus = ground_truth_scores(adapter, torch.stack(masks), target.truth, edges)
    return [
        {"dataset": task.name, "target": target.id, "method": name, "roc_auc": float(auc[row]), "fid_plus": float(fid_plus[row]),
         "fid_minus": float(fid_minus[row]), "ms": milliseconds[row], "truth_edges": int(target.truth[edges].sum()),
         "computation_edges": int(edges.numel())}
        for row, name in enumerate(explainers)
    ]


def summarize(rows: Sequence[Mapping[str, Any]], setup: Mapping[Tuple[str, str], float]) -> List[Dict[str, Any]]:
    r"""Means per dataset and method, in the order of :data:`DATASETS` and :data:`~edgeattr.experiments.ground_truth_methods.METHODS`.

    Args:
        rows (Sequence[dict]): Rows of :func:`evaluate_target`.
        setup (Mapping): ``(dataset, method)`` -> seconds before the first explanation.

    Returns:
        list[dict]: ``dataset``, ``method``, ``label``, ``targets``, ``roc_auc_mean``,
        ``roc_auc_std`` (sample standard deviation over targets), ``fid_plus``, ``fid_minus``,
        ``ms_mean`` and ``setup_seconds``.
    """
    summary = []
    for dataset in DATASETS:
        for method, label in METHODS.items():
            chosen = [row for row in rows if row["dataset"] == dataset and row["method"] == method]
            if not chosen:
                continue
            auc_mean, auc_std = mean_std([row["roc_auc"] for row in chosen if not math.isnan(row["roc_auc"])])
            summary.append({
                "dataset": dataset, "method": method, "label": label, "targets": len(chosen), "roc_auc_mean": auc_mean, "roc_auc_std": auc_std,
                "fid_plus": mean_std([row["fid_plus"] for row in chosen])[0], "fid_minus": mean_std([row["fid_minus"] for row in chosen])[0],
                "ms_mean": mean_std([row["ms"] for row in chosen])[0], "setup_seconds": setup.get((dataset, method), 0.0),
            })
    return summary


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs the experiment and writes its files into ``args.out``.

    Returns:
        dict: ``config``, ``models`` (per dataset: the model, its accuracies, the explained
        targets) and ``summary`` (of :func:`summarize`), as written to ``summary.json``.
    """
    torch.set_num_threads(args.threads)
    folder = ResultFolder(args.out)
    settings = ExplainerSettings(gnnexplainer_epochs=args.gnnexplainer_epochs, pgexplainer_epochs=args.pgexplainer_epochs, ig_steps=args.ig_steps)
    rows: List[Dict[str, Any]] = []
    models: List[Dict[str, Any]] = []
    setup: Dict[Tuple[str, str], float] = {}
    for dataset in [name for name in DATASETS if name in args.datasets]:
        task = TASKS[dataset](args)
        if not task.targets:
            raise ValueError(f"{dataset} has no target to explain at these sizes; make the graphs larger")
        models.append({"dataset": dataset, "model": task.model_name, **task.training, "targets": len(task.targets)})
        explainers, seconds = build_explainers(task, settings, [m for m in METHODS if m in args.methods], args.seed)
        setup.update({(dataset, method): value for method, value in seconds.items()})
        for target in progress(task.targets, f"explaining {dataset}"):
            rows.extend(evaluate_target(task, target, explainers, args.seed))
    config = {key: value for key, value in vars(args).items() if key not in ("out", "cache_dir", "root", "run", "command", "experiment")}
    summary = summarize(rows, setup)
    result = {"config": config, "models": models, "summary": summary}
    folder.write_csv("targets.csv", rows)
    folder.write_csv("summary.csv", summary)
    folder.write_json("summary.json", result)
    folder.save_figure("ground_truth.png", figure(summary))
    print(tables(result))
    print(f"wrote {folder.path}")
    return result


def figure(summary: Sequence[Mapping[str, Any]]) -> Any:
    r"""ROC AUC per method and dataset (mean ± std over targets; random scores sit at 0.5), and milliseconds per explanation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in DATASETS if any(row["dataset"] == d for row in summary)]
    methods = [m for m in METHODS if any(row["method"] == m for row in summary)]
    cell = {(row["dataset"], row["method"]): row for row in summary}
    width = 0.8 / max(len(datasets), 1)
    plot, (auc_axis, time_axis) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    for position, dataset in enumerate(datasets):
        present = [i for i, m in enumerate(methods) if (dataset, m) in cell]
        offsets = [i + (position - (len(datasets) - 1) / 2) * width for i in present]
        rows = [cell[(dataset, methods[i])] for i in present]
        auc_axis.bar(offsets, [r["roc_auc_mean"] for r in rows], width, yerr=[r["roc_auc_std"] for r in rows], capsize=2, label=dataset)
        time_axis.bar(offsets, [r["ms_mean"] for r in rows], width, label=dataset)
    auc_axis.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    auc_axis.set_ylim(0, 1.05)
    auc_axis.set_ylabel("ROC AUC against\nthe ground truth")
    auc_axis.set_title("Edge attributions against ground-truth explanations (computation subgraph of each target)")
    auc_axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    time_axis.set_yscale("log")
    time_axis.set_ylabel("ms per explanation")
    time_axis.set_xticks(range(len(methods)))
    time_axis.set_xticklabels([METHODS[m] for m in methods], rotation=25, ha="right")
    plot.tight_layout()
    return plot


def tables(result: Mapping[str, Any]) -> str:
    r"""The result as Markdown: the models, then one row per dataset and method (the best AUC of each dataset in bold).

    Args:
        result (Mapping): What :func:`run` returns (and ``summary.json`` holds).

    Returns:
        str: The two tables, between :data:`TABLE_MARKERS`.
    """
    lines = ["| dataset | model | train accuracy | test accuracy | explained targets |", "|---|---|---|---|---|"]
    for model in result["models"]:
        lines.append(f"| {model['dataset']} | {model['model']} | {model['train_accuracy']:.3f} | {model['test_accuracy']:.3f} | {model['targets']} |")
    lines += ["", "| dataset | method | ROC AUC | fidelity+ | fidelity− | ms per explanation |", "|---|---|---|---|---|---|"]
    summary = result["summary"]
    for row in summary:
        rivals = [r["roc_auc_mean"] for r in summary if r["dataset"] == row["dataset"] and r["method"] != "random"]
        auc = f"{row['roc_auc_mean']:.3f} ± {row['roc_auc_std']:.3f}"
        best = row["method"] != "random" and row["roc_auc_mean"] == max(rivals)
        timing = f"{row['ms_mean']:.1f}" + (f" (+ {row['setup_seconds']:.1f} s training)" if row["setup_seconds"] else "")
        lines.append(f"| {row['dataset']} | {row['label']} | {f'**{auc}**' if best else auc} | {row['fid_plus']:.3f} | {row['fid_minus']:.3f} | {timing} |")
    return SECTION.wrap("\n".join(lines))


def documented_tables(text: str) -> str:
    r"""The generated section of a documentation page, markers included.

    Raises:
        LookupError: for a page without the markers.
    """
    return SECTION.find(text)


def write_docs(results: str, page: str) -> None:
    r"""Rewrites the tables of the documentation page ``page`` from the results file ``results`` (a ``summary.json``)."""
    SECTION.write_from(results, page, tables)


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.experiments.ground_truth_eval --write-docs RESULTS [--page PAGE]``."""
    return SECTION.main(argv, tables, "docs/ground-truth.md", "a summary.json of 'edgeattr reproduce ground-truth'")


if __name__ == "__main__":
    sys.exit(main())

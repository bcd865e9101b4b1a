r"""``edgeattr explain``: train (or load) a model on a dataset and draw one explanation of a node, a graph or a link."""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Tuple

import torch
from torch_geometric.data import Data

from edgeattr.experiments.datasets import LoadedDataset, load_dataset
from edgeattr.experiments.grid import GridConfig
from edgeattr.experiments.grid_training import trained_model
from edgeattr.experiments.link_prediction import split_links, train_link_predictor
from edgeattr.experiments.models import output_mode
from edgeattr.explaining import explain
from edgeattr.explanation import EdgeExplanation
from edgeattr.methods import METHODS

#: ``--model`` name -> architecture of :func:`~edgeattr.experiments.models.build_model`.
ARCHITECTURES = {"gcn": "GCN", "gat": "GAT", "gin": "GIN", "sgc": "SGC"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The flags of ``edgeattr explain``."""
    parser.add_argument("--dataset", required=True, help="cora, citeseer, cornell, texas, wisconsin (node tasks), mutag, proteins (graph tasks)")
    parser.add_argument("--model", default="gcn", choices=sorted(ARCHITECTURES), help="architecture, hidden 32 (default: gcn)")
    parser.add_argument("--layers", type=int, default=2, help="message-passing layers (default: 2)")
    parser.add_argument("--task", choices=("node", "graph", "link"), default=None,
                        help="what is predicted (default: the dataset's task); 'link' trains a link predictor on a node dataset's graph")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--node", type=int, help="node to explain (node tasks)")
    target.add_argument("--graph", type=int, help="test graph to explain, by position among the test graphs (graph tasks)")
    target.add_argument("--pair", type=int, nargs=2, metavar=("U", "V"),
                        help="node pair whose link score to explain (--task link; default: the first held-out positive pair)")
    parser.add_argument("--method", default="gradient_sign", choices=sorted(METHODS), help="explanation method (default: gradient_sign)")
    parser.add_argument("--layerwise", action="store_true", help="also explain each layer: one panel per layer in the figure")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 200 for node, 30 for graph tasks)")
    parser.add_argument("--out", default="explanation.png", help="figure to write (default: explanation.png)")
    parser.add_argument("--root", default="data", help="dataset folder, as PyG's dataset classes take it (default: data)")
    parser.add_argument("--cache-dir", default=None, help="trained-model cache ('' disables; default: $EDGEATTR_CACHE or ~/.cache/edgeattr/models)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the training (default: 0)")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Trains or loads the model, explains the node or test graph, prints the top edges and writes the figure.

    Returns:
        dict: The explained class, the prediction and the five edges of largest attribution.
    """
    data = load_dataset(args.dataset, args.root, seed=args.seed)
    if args.task == "link":
        return _explain_link(data.node_graph(), args)
    if args.pair is not None:
        raise SystemExit("--pair explains a link: pass --task link")
    if (args.node is None) != (data.task == "graph"):
        flag = "--node" if data.task == "node" else "--graph"
        raise SystemExit(f"{data.name} is a {data.task} task: pass {flag}")
    model, metrics = trained(data, args)
    extra: Dict[str, Any]  # model keyword arguments (batch, edge_attr)
    if data.task == "node":
        graph, index, extra = data.node_graph(), args.node, {}
    else:
        graph, index = data.test[args.graph], 0
        extra = {"batch": torch.zeros(graph.num_nodes, dtype=torch.long)}
        if data.edge_dim:
            extra["edge_attr"] = graph.edge_attr
    explanation = explain(
        model, graph.x, graph.edge_index, method=args.method, index=index, layerwise=args.layerwise, mode=output_mode(data.task),
        **extra,
    )
    edges = _report(explanation, args.out, f"{data.name}, {args.model.upper()} with {args.layers} layers (test accuracy "
                    f"{metrics['test_accuracy']:.3f}); {'node ' + str(args.node) if data.task == 'node' else 'test graph ' + str(args.graph)}: "
                    f"class {explanation.target}")
    return {"target": explanation.target, "top_edges": edges}


def trained(data: LoadedDataset, args: argparse.Namespace) -> Tuple[torch.nn.Module, Dict[str, float]]:
    r"""The ``--model`` of ``--layers`` trained on the dataset (or loaded from the cache of trained models), and its metrics."""
    epochs = {"node_epochs": args.epochs, "graph_epochs": args.epochs} if args.epochs is not None else {}
    config = GridConfig(datasets=(data.name,), architectures=(ARCHITECTURES[args.model],), depths=(args.layers,), recipe="edgeattr",
                        seed=args.seed, root=args.root, cache_dir=args.cache_dir, **epochs)
    return trained_model(data, ARCHITECTURES[args.model], args.layers, config)


def _explain_link(graph: Data, args: argparse.Namespace) -> Dict[str, Any]:
    """Trains a link predictor on the graph's training edges and explains the score of one pair."""
    if args.node is not None or args.graph is not None:
        raise SystemExit("--task link explains a node pair: pass --pair U V (or nothing, for the first held-out edge)")
    split = split_links(graph, seed=args.seed)
    model, auc = train_link_predictor(ARCHITECTURES[args.model], split, depth=args.layers, epochs=args.epochs or 100, seed=args.seed)
    test = split.test
    pair = torch.tensor(args.pair) if args.pair is not None else test.edge_label_index[:, test.edge_label.bool()][:, 0]
    explanation = explain(
        model, test.x, test.edge_index, edge_label_index=pair.view(2, 1), method=args.method, index=0,
        layerwise=args.layerwise, mode="binary_classification",
    )
    u, v = pair.tolist()
    edges = _report(explanation, args.out, f"{args.dataset}, link prediction with a {args.model.upper()} encoder of {args.layers} layers "
                    f"(test ROC AUC {auc:.3f}); pair ({u}, {v}): logit {float(explanation.prediction):+.4g}, explained as class {explanation.target}")
    return {"target": explanation.target, "pair": (u, v), "test_auc": auc, "top_edges": edges}


def _report(explanation: EdgeExplanation, out: str, headline: str) -> List[Tuple[int, Tuple[int, int], float]]:
    """Writes the figure to ``out`` and prints ``headline`` and the five edges of largest attribution, which it returns."""
    explanation.plot(out)
    edges = [(int(e), tuple(explanation.edge_index[:, e].tolist()), float(explanation.edge_mask[e])) for e in explanation.topk(5).indices.tolist()]
    print(headline)
    for edge, (src, dst), value in edges:
        print(f"  edge {edge} ({src} -> {dst}): {value:+.4g}")
    print(f"wrote {out}")
    return edges

r"""``edgeattr explain-all``: train (or load) a model on a dataset and explain every node, or every test graph, to Parquet."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional

from torch_geometric.data import Batch

from edgeattr.experiments.datasets import load_dataset
from edgeattr.experiments.explain_command import ARCHITECTURES, trained
from edgeattr.experiments.models import output_mode
from edgeattr.methods import METHODS
from edgeattr.runs import DEFAULT_SHARD_SIZE, ENGINES, explain_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The flags of ``edgeattr explain-all``."""
    parser.add_argument("--dataset", required=True, help="cora, citeseer, cornell, texas, wisconsin (every node), mutag, proteins (every test graph)")
    parser.add_argument("--model", default="gcn", choices=sorted(ARCHITECTURES), help="architecture, hidden 32 (default: gcn)")
    parser.add_argument("--layers", type=int, default=2, help="message-passing layers (default: 2)")
    parser.add_argument("--method", default="gradient_sign", choices=sorted(METHODS), help="explanation method (default: gradient_sign)")
    parser.add_argument("--out", required=True, help="the run's folder, a path or a URI (s3://...): manifest.json and Parquet shards; rerun to resume")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, help=f"targets per shard (default: {DEFAULT_SHARD_SIZE})")
    parser.add_argument("--topk", type=int, default=None, help="keep each target's k edges of largest attribution (default: every non-zero one)")
    parser.add_argument("--engine", default="local", choices=ENGINES, help="where the shards run: in this process, or as Ray tasks (pip install edgeattr[ray]) (default: local)")
    parser.add_argument("--address", default=None, help="with --engine ray: the Ray cluster, as ray.init takes it ('auto', 'ray://head:10001'; default: Ray started on this machine)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: 200 for node, 30 for graph tasks)")
    parser.add_argument("--root", default="data", help="dataset folder, as PyG's dataset classes take it (default: data)")
    parser.add_argument("--cache-dir", default=None, help="trained-model cache ('' disables; default: $EDGEATTR_CACHE or ~/.cache/edgeattr/models)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the training (default: 0)")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Trains or loads the model and writes every node's (or test graph's) attributions to ``--out``, with a progress line.

    Returns:
        dict: The folder, the number of targets and of rows written.
    """
    data = load_dataset(args.dataset, args.root, seed=args.seed)
    model, metrics = trained(data, args)
    if data.task == "node":
        graph, extra = data.node_graph(), {}
    else:
        graph = Batch.from_data_list(list(data.test))
        extra = {"batch": graph.batch, **({"edge_attr": graph.edge_attr} if data.edge_dim else {})}
    store = explain_all(
        model, graph.x, graph.edge_index, method=args.method, out=args.out, shard_size=args.shard_size, topk=args.topk,
        mode=output_mode(data.task), progress=ProgressBar(f"{data.name} {args.method}"), engine=args.engine, address=args.address, **extra,
    )
    manifest = store.manifest
    rows = sum(shard.rows for shard in manifest.shards)
    what = "nodes" if data.task == "node" else "test graphs"
    print(f"{data.name}, {args.model.upper()} with {args.layers} layers (test accuracy {metrics['test_accuracy']:.3f}): "
          f"{len(manifest.targets)} {what} explained with {args.method}, {rows} rows in {len(manifest.shards)} shards in {args.out}")
    return {"out": args.out, "targets": len(manifest.targets), "rows": rows}



class ProgressBar:
    r""":func:`~edgeattr.explain_all`'s progress as a tqdm bar on standard error (targets done, per second, time left).

    Args:
        description (str): The bar's label.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: Optional[Any] = None

    def __call__(self, done: int, total: int, this_call: int, seconds: float) -> None:
        r"""Moves the bar to ``done`` of ``total`` targets; a resumed run's bar starts at the targets done before it."""
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, initial=done - this_call, desc=self.description, unit="target", file=sys.stderr, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()

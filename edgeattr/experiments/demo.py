r"""The demo: every method on the paper's negative-evidence graph, compared with GNNExplainer."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List

import torch
from torch import Tensor

from edgeattr import (
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    GradientSign,
    LayerwiseOcclusion,
    PyGAdapter,
    cosine_similarity,
)
from edgeattr.experiments.negative_evidence import GNNEXPLAINER_OPTIONS, node_colours, train_sum_sage
from edgeattr.experiments.synthetic import negative_evidence_graph
from edgeattr.plotting import plot_edge_attribution

#: name -> (layerwise adapter?, attribution of the adapter's ones-mask)
METHODS: Dict[str, tuple] = {
    "EdgeGradient": (False, lambda f: EdgeGradient(f).attribute(f.ones())),
    "GradientSign (eps=0.001)": (False, lambda f: GradientSign(f, eps=0.001).attribute(f.ones())),
    "EdgeOcclusion": (False, lambda f: EdgeOcclusion(f).attribute(f.ones())),
    "LayerwiseOcclusion (sum over layers)": (True, lambda f: LayerwiseOcclusion(f).attribute(f.ones()).sum(1)),
    "GNNExplainer": (False, lambda f: GNNExplainer(f, **GNNEXPLAINER_OPTIONS).attribute(f.ones())),
}


@dataclass
class DemoRow:
    """One line of the demo's table."""

    method: str
    cosine_mean: float
    cosine_std: float
    milliseconds: float


def run_demo(out_dir: str = "outputs/demo", num_nodes: int = 2000, explained: int = 20, seed: int = 0, log: Callable[[str], None] = print) -> List[DemoRow]:
    r"""Trains the paper's model on the negative-evidence graph and explains white nodes with every method.

    Args:
        out_dir (str): Folder for ``explanation.png``.
        num_nodes (int): Size of the graph. (default: ``2000``)
        explained (int): White nodes explained. (default: ``20``)
        seed (int): Seed of graph, training and GNNExplainer. (default: ``0``)
        log (Callable): Where progress and the table go. (default: ``print``)

    Returns:
        list[DemoRow]: Per method, the mean and standard deviation over nodes
        of the cosine similarity to GNNExplainer's mask (on the computation
        graph's edges) and the milliseconds per explanation, adapter included.
    """
    os.makedirs(out_dir, exist_ok=True)
    data = negative_evidence_graph(num_nodes=num_nodes, seed=seed)
    start = time.perf_counter()
    model, metrics = train_sum_sage([data], [data.white_mask], epochs=300, lr=0.1, l1=0.01, seed=seed)
    accuracy = metrics["train_accuracy"]
    log(
        f"negative-evidence graph: {data.num_nodes} nodes, {data.num_edges} edges; 1-layer sum GraphSAGE "
        f"trained in {time.perf_counter() - start:.1f} s, training accuracy {accuracy:.3f}"
    )
    nodes = data.white_mask.nonzero().view(-1)[:explained].tolist()
    results: Dict[str, List[Tensor]] = {name: [] for name in METHODS}
    seconds: Dict[str, float] = {name: 0.0 for name in METHODS}
    edge_sets: List[Tensor] = []
    for node in nodes:
        for name, (layerwise, method) in METHODS.items():
            torch.manual_seed(seed + node)
            start = time.perf_counter()
            adapter = PyGAdapter(model, data.x, data.edge_index, index=node, layerwise=layerwise, mode=model.mode)
            results[name].append(method(adapter))
            seconds[name] += time.perf_counter() - start
        edge_sets.append(adapter.edge_ids)
    rows = []
    for name in METHODS:
        cosines = torch.cat([
            cosine_similarity(attribution, reference, entries=edges)
            for attribution, reference, edges in zip(results[name], results["GNNExplainer"], edge_sets)
        ])
        rows.append(DemoRow(name, float(cosines.mean()), float(cosines.std()), 1000 * seconds[name] / len(nodes)))
    log(format_table(rows, len(nodes)))

    node = nodes[0]
    path = os.path.join(out_dir, "explanation.png")
    plot_edge_attribution(
        data.edge_index, results["EdgeGradient"][0][0], node, path, node_colors=node_colours(data),
        title=f"edge gradients for white node {node} (label: {'red' if data.y[node] else 'blue'} majority)",
    )
    log(f"wrote {path}")
    return rows


def format_table(rows: List[DemoRow], count: int) -> str:
    """The demo's table as text."""
    lines = [
        f"{'method':<38} {'cos to GNNExplainer':>20} {'ms / explanation':>17}",
        "-" * 77,
    ]
    for row in rows:
        lines.append(f"{row.method:<38} {row.cosine_mean:>11.4f} ± {row.cosine_std:<6.4f} {row.milliseconds:>17.2f}")
    lines.append(f"(mean ± std over {count} white nodes; GNNExplainer: {GNNEXPLAINER_OPTIONS})")
    return "\n".join(lines)

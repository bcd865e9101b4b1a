r"""Layerwise explanations on real data, compared with layerwise occlusion; and the linear check.

Grid: for GCN, GATv2 (4 heads) and GIN on the paper's node and graph datasets,
the cosine similarity to layerwise occlusion O[l, e] = z(1) - z(W[l, e] = 0)
of the layerwise gradient G[l, e] = dz/dW[l, e], of GNNExplainer run on the
layerwise mask, of a uniform random mask and of Full (at layer l of L, 1 on
the edges within L - l hops), over all (layer, edge) entries, on items where
O is not all zero (as the paper).

Linear check: a linear SGC (stacked SGConv, identity activation) on Cora,
where z is affine in each single W[l, e], so that G = O exactly (cosine 1 and
a gap at float64 rounding) at every depth; and the input-level cosine of
GNNExplainer to P = 1[dz/dw > 0] (paper: 0.965, 0.892, 0.851, 0.817, 0.779 for
1..5 layers). G = O holds entry by entry, so it is checked on the entries of a
seeded sample of the computation graph's edges, in every layer: a 5-hop
computation graph of Cora has about 34k (layer, edge) entries, each a forward
pass through 1433-wide features in float64.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from typing import Any, Dict, Optional

import torch

from edgeattr import EdgeGradient, GNNExplainer, LayerwiseOcclusion, cosine_similarity
from edgeattr.experiments.grid import ExplainedItem, add_grid_arguments, grid_config, plot_grid, run_grid, sampled_edges, summarize
from edgeattr.experiments.grid_training import GRID_RECIPES
from edgeattr.experiments.outputs import ResultFolder

#: Column -> legend label of the grid.
COMPARED = {"grad": "layerwise Grad", "gnnexplainer": "layerwise GNNExplainer", "random": "Random", "full": "Full"}
#: Column -> legend label of the linear check.
LINEAR = {"layerwise_grad_vs_occlusion": "layerwise Grad vs occlusion", "gnnexplainer_vs_p": "GNNExplainer vs P (input level)"}
#: The linear check's defaults (its training epochs: the recipe's).
LINEAR_CHECK_DEFAULTS: Dict[str, Any] = {"dataset": "Cora", "depths": [1, 2, 3, 4, 5], "explained": 3, "max_edges": 128}
#: The paper's input-level GNNExplainer-vs-P cosines for the linear SGC on Cora, 1..5 layers.
PAPER_SGC_GNNEXPLAINER = {1: 0.965, 2: 0.892, 3: 0.851, 4: 0.817, 5: 0.779}


def measure(item: ExplainedItem) -> Optional[Dict[str, float]]:
    r"""Cosine similarity of each layerwise explanation of ``item`` to layerwise occlusion;
    ``None`` where occlusion is all zero."""
    adapter = item.adapter(layerwise=True)
    ones = adapter.ones()
    occlusion = LayerwiseOcclusion(adapter).attribute(ones)
    if not occlusion.any():
        return None
    explanations = {
        "grad": EdgeGradient(adapter).attribute(ones),
        "gnnexplainer": GNNExplainer(adapter).attribute(ones),
        "random": torch.rand(ones.shape, dtype=ones.dtype),
        "full": item.full_mask(layerwise=True).to(ones.dtype),
    }
    return {name: round(float(cosine_similarity(mask, occlusion)), 6) for name, mask in explanations.items()}


def linear_measure(item: ExplainedItem, max_edges: int = 128) -> Optional[Dict[str, float]]:
    r"""The linear check on ``item`` (a linear model), in float64: cosine and largest gap of
    layerwise gradient and layerwise occlusion on the entries of at most ``max_edges`` sampled
    message-carrying edges (0: all), and the input-level cosine of GNNExplainer to P."""
    exact = item.in_double()
    layerwise = exact.adapter(layerwise=True)
    sampled = sampled_edges(layerwise, max_edges)
    gradient = EdgeGradient(layerwise).attribute(layerwise.ones())[..., sampled]
    occlusion = LayerwiseOcclusion(layerwise).attribute(layerwise.ones(), edges=sampled)[..., sampled]
    adapter = exact.adapter()
    positive = (EdgeGradient(adapter).attribute(adapter.ones()) > 0).double()
    if not occlusion.any() or not positive.any():
        return None
    return {
        "layerwise_grad_vs_occlusion": round(float(cosine_similarity(gradient, occlusion)), 9),
        "max_abs_gap": float((gradient - occlusion).abs().max()),
        "examined_edges": int(sampled.numel()),
        "gnnexplainer_vs_p": round(float(cosine_similarity(GNNExplainer(adapter).attribute(adapter.ones()), positive)), 6),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The grid's flags and those of the linear check."""
    add_grid_arguments(parser)
    defaults = LINEAR_CHECK_DEFAULTS
    parser.add_argument("--sgc-depths", nargs="*", type=int, default=list(defaults["depths"]),
                        help=f"depths of the linear SGC check (default: {' '.join(map(str, defaults['depths']))})")
    parser.add_argument("--sgc-explained", type=int, default=defaults["explained"],
                        help=f"explained test nodes of the linear check, 0 for all (default: {defaults['explained']}; paper: 0)")
    parser.add_argument("--sgc-dataset", default=defaults["dataset"], help=f"dataset of the linear check (default: {defaults['dataset']})")
    parser.add_argument("--sgc-epochs", type=int, default=None, help="training epochs of the linear SGC (default: the recipe's, paper 2000, edgeattr 200)")
    parser.add_argument("--sgc-max-edges", type=int, default=defaults["max_edges"],
                        help=f"edges whose (layer, edge) entries the linear check occludes per node, sampled; 0 for all (default: {defaults['max_edges']}; paper: all)")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs the grid and the linear check; writes ``layerwise.csv``, ``summary.csv``, ``models.csv``,
    ``sgc.csv``, ``sgc_summary.csv``, ``summary.json``, ``layerwise.png`` and ``sgc.png`` into ``args.out``.

    Returns:
        dict: ``config``; ``cells`` (per cell, the mean cosine to layerwise occlusion) and
        ``models``; ``sgc`` (per depth, the linear check's means), ``sgc_models`` and
        ``sgc_settings`` (its ``dataset``, ``depths``, ``explained``, ``epochs``, ``max_edges``).
    """
    config = grid_config(args)
    folder = ResultFolder(args.out)
    result: Dict[str, Any] = {"config": config.__dict__}
    if config.datasets and config.depths:
        rows, models = run_grid(config, measure, "layerwise")
        summary = summarize(rows, list(COMPARED))
        folder.write_csv("layerwise.csv", rows)
        folder.write_csv("summary.csv", summary)
        folder.write_csv("models.csv", models)
        folder.save_figure("layerwise.png", plot_grid(summary, COMPARED, "cos to layerwise\nocclusion", "Layerwise explanations: cosine similarity to layerwise occlusion"))
        result.update(cells=summary, models=models)
    if args.sgc_depths:
        epochs = GRID_RECIPES[config.recipe].linear_epochs if args.sgc_epochs is None else args.sgc_epochs
        linear = dataclasses.replace(config, datasets=(args.sgc_dataset,), architectures=("SGC",), depths=tuple(args.sgc_depths),
                                     explained=args.sgc_explained, node_epochs=epochs)
        rows, models = run_grid(linear, functools.partial(linear_measure, max_edges=args.sgc_max_edges), "linear SGC")
        summary = summarize(rows, [*LINEAR, "max_abs_gap"])
        for entry in summary:
            entry["paper_gnnexplainer_vs_p"] = PAPER_SGC_GNNEXPLAINER.get(entry["depth"], "")
        folder.write_csv("sgc.csv", rows)
        folder.write_csv("sgc_summary.csv", summary)
        folder.save_figure("sgc.png", plot_grid(summary, LINEAR, "cosine", f"Linear SGC on {args.sgc_dataset}"))
        settings = {"dataset": args.sgc_dataset, "depths": list(args.sgc_depths), "explained": args.sgc_explained, "epochs": epochs, "max_edges": args.sgc_max_edges}
        result.update(sgc=summary, sgc_models=models, sgc_settings=settings)
    folder.write_json("summary.json", result)
    print(f"wrote {folder.path}")
    return result

r"""Input-level explanations on real data, compared with the gradient-sign mask P.

For GCN, GATv2 (4 heads) and GIN with 1..5 layers on Cora, CiteSeer, Cornell,
Texas, Wisconsin (node tasks, test nodes) and MUTAG, PROTEINS (graph tasks,
test graphs of label 1), the cosine similarity of P = 1[dz/dw > 0] to
GNNExplainer (PyG's defaults), the signed edge gradient (Grad), input-level
occlusion, a uniform random mask and Full (1 on every edge within L hops), over
all edges of the graph, on items where P is not all zero (as the paper).
Graph-SST2 cannot be obtained offline and is left out.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, Optional

import torch

from edgeattr import EdgeGradient, EdgeOcclusion, GNNExplainer, cosine_similarity
from edgeattr.experiments.grid import ExplainedItem, add_grid_arguments, grid_config, plot_grid, run_grid, summarize
from edgeattr.experiments.outputs import ResultFolder

#: Column -> legend label, in the paper's order.
COMPARED = {"gnnexplainer": "GNNExplainer", "grad": "Grad", "occlusion": "Occlusion", "random": "Random", "full": "Full"}


def measure(item: ExplainedItem) -> Optional[Dict[str, float]]:
    r"""Cosine similarity of each explanation of ``item`` to P; ``None`` where P is all zero."""
    adapter = item.adapter()
    ones = adapter.ones()
    gradient = EdgeGradient(adapter).attribute(ones)
    positive = (gradient > 0).to(gradient.dtype)
    if not positive.any():
        return None
    explanations = {
        "gnnexplainer": GNNExplainer(adapter).attribute(ones),
        "grad": gradient,
        "occlusion": EdgeOcclusion(adapter).attribute(ones),
        "random": torch.rand(ones.shape, dtype=ones.dtype),
        "full": item.full_mask().to(ones.dtype),
    }
    numbers = {name: round(float(cosine_similarity(mask, positive)), 6) for name, mask in explanations.items()}
    numbers["positive_edges"] = int(positive.sum())
    return numbers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The grid's flags (see :func:`~edgeattr.experiments.grid.add_grid_arguments`)."""
    add_grid_arguments(parser)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs the grid and writes ``input_level.csv`` (per item), ``summary.csv``, ``models.csv``,
    ``summary.json`` and ``input_level.png`` into ``args.out``.

    Returns:
        dict: ``cells``: per cell, the mean cosine of each method to P.
    """
    config = grid_config(args)
    rows, models = run_grid(config, measure, "input-level")
    summary = summarize(rows, list(COMPARED))
    folder = ResultFolder(args.out)
    folder.write_csv("input_level.csv", rows)
    folder.write_csv("summary.csv", summary)
    folder.write_csv("models.csv", models)
    result = {"config": config.__dict__, "cells": summary, "models": models}
    folder.write_json("summary.json", result)
    folder.save_figure("input_level.png", plot_grid(summary, COMPARED, "cos to P", "Input-level explanations: cosine similarity to P = 1[dz/dw > 0]"))
    print(f"wrote {folder.path}: {len(rows)} explained items in {len(summary)} cells")
    return result

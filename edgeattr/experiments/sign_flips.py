r"""Sign flips on real data: how often edge gradients change sign as an edge's weight sweeps an interval.

For every explained item of the grid (GCN, GATv2, GIN; node and graph tasks),
each examined edge is swept and the signs of the gradients are followed, by
one or both of :func:`edgeattr.sign_flips`'s protocols (``--protocol``):

- ``edgeattr``: the edge's weight takes 21 evenly spaced values in [0, 1]
  with all other edges at 1; the rate is the fraction of examined edges with
  a non-zero gradient at w = 1 whose own gradient changes sign along the sweep
  (where it does, the gradient-sign rule is not guaranteed to match
  GNNExplainer's optimum).
- ``paper``: the paper's reference statistic: the mask parameters pass through
  a sigmoid (every other edge at sigmoid(1)), the swept edge's parameter takes
  0, 0.05, ..., 0.95, and every edge's gradient is compared with its sign at
  a mask of ones; the rate is the flagged edges over the non-zero gradients.

Large computation graphs are examined on a seeded sample of their edges (the
paper samples 1000 edges on Cora and CiteSeer). The paper protocol sweeps the
sample together with every edge outside the target's computation graph, as
the reference's sample over all test nodes does: those edges cost one pass.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any, Dict, Optional, Sequence

import torch

from edgeattr.experiments.grid import ExplainedItem, add_grid_arguments, grid_config, plot_grid, run_grid, sampled_edges, summarize
from edgeattr.experiments.outputs import ResultFolder
from edgeattr.metrics import PROTOCOLS, sign_flips

#: Summarised column -> legend label, per protocol.
COLUMNS = {"edgeattr": {"flip_rate": "edgeattr: edges whose own gradient changes sign on [0, 1]"},
           "paper": {"paper_flip_rate": "paper: flagged edges over non-zero gradients"}}


def measure(item: ExplainedItem, steps: int = 21, max_edges: int = 64, protocols: Sequence[str] = ("edgeattr",)) -> Optional[Dict[str, float]]:
    r"""The sign-flip rates of ``item`` by each of ``protocols`` over at most ``max_edges`` sampled
    message-carrying edges; ``None`` where for some protocol no examined edge has a non-zero gradient.

    Returns:
        dict: ``flip_rate``, ``examined_edges``, ``flipped_edges`` (``'edgeattr'``);
        ``paper_flip_rate``, ``paper_nonzero_edges``, ``paper_flagged_edges`` (``'paper'``).
    """
    adapter = item.adapter()
    sample = sampled_edges(adapter, max_edges)
    row: Dict[str, float] = {}
    if "edgeattr" in protocols:
        result = sign_flips(adapter, adapter.ones(), steps=steps, edges=sample)
        nonzero = result.gradients[:, -1] != 0
        if not nonzero.any():
            return None
        flipped = (result.flips > 0) & nonzero
        row.update(flip_rate=round(float(flipped.sum()) / float(nonzero.sum()), 6), examined_edges=int(nonzero.sum()), flipped_edges=int(flipped.sum()))
    if "paper" in protocols:
        unseen = torch.ones(adapter.num_edges, dtype=torch.bool, device=sample.device)
        unseen[adapter.edge_ids[adapter.message_edges]] = False
        result = sign_flips(adapter, adapter.ones(), edges=torch.cat([sample, unseen.nonzero().view(-1)]), protocol="paper")
        nonzero_count = int((result.gradients != 0).sum())
        if nonzero_count == 0:
            return None
        row.update(paper_flip_rate=round(result.rate, 6), paper_nonzero_edges=nonzero_count, paper_flagged_edges=int(result.flips.sum()))
    return row


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The grid's flags, the sweep's points, the edge sample and the protocols."""
    add_grid_arguments(parser)
    parser.add_argument("--steps", type=int, default=21, help="points of the edgeattr sweep over [0, 1] (default: 21; the paper protocol sweeps its 20)")
    parser.add_argument("--max-edges", type=int, default=64, help="edges examined per item, sampled; 0 for all (default: 64; paper: all, 1000 on Cora/CiteSeer)")
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "both"), default="both",
                        help="edgeattr's statistic, the paper's reference statistic, or both (default: both)")


def run(args: argparse.Namespace) -> Dict[str, Any]:
    r"""Runs the grid and writes ``sign_flips.csv`` (per item), ``summary.csv``, ``models.csv``,
    ``summary.json`` and ``sign_flips.png`` (one line per protocol) into ``args.out``.

    Returns:
        dict: ``cells``: per cell, the mean flip rate of each protocol over explained items.
    """
    config = grid_config(args)
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    columns = {column: label for protocol in protocols for column, label in COLUMNS[protocol].items()}
    rows, models = run_grid(config, functools.partial(measure, steps=args.steps, max_edges=args.max_edges, protocols=protocols), "sign-flips")
    summary = summarize(rows, list(columns))
    folder = ResultFolder(args.out)
    folder.write_csv("sign_flips.csv", rows)
    folder.write_csv("summary.csv", summary)
    folder.write_csv("models.csv", models)
    result = {"config": config.__dict__, "steps": args.steps, "max_edges": args.max_edges, "protocols": list(protocols), "cells": summary, "models": models}
    folder.write_json("summary.json", result)
    folder.save_figure("sign_flips.png", plot_grid(summary, columns, "flip rate", f"Edges whose gradient changes sign ({', '.join(protocols)})"))
    print(f"wrote {folder.path}: {len(rows)} explained items in {len(summary)} cells")
    return result

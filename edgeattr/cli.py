r"""The ``edgeattr`` command line."""

from __future__ import annotations

import argparse
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    r"""Entry point of the ``edgeattr`` console script.

    Args:
        argv (list[str], optional): Arguments; default ``sys.argv[1:]``.

    Returns:
        int: The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="edgeattr",
        description="Edge attributions for graph neural networks (He et al., KDD 2025).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="train a GNN on the paper's negative-evidence graph and explain it with every method",
        description=(
            "Generates the paper's negative-evidence graph offline, trains a 1-layer sum GraphSAGE, "
            "explains white nodes with EdgeGradient, GradientSign, EdgeOcclusion, LayerwiseOcclusion and "
            "GNNExplainer, prints each method's cosine similarity to GNNExplainer and its cost, and "
            "draws one explanation."
        ),
    )
    demo.add_argument("--out", default="outputs/demo", help="folder for the figure (default: outputs/demo)")
    demo.add_argument("--nodes", type=int, default=20, help="white nodes to explain (default: 20)")
    demo.add_argument("--graph-size", type=int, default=2000, help="nodes of the graph (default: 2000)")
    demo.add_argument("--seed", type=int, default=0, help="seed of graph, training and GNNExplainer (default: 0)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from edgeattr.experiments.demo import run_demo

        run_demo(out_dir=args.out, num_nodes=args.graph_size, explained=args.nodes, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

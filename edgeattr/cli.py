r"""The ``edgeattr`` command line."""

from __future__ import annotations

import argparse
import importlib
from typing import List, Optional

from edgeattr.experiments import EXPERIMENTS


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
    _add_explain(commands)
    _add_reproduce(commands)
    _add_bench(commands)
    args = parser.parse_args(argv)

    if args.command == "demo":
        from edgeattr.experiments.demo import run_demo

        run_demo(out_dir=args.out, num_nodes=args.graph_size, explained=args.nodes, seed=args.seed)
    else:
        args.run(args)
    return 0


def _add_module_command(commands: "argparse._SubParsersAction", name: str, module_name: str, help: str, description: str) -> None:
    """A subcommand whose flags and run come from a module's ``add_arguments(parser)`` and ``run(args)``."""
    module = importlib.import_module(module_name)
    parser = commands.add_parser(name, help=help, description=description)
    module.add_arguments(parser)
    parser.set_defaults(run=module.run)


def _add_bench(commands: "argparse._SubParsersAction") -> None:
    _add_module_command(
        commands,
        "bench",
        "edgeattr.benchmarks.run",
        help="measure edgeattr against PyG's, Captum's and DGL's explainers (ratios, side by side)",
        description=(
            "Runs the benchmark suite: each case times edgeattr and a baseline on the same work in one "
            "process (medians of repeated runs) and checks that their values agree; the table of ratios, "
            "goals and whether each is met goes to --markdown, every row to --json. Cora is read from "
            "--root as PyG's Planetoid reads it. The full run takes several minutes; --quick checks in "
            "seconds that every case runs."
        ),
    )


def _add_explain(commands: "argparse._SubParsersAction") -> None:
    _add_module_command(
        commands,
        "explain",
        "edgeattr.experiments.explain_command",
        help="explain one prediction of a GNN trained on a dataset, and draw it",
        description=(
            "Loads a dataset through PyG from --root, trains the model (or loads it from the cache of "
            "trained models), explains one node (--node) or test graph (--graph) with --method, prints the "
            "five edges of largest attribution and writes the figure to --out. Example: edgeattr explain "
            "--dataset cora --model gcn --node 10 --method gradient_sign --out fig.png"
        ),
    )


def _add_reproduce(commands: "argparse._SubParsersAction") -> None:
    reproduce = commands.add_parser(
        "reproduce",
        help="rerun one of the paper's experiments (see 'edgeattr reproduce --help')",
        description=(
            "Reruns an experiment of He et al. (KDD 2025). Defaults finish on a 2-core CPU in minutes; "
            "each experiment has flags for the paper's full sizes. Results (CSV, JSON, PNG) go to --out."
        ),
    )
    experiments = reproduce.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, module_name in EXPERIMENTS.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or name).strip().splitlines()[0]
        sub = experiments.add_parser(name, help=summary, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--out", default=f"outputs/{name}", help=f"folder for CSV, JSON and PNG results (default: outputs/{name})")
        sub.add_argument("--seed", type=int, default=0, help="seed of data, training and explanations (default: 0)")
        sub.add_argument("--root", default="data", help="dataset folder, as PyG's dataset classes take it (default: data)")
        sub.add_argument("--cache-dir", default=None, help="trained-model cache ('' disables; default: $EDGEATTR_CACHE or ~/.cache/edgeattr/models)")
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)


if __name__ == "__main__":
    raise SystemExit(main())

r"""The ``edgeattr`` command line."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import pathlib
import sys
from typing import Dict, List, Optional, Tuple

from edgeattr.experiments import EXPERIMENTS


def main(argv: Optional[List[str]] = None) -> int:
    r"""Entry point of the ``edgeattr`` console script.

    Only the chosen command's module is imported (each needs its framework),
    so that ``edgeattr <command> --help`` works with what that command needs.

    Args:
        argv (list[str], optional): Arguments; default ``sys.argv[1:]``.

    Returns:
        int: The exit status.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="edgeattr",
        description="Edge attributions for graph neural networks (He et al., KDD 2025).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chosen = argv[0] if argv else None
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
    for name, (module_name, help, description) in MODULE_COMMANDS.items():
        command = commands.add_parser(name, help=help, description=description)
        if name == chosen:
            _add_module_arguments(command, module_name)
    _add_reproduce(commands, argv[1] if chosen == "reproduce" and len(argv) > 1 else None)
    args = parser.parse_args(argv)

    if args.command == "demo":
        from edgeattr.experiments.demo import run_demo

        run_demo(out_dir=args.out, num_nodes=args.graph_size, explained=args.nodes, seed=args.seed)
    else:
        args.run(args)
    return 0


#: Subcommands whose flags and run come from a module's ``add_arguments(parser)`` and ``run(args)``:
#: name -> (module, help, description).
MODULE_COMMANDS: Dict[str, Tuple[str, str, str]] = {
    "explain": (
        "edgeattr.experiments.explain_command",
        "explain one prediction of a GNN trained on a dataset, and draw it",
        "Loads a dataset through PyG from --root, trains the model (or loads it from the cache of "
        "trained models), explains one node (--node) or test graph (--graph) with --method, prints the "
        "five edges of largest attribution and writes the figure to --out. Example: edgeattr explain "
        "--dataset cora --model gcn --node 10 --method gradient_sign --out fig.png",
    ),
    "explain-all": (
        "edgeattr.experiments.explain_all_command",
        "explain every node (or test graph) of a dataset and write the attributions as Parquet shards",
        "Loads a dataset through PyG from --root, trains the model (or loads it from the cache of trained "
        "models) and explains every node of a node dataset, or every test graph of a graph dataset, with "
        "--method, writing one Parquet shard per --shard-size targets and a manifest to --out, with a progress bar "
        "(targets, per second, time left); a rerun with the same arguments resumes. Read them with edgeattr.read_attributions(out). "
        "With --engine ray the shards run as Ray tasks, on this machine or on the cluster at --address. "
        "Example: edgeattr explain-all --dataset cora --model gcn --method gradient_sign --out runs/cora",
    ),
    "bench": (
        "edgeattr.benchmarks.run",
        "measure edgeattr against PyG's, Captum's and DGL's explainers (ratios, side by side)",
        "Runs the benchmark suite: each case times edgeattr and a baseline on the same work in one "
        "process (medians of repeated runs) and checks that their values agree; the table of ratios, "
        "goals and whether each is met goes to --markdown, every row to --json. Cora is read from "
        "--root as PyG's Planetoid reads it. The full run takes several minutes; --quick checks in "
        "seconds that every case runs.",
    ),
}


def _add_module_arguments(parser: argparse.ArgumentParser, module_name: str) -> None:
    """Imports the command's module and takes its flags and run."""
    module = importlib.import_module(module_name)
    module.add_arguments(parser)
    parser.set_defaults(run=module.run)


def _docstring(module_name: str) -> str:
    """A module's docstring, read from its source without importing it (its name if it has none)."""
    spec = importlib.util.find_spec(module_name)
    source = pathlib.Path(spec.origin).read_text() if spec is not None and spec.origin else None
    docstring = ast.get_docstring(ast.parse(source)) if source else None
    return docstring or module_name


def _add_reproduce(commands: "argparse._SubParsersAction", chosen: Optional[str]) -> None:
    """``edgeattr reproduce``: one subcommand per experiment; only the chosen one's module is imported."""
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
        docstring = _docstring(module_name)
        summary = docstring.strip().splitlines()[0]
        if name != chosen:
            experiments.add_parser(name, help=summary)
            continue
        sub = experiments.add_parser(name, help=summary, description=docstring, formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--out", default=f"outputs/{name}", help=f"folder for CSV, JSON and PNG results (default: outputs/{name})")
        sub.add_argument("--seed", type=int, default=0, help="seed of data, training and explanations (default: 0)")
        sub.add_argument("--root", default="data", help="dataset folder, as PyG's dataset classes take it (default: data)")
        sub.add_argument("--cache-dir", default=None, help="trained-model cache ('' disables; default: $EDGEATTR_CACHE or ~/.cache/edgeattr/models)")
        _add_module_arguments(sub, module_name)


if __name__ == "__main__":
    raise SystemExit(main())

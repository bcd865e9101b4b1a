r"""Runs the benchmark suite: each case in its own process, then one report.

``python -m edgeattr.benchmarks.run --root data`` (``make bench``) measures
every case and writes ``docs/results/benchmarks.json`` and ``docs/benchmarks.md`` from it.
Cases run in fresh processes so that each peak-memory figure is its own;
the DGL cases run with ``--dgl-python`` (the dgl lane's interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Tuple

from edgeattr.benchmarks.report import RESULTS, Row, environment, write
from edgeattr.benchmarks.workloads import DEVICE_VARIABLE

#: Case name -> (lane, sizes of the full run, sizes of ``--quick``).
CASES: Dict[str, Tuple[str, dict, dict]] = {
    "edge-gradient": ("modern", dict(count=50), dict(count=5)),
    "gnnexplainer": ("modern", dict(count=5, batch=1000), dict(count=1, batch=5)),
    "occlusion": ("modern", dict(sampled=100, count=10), dict(sampled=10, count=1)),
    "every-node": ("modern", dict(chunk=16, sample=136), dict(chunk=16, sample=16)),
    "large-graph": ("modern", dict(num_nodes=100_000, num_edges=1_000_000, chunk=512, sampled=50), dict(num_nodes=2_000, num_edges=20_000, chunk=512, sampled=5)),
    "explain-all": ("modern", dict(count=2708, shard_size=200), dict(count=200, shard_size=50)),
    "walk-search": ("modern", dict(num_nodes=1000, targets=20, epochs=20), dict(num_nodes=300, targets=2, epochs=1)),
    "dgl": ("dgl", dict(count=50, explainer_count=5, sampled=100), dict(count=5, explainer_count=1, sampled=10)),
}


#: The cases that run on ``--device``; the others stay on the CPU (the dgl lane's DGL is a CPU build, Ray's
#: tasks and the walk search ask for no GPU).
DEVICE_CASES = ("edge-gradient", "gnnexplainer", "occlusion", "every-node", "large-graph")
#: The items of each case that runs on ``--device``, for the report's header.
CASE_ITEMS = {"edge-gradient": "1", "gnnexplainer": "2", "occlusion": "3", "every-node": "4", "large-graph": "4-5"}


def run_case(name: str, root: str, sizes: dict) -> List[Row]:
    r"""Runs one case in this process."""
    if name == "dgl":
        from edgeattr.benchmarks.dgl_cases import dgl_cases

        return dgl_cases(root, **sizes)
    from edgeattr.benchmarks import explain_all_cases, pyg_cases

    if name == "large-graph":
        return pyg_cases.large_graph(**sizes)
    if name == "walk-search":
        return pyg_cases.walk_search(**sizes)
    work = pyg_cases.cora_gcn(root)
    runs: Dict[str, Callable[..., List[Row]]] = {
        "edge-gradient": pyg_cases.edge_gradient_vs_saliency,
        "gnnexplainer": pyg_cases.gradient_sign_vs_gnnexplainer,
        "occlusion": pyg_cases.occlusion_vs_loops,
        "every-node": pyg_cases.every_cora_node,
        "explain-all": explain_all_cases.explain_all_engines,
    }
    run = runs[name]
    return run(work, **sizes)


def run_suite(root: str, markdown_path: str, json_path: str, quick: bool = False, cases: Optional[List[str]] = None,
              dgl_python: Optional[str] = None, log: Callable[[str], None] = print, device: str = "cpu") -> List[Row]:
    r"""Runs the cases, each in a fresh process, and writes the report.

    Args:
        root (str): Dataset folder (PyG's ``root``; Cora is read from ``root/Cora``).
        markdown_path (str): Where the Markdown table goes.
        json_path (str): Where the JSON rows go.
        quick (bool): Small sizes (a smoke run). (default: ``False``)
        cases (list[str], optional): Cases to run; default all (``'dgl'`` only with ``dgl_python``).
        dgl_python (str, optional): Interpreter of the dgl lane for the DGL cases.
        log (Callable): Progress messages.
        device (str): Where the cases of :data:`DEVICE_CASES` run (``'cuda'`` on a GPU). (default: ``'cpu'``)

    Returns:
        list[Row]: Every measured row.
    """
    names = cases or [name for name, (lane, _, _) in CASES.items() if lane != "dgl" or dgl_python]
    rows: List[Row] = []
    began = time.perf_counter()
    for name in names:
        lane, full, small = CASES[name]
        python = dgl_python if lane == "dgl" else sys.executable
        if python is None:
            raise ValueError(f"case {name!r} needs the dgl lane's interpreter: pass --dgl-python")
        log(f"[{time.perf_counter() - began:6.0f} s] {name} ...")
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "rows.json")
            command = [python, "-m", "edgeattr.benchmarks.run", "--case", name, "--root", root, "--case-out", out] + (["--quick"] if quick else [])
            on = {DEVICE_VARIABLE: device if name in DEVICE_CASES else "cpu"}
            subprocess.run(command, check=True, env={**os.environ, "DGLBACKEND": "pytorch", **on})
            with open(out) as handle:
                rows.extend(Row(**row) for row in json.load(handle))
    header = report_header(quick, time.perf_counter() - began, device)
    write(rows, markdown_path, json_path, header)
    log(f"[{time.perf_counter() - began:6.0f} s] wrote {markdown_path} and {json_path}")
    return rows


def report_header(quick: bool, seconds: float, device: str = "cpu") -> str:
    r"""The text above the benchmark table: how it was measured, where, and how long the suite took."""
    return (
        "# Benchmarks\n\n"
        "Written by `make bench` (`edgeattr bench`). Each row times edgeattr and its baseline on the same work in "
        "one process, one after the other (medians of repeated runs; baselines too slow to run in full are timed on "
        "a sample and extrapolated, as the row says), checks that their values agree, and gives the ratio and "
        "whether the goal is met. Absolute times depend on the machine; the ratios are the result. Adapters run "
        "with `verify=True`, the default: the check of their shortcuts against the model's own output is made once "
        "per model and inputs, so loops over nodes pay it once (row 5 gives its cost on new inputs). A row's floor is "
        "the model alone, without edgeattr, on PyG's `k_hop_subgraph` of its targets (`edgeattr.benchmarks.floors`): "
        "no method that runs the model on the targets' computation subgraphs can be faster, so a goal beyond it "
        "cannot be met.\n\n"
        f"Measured on: {environment()}; {_device_text(device)}; {time.strftime('%Y-%m-%d')}; {'quick sizes' if quick else 'full sizes'}; "
        f"suite wall time {seconds:.0f} s."
    )


def _device_text(device: str) -> str:
    """Where the cases ran, for the report's header."""
    if device == "cpu":
        return "on the CPU"
    import torch

    name = torch.cuda.get_device_name(torch.device(device)) if torch.cuda.is_available() else device
    return f"items {', '.join(CASE_ITEMS[case] for case in DEVICE_CASES)} on {device} ({name}), the others on the CPU"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeattr.benchmarks.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--case-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        _, full, small = CASES[args.case]
        sizes = small if args.quick else full
        rows = run_case(args.case, args.root, sizes)
        with open(args.case_out, "w") as handle:
            json.dump([asdict(row) for row in rows], handle)
        return 0
    run(args)
    return 0


def run(args: argparse.Namespace) -> List[Row]:
    r"""Runs the suite with the flags of :func:`add_arguments` (``edgeattr bench``)."""
    return run_suite(args.root, args.markdown, args.json, args.quick, args.cases, args.dgl_python, device=args.device)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    r"""The benchmark flags, shared with ``edgeattr bench``."""
    parser.add_argument("--root", default="data", help="dataset folder with Cora as PyG's Planetoid reads it (default: data)")
    parser.add_argument("--markdown", default="docs/benchmarks.md", help="Markdown table (default: docs/benchmarks.md)")
    parser.add_argument("--json", default=RESULTS, help=f"the result file, header and rows (default: {RESULTS})")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every case runs (seconds)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), help="run only these cases (default: all)")
    parser.add_argument("--dgl-python", help="Python of an environment with DGL, for the DGL cases (skipped without it)")
    parser.add_argument("--device", default="cpu", help=f"device of the cases {', '.join(DEVICE_CASES)} (default: cpu; cuda on a GPU)")


if __name__ == "__main__":
    raise SystemExit(main())

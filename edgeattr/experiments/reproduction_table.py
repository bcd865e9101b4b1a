r"""The table of docs/reproduction.md: every result of the paper beside ours, written from the committed result files.

``python -m edgeattr.experiments.reproduction_table --write-docs docs/reproduction.md``
reads ``docs/results/{negative_evidence,infection,input_level,layerwise,sign_flips}.json``
and rewrites the page's generated table: per result, the paper's number, ours
under ``--recipe paper`` (mean ± std over the seeds that ran, and seed 0) and
under ``--recipe edgeattr``, the command, and why a difference remains.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from edgeattr.doc_sections import GeneratedSection
from edgeattr.experiments import grid_results, infection_results, negative_evidence_docs
from edgeattr.experiments.layerwise import PAPER_SGC_GNNEXPLAINER
from edgeattr.experiments.training import RECIPES

#: The page and its generated section.
PAGE = "docs/reproduction.md"
SECTION = GeneratedSection("reproduction table", f"python -m edgeattr.experiments.reproduction_table --write-docs {PAGE}")
#: What a recipe without a run shows.
NOT_RUN = "not run"


@dataclass(frozen=True)
class ResultRow:
    r"""One result of the paper beside ours.

    Attributes:
        result (str): What is measured.
        paper (str): The paper's number (or what its figure shows).
        paper_recipe (str): Ours under ``--recipe paper``.
        edgeattr_recipe (str): Ours under ``--recipe edgeattr``.
        command (str): The command that makes it.
        why (str): Why a difference remains.
        page (str): The page with the details (relative to docs/).
    """

    result: str
    paper: str
    paper_recipe: str
    edgeattr_recipe: str
    command: str
    why: str
    page: str

    def markdown(self) -> str:
        r"""The row of the Markdown table."""
        name = self.page.rsplit("/", 1)[-1].removesuffix(".md")
        cells = [self.result, self.paper, self.paper_recipe, self.edgeattr_recipe, f"`{self.command}`", self.why, f"[{name}]({self.page})"]
        return "| " + " | ".join(cells) + " |"


def over_seeds(spread: Mapping[str, Any], seeds: Sequence[int], digits: int) -> str:
    r"""A figure over seeds: mean ± std over them and the first seed's value, or the one seed's value."""
    first = f"{float(spread['first']):.{digits}f}"
    if len(seeds) == 1:
        return f"{first} (seed {seeds[0]} only)"
    return (f"{float(spread['mean']):.{digits}f} ± {float(spread['std']):.{digits}f} over {len(seeds)} seeds "
            f"({float(spread['min']):.{digits}f}–{float(spread['max']):.{digits}f}); seed {seeds[0]}: {first}")


def negative_evidence_rows(results: Mapping[str, Any]) -> List[ResultRow]:
    r"""The three similarities of the negative-evidence experiment."""
    figures = [("2class", "cos_sign_gnnexplainer", "binary: cos(P, GNNExplainer)"),
               ("2class", "cos_gradient_difference", "binary: cos(g, GNNExplainer − reverse)"),
               ("3class", "cos_sign_gnnexplainer", "3 classes: cos(P, GNNExplainer)")]
    rows = []
    for variant, figure, label in figures:
        ours = {}
        paper = ""
        for recipe in ("paper", "edgeattr"):
            entry = results.get(recipe)
            if entry is None:
                ours[recipe] = NOT_RUN
                continue
            result = entry["variants"][variant]
            paper = f"{result['paper'][figure][0]:.4f} ± {result['paper'][figure][1]:.4f}"
            ours[recipe] = over_seeds(result["spread"][figure], entry["seeds"], 4)
        rows.append(ResultRow(
            f"negative evidence, {label}", paper, ours["paper"], ours["edgeattr"], "edgeattr reproduce negative-evidence --recipe R --seed S",
            "the reference's graphs, count cycling and one Adam step per graph, rebuilt exactly; left: floating-point order "
            "(the paper trained on a GPU); the paper's ± is over nodes, ours over seeds",
            "reproduction/negative-evidence.md"))
    return rows


def infection_rows(results: Mapping[str, Any]) -> List[ResultRow]:
    r"""The path accuracies of both searches and the gradient-sign cosine of the infection experiment."""
    runs: Dict[str, Mapping[str, Any]] = {}
    for run in results["runs"]:  # per recipe, the run of most seeds, one thread first
        recipe = run["config"]["recipe"]
        best = runs.get(recipe)
        if best is None or (len(run["config"]["seeds"]), -run["config"]["threads"]) > (len(best["config"]["seeds"]), -best["config"]["threads"]):
            runs[recipe] = run
    rows = []
    for figure, label in (("best_walk_accuracy", "BestWalk"), ("amp_ave_accuracy", "AMP-ave")):
        ours = {recipe: over_seeds(run["spread"][figure], run["config"]["seeds"], 2) + " %" for recipe, run in runs.items()}
        rows.append(ResultRow(
            f"infection, path accuracy of {label} (all valid targets)", f"{infection_results.PAPER[figure]:.2f} %",
            ours.get("paper", NOT_RUN), ours.get("edgeattr", NOT_RUN), "edgeattr reproduce infection --recipe R --seeds 10",
            "the searches give the reference's walks on the same model; the trained model differs by floating-point order "
            "(the paper trained on a GPU; the thread count alone moves a few walks), and the spread over seeds is wide",
            "reproduction/infection.md"))
    cosine = {recipe: f"{run['cosine_mean']:.4f} ± {run['cosine_std']:.4f} (seed {run['config']['seeds'][0]}, {run['cosine_nodes']} nodes)"
              for recipe, run in runs.items() if run["cosine_nodes"]}
    paper = infection_results.PAPER
    rows.append(ResultRow(
        "infection, cos(GradientSign, GNNExplainer)", f"{paper['cosine_mean']:.4f} ± {paper['cosine_std']:.4f}",
        cosine.get("paper", NOT_RUN), cosine.get("edgeattr", NOT_RUN),
        "edgeattr reproduce infection --cosine-nodes 0", "a seeded sample of nodes by default (the paper: all); ± is over nodes",
        "reproduction/infection.md"))
    return rows


def by_recipe(results: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    r"""A grid result file's runs by recipe (the first of each)."""
    runs: Dict[str, Mapping[str, Any]] = {}
    for run in results["runs"]:
        runs.setdefault(run["settings"]["recipe"], run)
    return runs


def grid_summary(run: Optional[Mapping[str, Any]], summarise: Callable[[Mapping[str, Any]], str]) -> str:
    r"""``summarise`` of a grid run with what it covered, or :data:`NOT_RUN`."""
    if run is None or not run.get("cells"):
        return NOT_RUN
    settings = run["settings"]
    depths = settings["depths"]
    size = f"seed {settings['seed']}, L = {depths[0]}–{depths[-1]}, {settings['explained'] or 'all'} per cell, {len(settings['datasets'])} datasets"
    return f"{summarise(run)} ({size})"


def findings_text(run: Mapping[str, Any], findings: Callable[[Mapping[str, Any], Mapping[str, str]], List[str]], columns: Mapping[str, str]) -> str:
    r"""The findings of a run joined into one cell of the table."""
    return "; ".join(line.removeprefix("- ").rstrip(".") for line in findings(run, columns))


def findings_by_recipe(name: str, results: Mapping[str, Any]) -> Dict[str, str]:
    r"""The findings of the grid experiment ``name`` per recipe, each joined into one cell of the table."""
    experiment = grid_results.EXPERIMENTS[name]
    runs = by_recipe(results)
    return {recipe: grid_summary(runs.get(recipe), lambda run: findings_text(run, experiment.findings, experiment.columns_of(run)))
            for recipe in RECIPES}


def input_level_rows(results: Mapping[str, Any]) -> List[ResultRow]:
    r"""The input-level grid: how often GNNExplainer is the method closest to P."""
    ours = findings_by_recipe("input-level", results)
    return [ResultRow(
        "input-level grid: cos to P of GNNExplainer, Grad, Occlusion, Random, Full", "figure: GNNExplainer closest to P",
        ours["paper"], ours["edgeattr"], "edgeattr reproduce input-level --recipe R",
        "2 items per cell and depths 1–3 by default (the paper: every test item, depths 1–5); Graph-SST2 cannot be obtained offline",
        "reproduction/input-level.md")]


def linear_check_runs(results: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    r"""Per recipe, the run of a layerwise result file whose linear check has the most seeds (the first of those)."""
    runs: Dict[str, Mapping[str, Any]] = {}
    for run in results["runs"]:
        recipe, best = run["settings"]["recipe"], runs.get(run["settings"]["recipe"])
        if run.get("sgc") and (best is None or run["settings"].get("seeds", 1) > best["settings"].get("seeds", 1)):
            runs[recipe] = run
    return runs


def layerwise_rows(results: Mapping[str, Any]) -> List[ResultRow]:
    r"""The layerwise grid and the linear SGC check."""
    runs = by_recipe(results)
    linear_runs = linear_check_runs(results)

    def grid(run: Mapping[str, Any]) -> str:
        ranges = {}
        for task, architecture in (("node", None), ("graph", "GCN"), ("graph", "GAT"), ("graph", "GIN")):
            cells = [c for c in grid_results.by_task(run["cells"], task) if architecture in (None, c["architecture"])]
            values = [m for m in (grid_results.cell_mean(c, "grad") for c in cells) if m is not None]
            if values:
                ranges[f"{task} {architecture or 'tasks'}"] = grid_results.value_range(values)
        return ", ".join(f"{name} {text}" for name, text in ranges.items())

    def linear(run: Optional[Mapping[str, Any]], column: str) -> str:
        if run is None:
            return NOT_RUN
        rows, seeds = run["sgc"], run["settings"].get("seeds", 1)
        nodes = f"{rows[0]['count']} nodes" + (f" over {seeds} seeds" if seeds > 1 else "")
        if column == "gap":
            return (f"{min(float(r['layerwise_grad_vs_occlusion_mean']) for r in rows):.6f} at L = {rows[0]['depth']}–{rows[-1]['depth']} "
                    f"(largest gap {grid_results.gap_text(max(float(r['max_abs_gap_mean']) for r in rows))}; {nodes}, sampled edges)")
        if seeds == 1:
            return ", ".join(f"{float(r['gnnexplainer_vs_p_mean']):.3f}" for r in rows) + f" ({nodes} per depth)"
        return (", ".join(f"{float(r['gnnexplainer_vs_p_seed_mean']):.3f} ± {float(r['gnnexplainer_vs_p_seed_std']):.3f}" for r in rows)
                + f" (mean ± std of the seeds' means, {nodes} per depth); seed {run['settings']['seed']}: "
                + ", ".join(f"{float(r['gnnexplainer_vs_p_seed_first']):.3f}" for r in rows))

    paper_sgc = ", ".join(f"{v:.3f}" for v in PAPER_SGC_GNNEXPLAINER.values())
    return [
        ResultRow("layerwise, linear SGC on Cora: cos(layerwise Grad, layerwise occlusion)", "1.000 at L = 1..5",
                  linear(linear_runs.get("paper"), "gap"), linear(linear_runs.get("edgeattr"), "gap"), "edgeattr reproduce layerwise --recipe R",
                  "exact for a linear model: z is affine in each layerwise weight", "reproduction/layerwise.md"),
        ResultRow("layerwise, linear SGC on Cora: cos(GNNExplainer, P), L = 1..5", paper_sgc,
                  linear(linear_runs.get("paper"), "gnnexplainer"), linear(linear_runs.get("edgeattr"), "gnnexplainer"),
                  "edgeattr reproduce layerwise --recipe R --datasets --seeds 3 --sgc-explained 10",
                  "3 test nodes by default, 10 per seed in the run over seeds (the paper: every test node of one model)", "reproduction/layerwise.md"),
        ResultRow("layerwise grid: cos(layerwise Grad, layerwise occlusion)", "figure (graph tasks 1 by construction, see why)",
                  grid_summary(runs.get("paper"), grid), grid_summary(runs.get("edgeattr"), grid), "edgeattr reproduce layerwise --recipe R",
                  "for graph tasks the reference's \"layerwise occlusion\" is the layerwise gradient, so its agreement is 1 by construction; "
                  "ours is true occlusion, which GIN's graph models do not follow", "reproduction/layerwise.md"),
    ]


def sign_flip_rows(results: Mapping[str, Any]) -> List[ResultRow]:
    r"""The sign-flip rates by the paper's protocol and by edgeattr's."""
    ours = findings_by_recipe("sign-flips", results)
    return [ResultRow(
        "sign flips along a sweep of one edge's weight", "figure: mostly below 10–30 % for GCN/GAT node tasks, 40–90 % for GIN graph tasks",
        ours["paper"], ours["edgeattr"], "edgeattr reproduce sign-flips --recipe R",
        "64 sampled edges per item by default (the paper: 1000 on Cora and CiteSeer, all elsewhere); `paper:` rows are the reference's statistic",
        "reproduction/sign-flips.md")]


#: Each result file and the rows it gives, in the table's order.
SOURCES = (
    (negative_evidence_docs.RESULTS, negative_evidence_rows),
    (grid_results.EXPERIMENTS["layerwise"].results, layerwise_rows),
    (grid_results.EXPERIMENTS["input-level"].results, input_level_rows),
    (grid_results.EXPERIMENTS["sign-flips"].results, sign_flip_rows),
    (infection_results.RESULTS, infection_rows),
)


def table(repository: pathlib.Path = pathlib.Path(".")) -> str:
    r"""The generated section: the table of every result, from the result files under ``repository``."""
    lines = ["| result | paper | ours, `--recipe paper` | ours, `--recipe edgeattr` | command | why | page |", "|---|---|---|---|---|---|---|"]
    for results, rows in SOURCES:
        lines += [row.markdown() for row in rows(json.loads((repository / results).read_text()))]
    lines.append(ResultRow("ground truth: every method and PyG's explainers against known explanations", "not in the paper", "–", "ROC AUC, fidelity± and time per method and dataset",
                           "python -m edgeattr.experiments.ground_truth_eval", "–", "ground-truth.md").markdown())
    return SECTION.wrap("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.experiments.reproduction_table --write-docs PAGE``."""
    parser = argparse.ArgumentParser(description="Rewrite the table of docs/reproduction.md from the committed result files.")
    parser.add_argument("--write-docs", default=PAGE, metavar="PAGE", help=f"the page to rewrite (default: {PAGE})")
    options = parser.parse_args(argv)
    SECTION.rewrite(options.write_docs, table())
    return 0


if __name__ == "__main__":
    sys.exit(main())

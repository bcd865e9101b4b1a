r"""The grid experiments' results: the committed result files and the docs sections written from them.

``python -m edgeattr.experiments.grid_results input-level --write-docs docs/results/input_level.json``
rewrites the generated section of ``docs/reproduction/input-level.md`` from the
committed result file (likewise ``layerwise`` and ``sign-flips``); ``--runs
SUMMARY ...`` first writes that file from the ``summary.json`` of one or more
runs of ``edgeattr reproduce <experiment>``, ``--add-runs SUMMARY ...`` adds
them to the runs the file holds. Runs of one recipe and the same settings (e.g.
one run per dataset) are joined into one.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from edgeattr.doc_sections import GeneratedSection
from edgeattr.experiments import input_level, layerwise, seed_spread, sign_flips
from edgeattr.experiments.datasets import NODE_DATASETS
from edgeattr.experiments.grid_training import GRID_RECIPES

#: Settings of a run that name neither machine nor folder, as the result files keep them.
KEPT_SETTINGS = ("datasets", "architectures", "depths", "explained", "recipe", "node_epochs", "graph_epochs", "seed", "seeds", "threads")
#: What the result files keep of a run besides its settings.
KEPT_RESULTS = ("cells", "models", "sgc", "sgc_models", "sgc_settings", "steps", "max_edges", "protocols")
#: The results that are lists of rows: runs joined into one concatenate them.
ROW_RESULTS = ("cells", "models", "sgc", "sgc_models")
#: Settings that runs joined into one may differ in: each run adds its own.
JOINED_SETTINGS = ("datasets",)


@dataclass(frozen=True)
class GridExperiment:
    r"""One grid experiment's docs: its page, its result file and the columns of its tables.

    Attributes:
        name (str): The experiment's command (``edgeattr reproduce <name>``).
        page (str): The page its section is written into.
        results (str): The committed result file.
        columns (dict): Summarised column -> label, in the tables' order.
        findings (Callable): The sentences that read one run's cells (a list of Markdown lines).
    """

    name: str
    page: str
    results: str
    columns: Mapping[str, str]
    findings: Callable[[Mapping[str, Any], Mapping[str, str]], List[str]]

    def columns_of(self, run: Mapping[str, Any]) -> Dict[str, str]:
        r"""The columns a run measured (e.g. the sign-flip protocols it ran), in the tables' order."""
        measured = {key[: -len("_mean")] for cell in run.get("cells", []) for key in cell if key.endswith("_mean")}
        return {column: label for column, label in self.columns.items() if column in measured}

    @property
    def section(self) -> GeneratedSection:
        r"""The page's generated section."""
        return GeneratedSection(f"{self.name} results", f"python -m edgeattr.experiments.grid_results {self.name} --write-docs {self.results}")


def task_of(dataset: str) -> str:
    r"""``"node"`` or ``"graph"``: the task of a grid dataset."""
    return "node" if dataset in NODE_DATASETS else "graph"


def cell_mean(cell: Mapping[str, Any], column: str) -> Optional[float]:
    r"""The cell's mean of ``column``, ``None`` where the run did not measure it."""
    value = cell.get(f"{column}_mean")
    return None if value is None or value == "" else float(value)


def value_range(values: Sequence[float]) -> str:
    r"""``"a–b"`` of ``values`` to three decimals (one number where they agree), ``"–"`` without any."""
    if not values:
        return "–"
    low, high = f"{min(values):.3f}", f"{max(values):.3f}"
    return low if low == high else f"{low}–{high}"


def ranges_table(cells: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> List[str]:
    r"""One row per task and architecture: the range of each column's cell means, and the number of cells."""
    groups: Dict[Tuple[str, str], List[Mapping[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((task_of(cell["dataset"]), cell["architecture"]), []).append(cell)
    lines = ["| task | arch | cells | " + " | ".join(columns.values()) + " |", "|---|---|---|" + "---|" * len(columns)]
    for (task, architecture), members in sorted(groups.items(), key=lambda item: (item[0][0] != "node", item[0][1])):
        ranges = [value_range([m for m in (cell_mean(c, column) for c in members) if m is not None]) for column in columns]
        lines.append(f"| {task} | {architecture} | {len(members)} | " + " | ".join(ranges) + " |")
    return lines


def cells_table(cells: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> List[str]:
    r"""One row per cell: mean ± std of each column over its explained items (n of them), and with
    several seeds the range of the seeds' means in brackets."""
    lines = ["| dataset | arch | L | n | " + " | ".join(columns.values()) + " |", "|---|---|---|---|" + "---|" * len(columns)]
    for cell in cells:
        values = []
        for column in columns:
            mean = cell_mean(cell, column)
            text = "–" if mean is None else f"{mean:.3f} ± {float(cell[f'{column}_std']):.3f}"
            if mean is not None and f"{column}_seed_min" in cell:
                text += f" ({float(cell[f'{column}_seed_min']):.3f}–{float(cell[f'{column}_seed_max']):.3f})"
            values.append(text)
        lines.append(f"| {cell['dataset']} | {cell['architecture']} | {cell['depth']} | {cell['count']} | " + " | ".join(values) + " |")
    return lines


def models_table(models: Sequence[Mapping[str, Any]]) -> List[str]:
    r"""Test accuracy of the trained models (graph tasks: also the reference's "AUROC"), one row per
    dataset and architecture, one column per depth; with several seeds, mean ± std over them."""
    depths = sorted({int(m["depth"]) for m in models})
    scores: Dict[Tuple[str, str], Dict[int, List[Mapping[str, Any]]]] = {}
    for model in models:
        scores.setdefault((model["dataset"], model["architecture"]), {}).setdefault(int(model["depth"]), []).append(model)

    def shown(trained: List[Mapping[str, Any]], metric: str) -> str:
        values = seed_spread.spread([float(m[metric]) for m in trained])
        return f"{values['mean']:.3f}" + (f" ± {values['std']:.3f}" if values["n"] > 1 else "")

    lines = ["| dataset | arch | " + " | ".join(f"L = {d}" for d in depths) + " |", "|---|---|" + "---|" * len(depths)]
    for (dataset, architecture), by_depth in scores.items():
        texts = []
        for depth in depths:
            trained = by_depth.get(depth, [])
            text = shown(trained, "test_accuracy") if trained else "–"
            if trained and all(m.get("test_auroc") not in (None, "") for m in trained):
                text += f" ({shown(trained, 'test_auroc')})"
            texts.append(text)
        lines.append(f"| {dataset} | {architecture} | " + " | ".join(texts) + " |")
    return lines


def epochs_of(settings: Mapping[str, Any], task: str) -> int:
    r"""The training epochs a run's models had: the ones it set, else its recipe's."""
    recipe = GRID_RECIPES[settings["recipe"]]
    chosen = settings.get(f"{task}_epochs")
    return int(chosen) if chosen is not None else (recipe.node_epochs if task == "node" else recipe.graph_epochs)


def command(name: str, settings: Mapping[str, Any], datasets: Sequence[str], extra: str = "", grid: bool = True) -> str:
    r"""The ``edgeattr reproduce`` command of a run (the data and cache folders left out); without
    ``grid``, the command of a run of the linear check alone (``--datasets`` with no name)."""
    flags = [f"--recipe {settings['recipe']}", ("--datasets " + " ".join(datasets)).rstrip()]
    if grid:
        flags += ["--depths " + " ".join(str(d) for d in settings["depths"]), f"--explained {settings['explained']}"]
        for task in ("node", "graph"):
            if settings.get(f"{task}_epochs") is not None:
                flags.append(f"--{task}-epochs {settings[f'{task}_epochs']}")
    if settings.get("seed", 0):
        flags.append(f"--seed {settings['seed']}")
    if settings.get("seeds", 1) > 1:
        flags.append(f"--seeds {settings['seeds']}")
    return f"edgeattr reproduce {name} " + " ".join(flags) + extra


def collect(summaries: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]] = ()) -> Dict[str, Any]:
    r"""The result file's content from the ``summary.json`` of runs: their settings (the data and cache
    folders left out) and results, runs of one recipe and the same settings but their datasets joined.

    Args:
        summaries (Sequence[Mapping]): What the runs wrote to ``summary.json``.
        runs (Sequence[Mapping]): Runs of a result file to add them to (left unchanged). (default: none)

    Returns:
        dict: ``{"runs": [{"settings", "runs", ...results}, ...]}``: ``runs`` counts the runs joined.
    """
    joined_runs: List[Dict[str, Any]] = copy.deepcopy([dict(run) for run in runs])
    for summary in summaries:
        settings = {key: summary["config"][key] for key in KEPT_SETTINGS if key in summary["config"]}
        same = {key: value for key, value in settings.items() if key not in JOINED_SETTINGS}
        joined = next((run for run in joined_runs if {k: v for k, v in run["settings"].items() if k not in JOINED_SETTINGS} == same), None)
        if joined is None:
            joined = {"settings": {**settings, "datasets": []}, "runs": 0}
            joined_runs.append(joined)
        joined["settings"]["datasets"] += [d for d in settings["datasets"] if d not in joined["settings"]["datasets"]]
        joined["runs"] += 1
        for key in KEPT_RESULTS:
            if key in ROW_RESULTS:
                joined[key] = joined.get(key, []) + summary.get(key, [])
            elif key in summary:
                joined[key] = summary[key]
    return {"runs": joined_runs}


def run_text(experiment: GridExperiment, run: Mapping[str, Any]) -> str:
    r"""The Markdown of one run: what ran, the findings, the ranges per task and architecture,
    every cell, and the models' accuracies."""
    settings = run["settings"]
    depths = settings["depths"]
    depth_text = f"depths {depths[0]}–{depths[-1]}" if len(depths) > 1 else f"depth {depths[0]}"
    explained = "every test item" if not settings["explained"] else f"{settings['explained']} explained items per cell"
    threads = settings.get("threads", 1)
    columns = experiment.columns_of(run)
    grid_datasets = [d for d in settings["datasets"] if any(c["dataset"] == d for c in run.get("cells", []))]
    seeds = settings.get("seeds", 1)
    seed_text = f"seed {settings['seed']}" if seeds == 1 else f"seeds {settings['seed']}–{settings['seed'] + seeds - 1}"
    flags = sign_flip_flags(run) + linear_check_flags(run)
    threads_text = f"{threads} torch thread{'s' if threads != 1 else ''}"
    if not run.get("cells"):  # the linear check alone
        linear = run["sgc_settings"]
        return "\n".join([
            f"### `--recipe {settings['recipe']}`, {seed_text}: the linear check alone",
            "",
            f"Ran: `{command(experiment.name, settings, [], flags, grid=False)}` ({linear['epochs']} SGC training epochs, {threads_text}).",
            "",
            *sgc_text(run),
        ])
    lines = [
        f"### `--recipe {settings['recipe']}`, {seed_text}, {depth_text}, {explained}",
        "",
        f"Ran: `{command(experiment.name, settings, grid_datasets or settings['datasets'], flags)}` "
        f"({epochs_of(settings, 'node')} node and {epochs_of(settings, 'graph')} graph training epochs, {threads_text}).",
    ]
    lines += ["", *experiment.findings(run, columns), "", "Range of the cells' means per task and architecture:", "",
              *ranges_table(run["cells"], columns), "", "Every cell: mean ± std over its explained items (n: items where the comparison is defined"
              + ("; in brackets the range of the seeds' means)." if seeds > 1 else ")."),
              "", *cells_table(run["cells"], columns), "",
              "Test accuracy of the trained models (graph tasks: in brackets the reference's \"AUROC\", the balanced accuracy of the hard predictions):",
              "", *models_table(run["models"])]
    if run.get("sgc"):
        lines += ["", *sgc_text(run)]
    return "\n".join(lines)


def sign_flip_flags(run: Mapping[str, Any]) -> str:
    r"""The flags of a ``sign-flips`` run that differ from their defaults (empty for other experiments)."""
    if "protocols" not in run:
        return ""
    flags = ""
    if run.get("max_edges", 64) != 64:
        flags += f" --max-edges {run['max_edges']}"
    if run.get("steps", 21) != 21:
        flags += f" --steps {run['steps']}"
    protocols = run["protocols"]
    if len(protocols) == 1:
        flags += f" --protocol {protocols[0]}"
    return flags


def linear_check_flags(run: Mapping[str, Any]) -> str:
    r"""The flags of the linear check of a ``layerwise`` run that differ from their defaults (empty for other
    experiments and for runs that kept no ``sgc_settings``)."""
    linear = run.get("sgc_settings")
    if not linear:
        return ""
    defaults = {**layerwise.LINEAR_CHECK_DEFAULTS, "epochs": GRID_RECIPES[run["settings"]["recipe"]].linear_epochs}
    flags = ""
    for name, value in linear.items():
        if value != defaults[name]:
            shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            flags += f" --sgc-{name.replace('_', '-')} {shown}"
    return flags


def gap_text(gap: float) -> str:
    r"""A largest gap of the linear check as the result file keeps it: rounded to four decimals, so 0 means below 5e-05."""
    return "< 5e-05" if gap == 0 else f"{gap:.1e}"


def sgc_text(run: Mapping[str, Any]) -> List[str]:
    r"""The linear check's table: per depth, the cosine and largest gap of layerwise gradient and
    occlusion, and GNNExplainer's input-level cosine to P beside the paper's (with several seeds,
    in brackets the range of the seeds' means); then the SGC models' test accuracy."""
    seeded = any("seeds" in row for row in run["sgc"])
    lines = ["Linear check (stacked SGConv, float64; sampled message-carrying edges, every layer; the result file rounds the "
             "gaps to four decimals, and `tests/attribution/test_linear_theorem.py` asserts them below 1e-10 on every entry of a small graph"
             + ("; n counts the nodes of every seed, in brackets the range of the seeds' means):" if seeded else "):"), "",
             "| L | n | cos(layerwise Grad, occlusion) | largest gap | cos(GNNExplainer, P) | paper |", "|---|---|---|---|---|---|"]
    for row in run["sgc"]:
        paper = layerwise.PAPER_SGC_GNNEXPLAINER.get(int(row["depth"]))
        explainer = f"{float(row['gnnexplainer_vs_p_mean']):.3f} ± {float(row['gnnexplainer_vs_p_std']):.3f}"
        if "gnnexplainer_vs_p_seed_min" in row:
            explainer += f" ({float(row['gnnexplainer_vs_p_seed_min']):.3f}–{float(row['gnnexplainer_vs_p_seed_max']):.3f})"
        lines.append(f"| {row['depth']} | {row['count']} | {float(row['layerwise_grad_vs_occlusion_mean']):.6f} | "
                     f"{gap_text(float(row['max_abs_gap_mean']))} | {explainer} | {'–' if paper is None else f'{paper:.3f}'} |")
    accuracy = []
    for row in run["sgc"]:
        trained = [float(m["test_accuracy"]) for m in run.get("sgc_models", []) if int(m["depth"]) == int(row["depth"])]
        if trained:
            values = seed_spread.spread(trained)
            accuracy.append(f"{values['mean']:.3f}" + (f" ± {values['std']:.3f}" if values["n"] > 1 else ""))
    if accuracy:
        over = " (mean ± std over seeds)" if seeded else ""
        lines += ["", f"Test accuracy of the SGC models{over}, L = {', '.join(str(r['depth']) for r in run['sgc'])}: {', '.join(accuracy)}."]
    return lines


def by_task(cells: Sequence[Mapping[str, Any]], task: str) -> List[Mapping[str, Any]]:
    r"""The cells of one task."""
    return [cell for cell in cells if task_of(cell["dataset"]) == task]


def input_level_findings(run: Mapping[str, Any], columns: Mapping[str, str]) -> List[str]:
    r"""For each task: in how many cells GNNExplainer's cosine to P is above Random's and the highest of all."""
    lines = []
    for task in ("node", "graph"):
        cells = by_task(run["cells"], task)
        if not cells:
            continue
        means = [{column: mean for column in columns if (mean := cell_mean(cell, column)) is not None} for cell in cells]
        above = sum(1 for m in means if m["gnnexplainer"] > m["random"])
        highest = sum(1 for m in means if m["gnnexplainer"] == max(m.values()))
        lines.append(f"- {task.capitalize()} tasks: GNNExplainer's cosine to P is above Random's in {above} of {len(cells)} cells "
                     f"and the highest of the five in {highest}.")
    return lines


def layerwise_findings(run: Mapping[str, Any], columns: Mapping[str, str]) -> List[str]:
    r"""For each task: in how many cells layerwise Grad is within 0.05 of layerwise occlusion (cosine at least 0.95)."""
    lines = []
    for task in ("node", "graph"):
        cells = by_task(run["cells"], task)
        if cells:
            close = sum(1 for cell in cells if (cell_mean(cell, "grad") or 0.0) >= 0.95)
            lines.append(f"- {task.capitalize()} tasks: cos(layerwise Grad, layerwise occlusion) is at least 0.95 in {close} of {len(cells)} cells.")
    return lines


def sign_flip_findings(run: Mapping[str, Any], columns: Mapping[str, str]) -> List[str]:
    r"""For each protocol and task: the mean rate at one layer and at more layers."""
    lines = []
    for column, label in columns.items():
        for task in ("node", "graph"):
            cells = by_task(run["cells"], task)
            one = [m for m in (cell_mean(c, column) for c in cells if int(c["depth"]) == 1) if m is not None]
            more = [m for m in (cell_mean(c, column) for c in cells if int(c["depth"]) > 1) if m is not None]
            if cells:
                lines.append(f"- {label}, {task} tasks: {value_range(one)} at one layer, {value_range(more)} at more layers (cell means).")
    return lines


#: The grid experiments by command name.
EXPERIMENTS = {
    "input-level": GridExperiment("input-level", "docs/reproduction/input-level.md", "docs/results/input_level.json", input_level.COMPARED, input_level_findings),
    "layerwise": GridExperiment("layerwise", "docs/reproduction/layerwise.md", "docs/results/layerwise.json", layerwise.COMPARED, layerwise_findings),
    "sign-flips": GridExperiment("sign-flips", "docs/reproduction/sign-flips.md", "docs/results/sign_flips.json",
                                 {c: label for columns in sign_flips.COLUMNS.values() for c, label in columns.items()}, sign_flip_findings),
}


def section(experiment: GridExperiment, results: Mapping[str, Any]) -> str:
    r"""The generated section of the experiment's page: one part per run (recipe).

    Args:
        experiment (GridExperiment): The experiment.
        results (Mapping): The result file's content, ``{"runs": [...]}``.

    Returns:
        str: Markdown between the section's markers.
    """
    return experiment.section.wrap("\n\n".join(run_text(experiment, run) for run in results["runs"]))


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.experiments.grid_results EXPERIMENT --write-docs RESULTS [--runs | --add-runs SUMMARY ...] [--page PAGE]``."""
    parser = argparse.ArgumentParser(description="Rewrite the results section of a grid experiment's page from its result file.")
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--write-docs", required=True, metavar="RESULTS", help="the result file (the repository's: docs/results/<experiment>.json)")
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--runs", nargs="+", metavar="SUMMARY", help="first write RESULTS from these summary.json files")
    given.add_argument("--add-runs", nargs="+", metavar="SUMMARY", help="first add these summary.json files to the runs RESULTS holds")
    parser.add_argument("--page", default=None, help="the page to rewrite (default: the experiment's page)")
    options = parser.parse_args(argv)
    experiment = EXPERIMENTS[options.experiment]
    if options.runs or options.add_runs:
        results = pathlib.Path(options.write_docs)
        kept = json.loads(results.read_text())["runs"] if options.add_runs else []
        content = collect([json.loads(pathlib.Path(summary).read_text()) for summary in options.runs or options.add_runs], kept)
        results.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    experiment.section.write_from(options.write_docs, options.page or experiment.page, lambda results: section(experiment, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

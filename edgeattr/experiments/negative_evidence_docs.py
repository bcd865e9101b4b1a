r"""The results section of docs/reproduction/negative-evidence.md, written from a committed result file.

``python -m edgeattr.experiments.negative_evidence_docs --runs A/summary.json B/summary.json
--write-docs docs/results/negative_evidence.json`` merges the ``summary.json``
files of runs of ``edgeattr reproduce negative-evidence`` (seeds of one recipe
may come from separate runs) into the result file and rewrites the page's
generated section from it; ``--add-runs`` merges them with the seeds the file
holds; without either only the page is rewritten.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from edgeattr.doc_sections import GeneratedSection
from edgeattr.experiments.negative_evidence import COLOUR_NAMES, variant_result
from edgeattr.experiments.negative_evidence_recipes import RECIPES

#: The committed result file.
RESULTS = "docs/results/negative_evidence.json"
#: The generated section of the page.
SECTION = GeneratedSection("negative-evidence results", f"python -m edgeattr.experiments.negative_evidence_docs --write-docs {RESULTS}")
#: The page it belongs to.
PAGE = "docs/reproduction/negative-evidence.md"

#: The trained weights the reference notebooks print, one row per logit (seed 0, on a GPU).
REFERENCE_WEIGHTS = {
    2: [[-1.7631e-04, -1.7218, 1.7219]],
    3: [[3.0977e-04, 2.3981, -5.4696e-04, -3.4883e-04], [1.7874e-05, 2.8829e-04, 2.4045, -3.7745e-04], [-2.5918e-04, -2.7572e-04, -6.7056e-04, 2.4051]],
}

#: The figures, in the order of the tables, and how they read.
LABELS = {
    "cos_sign_gnnexplainer": "cos(P, GNNExplainer)",
    "cos_gradient_difference": "cos(g, GNNExplainer − reverse)",
    "cos_negative_sign_reverse": "cos(1[g < −ε], reverse GNNExplainer)",
    "cos_gradient_gnnexplainer": "cos(g, GNNExplainer)",
    "test_accuracy": "test accuracy (selected test nodes)",
    "train_accuracy": "training accuracy",
}


def merge_runs(summaries: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    r"""The result file: the seeds of every recipe, merged from the runs' ``summary.json``.

    Runs of one recipe must share their settings; their seeds are sorted and
    must not repeat. Each seed keeps the torch threads of its run. The spread
    over seeds is recomputed from the merged seeds.

    Args:
        summaries (Sequence[Mapping]): What :func:`~edgeattr.experiments.negative_evidence.run` wrote,
            or :func:`runs_of` a result file.

    Returns:
        dict: ``{recipe: {"settings", "seeds", "variants"}}`` in the order of
        :data:`~edgeattr.experiments.negative_evidence_recipes.RECIPES`; each seed's
        summary has its ``threads``.
    """
    merged: Dict[str, Dict[str, Any]] = {}
    for summary in summaries:
        recipe = summary["recipe"]
        entry = merged.setdefault(recipe, {"settings": summary["settings"], "per_seed": {}})
        if entry["settings"] != summary["settings"]:
            raise ValueError(f"runs of recipe {recipe!r} differ in their settings: {entry['settings']} against {summary['settings']}; merge only runs of one command")
        for variant, result in summary["variants"].items():
            seeds = entry["per_seed"].setdefault(variant, {})
            for seed_summary in result["per_seed"]:
                if seed_summary["seed"] in seeds:
                    raise ValueError(f"seed {seed_summary['seed']} of recipe {recipe!r} ({variant}) comes twice; merge each seed once")
                seeds[seed_summary["seed"]] = {"threads": summary.get("threads"), **seed_summary}
    results = {}
    for recipe in (r for r in RECIPES if r in merged):
        entry = merged[recipe]
        variants = {
            variant: variant_result(int(variant[: -len("class")]), [by_seed[s] for s in sorted(by_seed)])
            for variant, by_seed in sorted(entry["per_seed"].items())
        }
        seeds = sorted({s for by_seed in entry["per_seed"].values() for s in by_seed})
        results[recipe] = {"settings": entry["settings"], "seeds": seeds, "variants": variants}
    return results


def runs_of(results: Mapping[str, Any]) -> List[Dict[str, Any]]:
    r"""A result file as the runs :func:`merge_runs` takes: one per recipe, with all its seeds."""
    return [{"recipe": recipe, "settings": entry["settings"], "variants": entry["variants"]} for recipe, entry in results.items()]


def _command(recipe: str, settings: Mapping[str, Any]) -> str:
    flags = [f"--recipe {recipe}", "--seed S"]
    for name, value in settings.items():
        if name == "recipe":
            continue
        shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        flags.append(f"--{name.replace('_', '-')} {shown}")
    return "edgeattr reproduce negative-evidence " + " ".join(flags)


def _seeds(seeds: Sequence[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"


def _figure_row(name: str, result: Mapping[str, Any]) -> str:
    spread = result["spread"][name]
    first = result["per_seed"][0]
    paper = result["paper"].get(name)
    paper_cell = f"{paper[0]:.4f} ± {paper[1]:.4f}" if paper else "–"
    own = first[name]
    first_cell = f"{own['mean']:.4f} ± {own['std']:.4f}" if isinstance(own, Mapping) else f"{own:.4f}"
    return (
        f"| {LABELS[name]} | {paper_cell} | {first_cell} | {spread['mean']:.4f} ± {spread['std']:.4f} | "
        f"{spread['min']:.4f} – {spread['max']:.4f} |"
    )


def _weights(rows: List[List[float]]) -> str:
    return "; ".join("(" + ", ".join(f"{w:.4g}" for w in row) + ")" for row in rows)


def _variant(recipe: str, seeds: Sequence[int], variant: str, result: Mapping[str, Any]) -> List[str]:
    first = result["per_seed"][0]
    num_colours = int(first["colours"])
    title = "binary (blue, red)" if num_colours == 2 else f"{num_colours} classes"
    lines = [
        f"**{title}**: {first['explained_nodes']} of {first['candidate_nodes']} selected nodes of the seed-{seeds[0]} test graph explained "
        f"(per seed: {', '.join(str(s['explained_nodes']) for s in result['per_seed'])}).",
        "",
        f"| figure | paper | seed {seeds[0]} (± std over nodes) | mean ± std over {_seeds(seeds)} | min – max over seeds |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [_figure_row(name, result) for name in LABELS if name in result["spread"]]
    weights = [row for matrix in first["weights"].values() for row in matrix]
    lines += [
        "",
        f"Weights of the seed-{seeds[0]} model, one row per logit, over ({', '.join(COLOUR_NAMES[: num_colours + 1])}): {_weights(weights)}"
        + (f"; the reference notebook prints {_weights(REFERENCE_WEIGHTS[num_colours])}." if num_colours in REFERENCE_WEIGHTS else "."),
    ]
    shown = first.get("shown")
    if shown:
        links = ", ".join(f"{shown[f'{c}_links']} {c}" for c in COLOUR_NAMES[1 : num_colours + 1])
        lines.append(
            f"The run's figure `negative_evidence_{num_colours}class.png` (seed {seeds[0]}) shows white node {shown['node']} "
            f"({links} and {shown['white_links']} white neighbours; label {COLOUR_NAMES[shown['label'] + 1]})."
        )
    return lines


def section(results: Mapping[str, Any]) -> str:
    r"""The generated section: per recipe (in the order of :data:`RECIPES`) what ran, then one table per variant.

    Args:
        results (Mapping): The result file (what :func:`merge_runs` returns).

    Returns:
        str: The section, markers included.
    """
    lines: List[str] = []
    for recipe in sorted(results, key=lambda name: RECIPES.index(name) if name in RECIPES else len(RECIPES)):
        entry, seeds = results[recipe], results[recipe]["seeds"]
        costs = []
        for i, seed in enumerate(seeds):
            minutes = sum(result["per_seed"][i]["seconds"] for result in entry["variants"].values()) / 60
            threads = next(iter(entry["variants"].values()))["per_seed"][i]["threads"]
            costs.append(f"seed {seed}: {minutes:.1f} minutes, {threads} torch thread{'s' if threads != 1 else ''}")
        lines += [
            f"### Recipe `{recipe}`: {_seeds(seeds)}",
            "",
            f"Ran on a shared 2-core CPU, for S = {', '.join(map(str, seeds))} ({'; '.join(costs)}):",
            "",
            f"    {_command(recipe, entry['settings'])}",
            "",
        ]
        for variant, result in entry["variants"].items():
            lines += _variant(recipe, seeds, variant, result) + [""]
    return SECTION.wrap("\n".join(lines).rstrip())


def write_docs(results: str, page: str = PAGE, runs: Optional[Sequence[str]] = None, add: bool = False) -> None:
    r"""Rewrites the generated section of ``page`` from the result file ``results``.

    Args:
        results (str): The result file, e.g. ``docs/results/negative_evidence.json``.
        page (str): The page. (default: :data:`PAGE`)
        runs (Sequence[str], optional): ``summary.json`` files of runs; when given they are
            merged (:func:`merge_runs`) into ``results`` first.
        add (bool): Merge ``runs`` with the seeds ``results`` holds instead of replacing them. (default: ``False``)
    """
    if runs:
        kept = runs_of(json.loads(pathlib.Path(results).read_text())) if add else []
        merged = merge_runs(kept + [json.loads(pathlib.Path(run).read_text()) for run in runs])
        pathlib.Path(results).write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    SECTION.write_from(results, page, section)


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.experiments.negative_evidence_docs --write-docs RESULTS [--runs | --add-runs SUMMARY ...] [--page PAGE]``."""
    parser = argparse.ArgumentParser(description="Rewrite the results of the negative-evidence page from the result file.")
    parser.add_argument("--write-docs", required=True, metavar="RESULTS", help="the result file, e.g. docs/results/negative_evidence.json")
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--runs", nargs="+", default=None, metavar="SUMMARY", help="summary.json files of runs to write RESULTS from first")
    given.add_argument("--add-runs", nargs="+", default=None, metavar="SUMMARY", help="summary.json files of runs to merge with the seeds RESULTS holds first")
    parser.add_argument("--page", default=PAGE, help=f"the page to rewrite (default: {PAGE})")
    options = parser.parse_args(argv)
    write_docs(options.write_docs, options.page, options.runs or options.add_runs, add=bool(options.add_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

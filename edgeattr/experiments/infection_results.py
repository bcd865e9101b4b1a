r"""The infection experiment's results: the spread of its figures over seeds, and the docs section written from them.

``python -m edgeattr.experiments.infection_results --write-docs docs/results/infection.json``
rewrites the generated section of ``docs/reproduction/infection.md`` from the
committed results file; ``--runs SUMMARY ...`` first writes that file from the
``summary.json`` of one or more runs of ``edgeattr reproduce infection`` (one per recipe).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from edgeattr.doc_sections import GeneratedSection
from edgeattr.experiments import seed_spread

#: What the paper reports for this experiment.
PAPER = {"best_walk_accuracy": 99.08, "amp_ave_accuracy": 91.13, "cosine_mean": 0.8472, "cosine_std": 0.0672,
         "best_walk_seconds_mean": 8.12, "best_walk_seconds_std": 5.48, "amp_ave_seconds_mean": 8.18, "amp_ave_seconds_std": 5.52}

#: The figures reported over seeds, with their labels.
FIGURES = {"best_walk_accuracy": "BestWalk path accuracy (%)", "amp_ave_accuracy": "AMP-ave path accuracy (%)", "test_accuracy": "test accuracy"}

#: Default number of nodes on which GradientSign is compared with GNNExplainer (the paper: all).
COSINE_NODES = 30

#: The generated section of the infection page.
SECTION = GeneratedSection("infection results", "python -m edgeattr.experiments.infection_results --write-docs docs/results/infection.json")

#: The page it is written into, and the results file it is written from.
PAGE, RESULTS = "docs/reproduction/infection.md", "docs/results/infection.json"


def spread(rows: Sequence[Mapping[str, Any]]) -> Dict[str, Dict[str, float]]:
    r"""Each of :data:`FIGURES` over the seeds' rows (see :func:`~edgeattr.experiments.seed_spread.spread`).

    Args:
        rows (Sequence[dict]): One row per trained model, the first seed first.

    Returns:
        dict: figure -> ``mean``, ``std`` (sample standard deviation; 0 for one seed), ``min``, ``max``,
        ``first`` (the first row's value) and ``n``.

    Raises:
        ValueError: without rows.
    """
    if not rows:
        raise ValueError("no seed to summarise: train at least one model")
    return {figure: seed_spread.spread([float(row[figure]) for row in rows]) for figure in FIGURES}


def collect(summaries: Sequence[str], results: str) -> None:
    r"""Writes the results file ``results`` (``{"runs": [...]}``) from the ``summary.json`` files of runs."""
    runs = [json.loads(pathlib.Path(summary).read_text()) for summary in summaries]
    pathlib.Path(results).write_text(json.dumps({"runs": runs}, indent=2, sort_keys=True) + "\n")


def section(results: Mapping[str, Any]) -> str:
    r"""The generated section of the page: per run, what ran, the spread of each figure, the first seed
    against the paper, one row per seed, the timings and the cosine.

    Args:
        results (Mapping): The results file's content, ``{"runs": [summary, ...]}``.

    Returns:
        str: Markdown between :data:`SECTION`'s markers.
    """
    return SECTION.wrap("\n\n".join(run_text(run) for run in results["runs"]))


def run_text(run: Mapping[str, Any]) -> str:
    r"""The Markdown of one run (one recipe)."""
    config, rows, stats = run["config"], run["seeds"], run["spread"]
    first = rows[0]
    targets = "all valid targets" if config["targets"] <= 0 else f"a seeded sample of {config['targets']} valid targets"
    sample_flag = "" if config["targets"] <= 0 else f" --targets {config['targets']}"
    threads = f"{config['threads']} torch thread{'s' if config['threads'] > 1 else ''}"
    thread_flag = "" if config["threads"] == 1 else f" --threads {config['threads']}"
    cosine_flag = "" if run["cosine_nodes"] == COSINE_NODES else f" --cosine-nodes {run['cosine_nodes']}"
    low, high = min(r["valid_targets"] for r in rows), max(r["valid_targets"] for r in rows)
    counts = f"{low}" if low == high else f"{low}–{high} over the seeds"
    lines = [
        f"### `--recipe {config['recipe']}`, {len(rows)} seed{'s' if len(rows) > 1 else ''}, {threads}",
        "",
        f"Ran: `edgeattr reproduce infection --recipe {config['recipe']} --seed {config['seeds'][0]} --seeds {len(rows)}{thread_flag}{sample_flag}{cosine_flag}` "
        f"(seed{'s' if len(rows) > 1 else ''} {', '.join(str(s) for s in config['seeds'])}; {targets} of each seed's graph: {counts}; "
        f"{config['epochs']} epochs, {threads}).",
        "",
        f"| | mean ± std | min–max | seed {first['seed']} | paper |",
        "|---|---|---|---|---|",
    ]
    for figure, label in FIGURES.items():
        s = stats[figure]
        digits = 4 if figure == "test_accuracy" else 2
        paper = f"{PAPER[figure]:.2f}" if figure in PAPER else "—"
        value = f"{s['first']:.{digits}f}"
        if figure != "test_accuracy":
            value += f" ({first[figure.replace('accuracy', 'correct')]}/{first['searched_targets']})"
        lines.append(f"| {label} | {s['mean']:.{digits}f} ± {s['std']:.{digits}f} | {s['min']:.{digits}f}–{s['max']:.{digits}f} | {value} | {paper} |")
    gaps = {figure: first[figure] - PAPER[figure] for figure in ("best_walk_accuracy", "amp_ave_accuracy")}
    verdict = "within 1 point of the paper on both searches" if all(abs(g) <= 1 for g in gaps.values()) else "not within 1 point of the paper on both searches"
    lines += [
        "",
        f"Seed {first['seed']} against the paper: BestWalk {gaps['best_walk_accuracy']:+.2f} points, "
        f"AMP-ave {gaps['amp_ave_accuracy']:+.2f} points: {verdict}.",
        "",
        "| seed | valid targets | test accuracy | BestWalk | AMP-ave | training (s) | search (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['seed']} | {row['valid_targets']} | {row['test_accuracy']:.4f} | {row['best_walk_accuracy']:.2f}% | "
                     f"{row['amp_ave_accuracy']:.2f}% | {row['training_seconds']:.1f} | {row['search_seconds']:.1f} |")
    lines += [
        "",
        f"Seconds per target on seed {first['seed']} (adapter included): BestWalk {first['best_walk_seconds_mean']:.3f} ± "
        f"{first['best_walk_seconds_std']:.3f}, AMP-ave {first['amp_ave_seconds_mean']:.3f} ± {first['amp_ave_seconds_std']:.3f} "
        f"(paper, per node on a GPU: {PAPER['best_walk_seconds_mean']:.2f} ± {PAPER['best_walk_seconds_std']:.2f} and "
        f"{PAPER['amp_ave_seconds_mean']:.2f} ± {PAPER['amp_ave_seconds_std']:.2f}).",
    ]
    if run["cosine_nodes"] and not math.isnan(run["cosine_mean"]):
        lines += ["", f"cos(GradientSign, GNNExplainer) on seed {first['seed']}'s model: {run['cosine_mean']:.4f} ± {run['cosine_std']:.4f} "
                      f"over {run['cosine_nodes']} node{'s' if run['cosine_nodes'] > 1 else ''} (paper: {PAPER['cosine_mean']:.4f} ± {PAPER['cosine_std']:.4f} over all nodes)."]
    return "\n".join(lines)


def documented_section(text: str) -> str:
    r"""The generated section of the page ``text``, markers included.

    Raises:
        LookupError: for a page without the markers.
    """
    return SECTION.find(text)


def write_docs(results: str, page: str = PAGE) -> None:
    r"""Rewrites the generated section of the page ``page`` from the results file ``results``."""
    SECTION.write_from(results, page, section)


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.experiments.infection_results --write-docs RESULTS [--runs SUMMARY ...] [--page PAGE]``."""
    parser = argparse.ArgumentParser(description="Rewrite the results section of the infection page from a results file.")
    parser.add_argument("--write-docs", required=True, metavar="RESULTS", help=f"the results file (the repository's: {RESULTS})")
    parser.add_argument("--runs", nargs="+", metavar="SUMMARY", help="first write RESULTS from these summary.json files, one per run")
    parser.add_argument("--page", default=PAGE, help=f"the page to rewrite (default: {PAGE})")
    options = parser.parse_args(argv)
    if options.runs:
        collect(options.runs, options.write_docs)
    write_docs(options.write_docs, options.page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

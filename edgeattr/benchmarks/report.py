r"""Benchmark rows and the report: docs/benchmarks.md and the result file it is written from.

``make bench`` writes both; ``python -m edgeattr.benchmarks.report --write-docs
docs/results/benchmarks.json`` writes the page again from the committed result
file, and a test checks that the page is what that file gives.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

#: The committed result file of ``make bench`` and the page written from it.
RESULTS, PAGE = "docs/results/benchmarks.json", "docs/benchmarks.md"


@dataclass
class Row:
    r"""One measurement: edgeattr against a baseline on the same work.

    Args:
        item (str): The benchmark item it answers.
        what (str): What edgeattr ran.
        against (str): The baseline.
        ours (float): edgeattr's seconds per ``unit``.
        theirs (float): The baseline's seconds per ``unit`` (or the time budget).
        goal (float, optional): Required speed-up ``theirs / ours``.
        notes (str): Agreement of the values, throughput, memory.
        unit (str): What the seconds are per. (default: ``'node'``)
        goal_max (float, optional): Largest allowed ``ours / theirs`` instead.
        figures (dict): Named measurements for the scripts that read the JSON
            (the projection of ``docs/scaling.md``); not in the table.
        profile (str): What edgeattr's run spends its time on (see
            :func:`~edgeattr.benchmarks.profiling.dominant_operations`), listed below the table.
    """

    item: str
    what: str
    against: str
    ours: float
    theirs: float
    goal: Optional[float]
    notes: str
    unit: str = "node"
    goal_max: Optional[float] = None
    figures: Dict[str, float] = field(default_factory=dict)
    profile: str = ""

    @property
    def speedup(self) -> float:
        return self.theirs / self.ours

    @property
    def met(self) -> Optional[bool]:
        if self.goal is not None:
            return self.speedup >= self.goal
        if self.goal_max is not None:
            return self.ours / self.theirs <= self.goal_max
        return None

    def goal_text(self) -> str:
        if self.goal is not None:
            return "within the time budget" if self.goal == 1.0 and self.unit == "all" else f">= {self.goal:g}x faster"
        if self.goal_max is not None:
            return f"<= {self.goal_max:g}x the baseline"
        return "(reported)"


def _seconds(value: float) -> str:
    return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.1f} s"


def markdown(rows: List[Row], header: str) -> str:
    r"""The benchmark table as Markdown."""
    lines = [
        header,
        "",
        "| item | edgeattr | time | baseline | time | ratio | goal | met | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row.speedup:.1f}x faster" if row.goal_max is None else f"{row.ours / row.theirs:.2f}x the baseline"
        met = {True: "met", False: "not met", None: "-"}[row.met]
        per = "" if row.unit == "all" else f" / {row.unit}"
        cells = [row.item, row.what, f"{_seconds(row.ours)}{per}", row.against, f"{_seconds(row.theirs)}{per}", ratio, row.goal_text(), met, row.notes]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    profiled = [row for row in rows if row.profile]
    if profiled:
        lines += [
            "",
            "## Where the time goes",
            "",
            "torch's profiler on one more run of edgeattr's side of each row: the operators of largest self time, as shares "
            "of the time in torch operators (summed over threads), and the run's wall time under the profiler (the rest "
            "of it is Python: the model's own code, PyG's and edgeattr's).",
            "",
        ]
        lines += [f"- item {row.item}, {row.what}: {row.profile}" for row in profiled]
    return "\n".join(lines) + "\n"


def environment() -> str:
    r"""One line naming the machine and the versions measured."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


def write(rows: List[Row], markdown_path: str, json_path: str, header: str) -> None:
    r"""Writes the result file ``json_path`` (``{"header": ..., "rows": [...]}``, every row with its
    ratio and verdict) and the page ``markdown_path`` made of it."""
    for path in (markdown_path, json_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(json_path, "w") as handle:
        json.dump({"header": header, "rows": [{**asdict(row), "speedup": row.speedup, "met": row.met} for row in rows]}, handle, indent=2)
        handle.write("\n")
    with open(markdown_path, "w") as handle:
        handle.write(page(read(json_path)))


def read(json_path: str) -> Dict[str, Any]:
    r"""The content of a result file of :func:`write`."""
    with open(json_path) as handle:
        return json.load(handle)


def rows_of(results: Mapping[str, Any]) -> Tuple[List[Row], str]:
    r"""The rows of a result file's content, and its header."""
    names = {f.name for f in fields(Row)}
    return [Row(**{key: value for key, value in row.items() if key in names}) for row in results["rows"]], results["header"]


def page(results: Mapping[str, Any]) -> str:
    r"""The page docs/benchmarks.md of a result file's content."""
    rows, header = rows_of(results)
    return markdown(rows, header)


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.benchmarks.report --write-docs RESULTS [--page PAGE]``: the page written again from its result file."""
    parser = argparse.ArgumentParser(description=f"Rewrite {PAGE} from the result file of make bench.")
    parser.add_argument("--write-docs", default=RESULTS, metavar="RESULTS", help=f"the result file (default: {RESULTS})")
    parser.add_argument("--page", default=PAGE, help=f"the page to rewrite (default: {PAGE})")
    options = parser.parse_args(argv)
    with open(options.page, "w") as handle:
        handle.write(page(read(options.write_docs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

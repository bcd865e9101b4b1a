r"""Where an experiment writes its results: CSV, JSON and PNG files in one folder, and progress bars."""

from __future__ import annotations

import csv
import json
import os
import sys
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, TypeVar

T = TypeVar("T")


class ResultFolder:
    r"""A folder that collects one experiment's files.

    Args:
        path (str): The folder; created with its parents.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(path, exist_ok=True)

    def file(self, name: str) -> str:
        r"""Returns the path of ``name`` inside the folder."""
        return os.path.join(self.path, name)

    def write_csv(self, name: str, rows: Sequence[Mapping[str, Any]]) -> str:
        r"""Writes ``rows`` as a CSV file with a header of every key, in the order of first appearance
        (a row without a key leaves its field empty); returns its path."""
        path = self.file(name)
        with open(path, "w", newline="") as handle:
            fields = list(dict.fromkeys(key for row in rows for key in row))
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def write_json(self, name: str, value: Any) -> str:
        r"""Writes ``value`` as indented JSON; returns its path."""
        path = self.file(name)
        with open(path, "w") as handle:
            json.dump(value, handle, indent=2, sort_keys=True)
            handle.write("\n")
        return path

    def save_figure(self, name: str, figure: Any) -> str:
        r"""Saves a matplotlib figure as PNG (150 dpi) and closes it; returns its path."""
        import matplotlib.pyplot as plt

        path = self.file(name)
        figure.savefig(path, dpi=150, bbox_inches="tight")
        plt.close(figure)
        return path


def progress(items: Iterable[T], description: str, total: Optional[int] = None) -> Iterator[T]:
    r"""Iterates over ``items`` with a tqdm progress bar on standard error.

    Args:
        items (Iterable): What to iterate over.
        description (str): The bar's label.
        total (int, optional): Number of items when ``len(items)`` is unknown.
    """
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=description, total=total, file=sys.stderr, dynamic_ncols=True, leave=False)

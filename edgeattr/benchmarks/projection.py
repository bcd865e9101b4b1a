r"""The projection of ``docs/scaling.md``: how many Ray workers explain every node of an ogbn-products-sized graph in an hour.

It reads the rows of ``make bench``'s ``explain-all`` case (item 8,
:mod:`edgeattr.benchmarks.explain_all_cases`) from a result file and scales
the time per target measured on one worker by the edges of a target's
computation subgraph, which its passes run on. For the benchmark's two-layer
GCN those are the edges into every node within two hops (the far ones set
the in-degrees that its normalisation reads; the edges out to nodes beyond
set only out-degrees, which it does not read, and are left out). Where
neighbourhoods do not overlap (a tree), a target with mean in-degree
:math:`\bar d` has :math:`\bar d` in-neighbours and each of them
:math:`s \bar d - 1` more, a neighbour being reached in proportion to its
degree, :math:`s = \mathbb{E}[d^2] / \bar d^2`, and each of those nodes
:math:`s \bar d` in-edges:

.. math::
    m(\bar d) = \bar d + s \bar d^2 + s \bar d^2 (s \bar d - 1) = \bar d + s^2 \bar d^3

edges. Overlapping neighbourhoods
make real subgraphs smaller: the projection scales Cora's measured subgraphs
and time per target by :math:`m(\bar d_{\text{large}}) / m(\bar d_{\text{Cora}})`,
with Cora's :math:`s`, so assuming the larger graph's neighbourhoods overlap
and spread as Cora's do.

``python -m edgeattr.benchmarks.projection --write-docs RESULTS`` rewrites the
section of the page; a test checks that the page holds exactly what the
committed result file gives.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence

from edgeattr.benchmarks import report
from edgeattr.doc_sections import GeneratedSection

#: The committed result file of ``make bench``, with the rows of the ``explain-all`` case.
RESULTS = report.RESULTS
#: The generated section of ``docs/scaling.md``.
SECTION = GeneratedSection("scaling projection", f"python -m edgeattr.benchmarks.projection --write-docs {RESULTS}")
#: The benchmark item whose rows are read.
ITEM = "8"
#: The length of the run the workers are counted for, in seconds.
RUN_SECONDS = 3600.0


@dataclass(frozen=True)
class GraphSize:
    r"""The size of a graph to explain.

    Attributes:
        name (str): Its name.
        nodes (int): Its nodes, every one a target.
        edges (int): Its directed edges, the columns of ``edge_index`` (both directions of an undirected edge).
        features (int): Node features.
    """

    name: str
    nodes: int
    edges: int
    features: int

    @property
    def mean_in_degree(self) -> float:
        return self.edges / self.nodes


#: OGB's ogbn-products: 61,859,140 undirected edges, each in both directions in ``edge_index``.
PRODUCTS = GraphSize("ogbn-products", nodes=2_449_029, edges=2 * 61_859_140, features=100)


def projection(results: Mapping[str, Any], graph: GraphSize = PRODUCTS) -> str:
    r"""The projection for ``graph`` from the benchmark rows, as the page's generated section (Markdown, markers included).

    Args:
        results (Mapping): A bench result file's content (``make bench``'s JSON), its rows among them item 8's.
        graph (GraphSize): The graph projected to. (default: :data:`PRODUCTS`)

    Raises:
        LookupError: if the rows lack the ``explain-all`` case's.
    """
    rows = results["rows"]
    local = _row(rows, lambda figures: "computation_edges" in figures)
    one = _row(rows, lambda figures: figures.get("workers") == 1)
    two = _row(rows, lambda figures: figures.get("workers") == 2)
    measured = local["figures"]
    degree, edges = measured["mean_in_degree"], measured["computation_edges"]
    spread = measured["mean_squared_in_degree"] / degree**2
    tree = subgraph_edges(degree, spread)
    growth = subgraph_edges(graph.mean_in_degree, spread) / tree
    per_target = one["ours"]  # seconds per target on one worker of one CPU
    seconds = graph.nodes * per_target * growth
    shard = measured["shard_size"]
    lines = [
        f"Measured by `make bench` (item 8, `{RESULTS}`): EdgeGradient of {measured['targets']:,} Cora nodes with the "
        f"benchmark's two-layer GCN, {shard} targets per shard, on one Ray worker of one CPU: "
        f"**{1 / per_target:,.0f} explanations/s** ({per_target * 1000:.2f} ms per target). Two workers ran "
        f"{one['ours'] / two['ours']:.2f}x as fast as one on the benchmark's machine; the local engine took "
        f"{local['ours'] / local['theirs']:.2f}x the time of the same shards explained in memory.",
        "",
        f"| | Cora, measured | {graph.name}, projected |",
        "|---|---|---|",
        f"| nodes, every one explained | {measured['nodes']:,} | {graph.nodes:,} |",
        f"| edges of `edge_index` | {measured['edges']:,} | {graph.edges:,} |",
        f"| mean in-degree $\\bar d$ | {degree:.2f} | {graph.mean_in_degree:.2f} |",
        f"| edges of a target's computation subgraph | {edges:,.0f} | {edges * growth:,.0f} |",
        f"| time per target, one worker | {per_target * 1000:.2f} ms | {per_target * growth:,.1f} s |",
        f"| worker-hours for every node | {measured['nodes'] * per_target / 3600:.3f} | {seconds / 3600:,.0f} |",
        f"| workers for a one-hour run | {math.ceil(measured['nodes'] * per_target / RUN_SECONDS)} | **{math.ceil(seconds / RUN_SECONDS):,}** |",
        "",
        "Assumptions:",
        "",
        f"- A target costs in proportion to the edges of its computation subgraph: for two layers, the edges into "
        f"every node within two hops, $m = \\bar d + s^2\\bar d^3$ where neighbourhoods do not overlap, with "
        f"$s = \\mathbb{{E}}[d^2] / \\bar d^2 = {spread:.2f}$ the spread of the degrees. Cora's overlapping neighbourhoods hold "
        f"{edges / tree:.0%} of that; those of {graph.name} are taken to spread and overlap as Cora's, so a target costs "
        f"{growth:,.0f} times a Cora target.",
        f"- The same model. {graph.name} has {graph.features} node features where Cora has {measured['features']:,}: "
        f"the part of the cost that goes with the nodes' features is smaller there, so the projection leans high.",
        f"- Workers scale linearly: each has a CPU of its own and holds the graph, and the shards outnumber them. A pass holds "
        f"a shard's subgraphs, {shard} × {edges * growth / 1e6:,.2f}M edges at the benchmark's shard size: shards of a few "
        f"targets fit a worker's memory. The start is left out: Ray's, and each worker's first fetch of the model and the "
        f"graph and its one check of the model's output on the whole graph.",
    ]
    return SECTION.wrap("\n".join(lines))


def subgraph_edges(degree: float, spread: float) -> float:
    r"""Edges of a two-layer computation subgraph where neighbourhoods do not overlap: :math:`\bar d + s^2 \bar d^3`.

    Args:
        degree (float): The mean in-degree :math:`\bar d`.
        spread (float): :math:`s = \mathbb{E}[d^2] / \bar d^2`.
    """
    return degree + spread**2 * degree**3


def _row(rows: Sequence[Mapping[str, Any]], wanted: Callable[[Mapping[str, Any]], bool]) -> Mapping[str, Any]:
    """The first row of item 8 whose figures are ``wanted``."""
    for row in rows:
        if row["item"] == ITEM and wanted(row.get("figures", {})):
            return row
    raise LookupError(f"the result file has no row of the explain-all case (item {ITEM}): run make bench, or its --cases explain-all")


def write_docs(results: str, page: str) -> None:
    r"""Rewrites the projection of the page ``page`` from the bench result file ``results``."""
    SECTION.write_from(results, page, projection)


def main(argv: Optional[List[str]] = None) -> int:
    r"""``python -m edgeattr.benchmarks.projection --write-docs RESULTS [--page PAGE]``."""
    return SECTION.main(argv, projection, "docs/scaling.md", f"a JSON result file of make bench with the explain-all case (as {RESULTS})")


if __name__ == "__main__":
    sys.exit(main())

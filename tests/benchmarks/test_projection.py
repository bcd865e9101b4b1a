"""The projection of docs/scaling.md: generated from the committed bench results, with the arithmetic of its model."""

import json
import math
import pathlib

import pytest

from edgeattr.benchmarks.projection import RESULTS, SECTION, GraphSize, projection, subgraph_edges, write_docs

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _results(per_target=0.01, two_workers=0.004):
    workload = {"targets": 100, "shard_size": 10, "nodes": 100, "edges": 200, "features": 7, "computation_edges": 6.0,
                "mean_in_degree": 2.0, "mean_squared_in_degree": 4.0}
    return {"header": "# Benchmarks", "rows": [
        {"item": "1", "ours": 1.0, "theirs": 1.0, "figures": {}},
        {"item": "8", "ours": 0.011, "theirs": 0.01, "figures": workload},
        {"item": "8", "ours": per_target, "theirs": 0.011, "figures": {"workers": 1}},
        {"item": "8", "ours": two_workers, "theirs": per_target, "figures": {"workers": 2}},
    ]}


def test_the_page_holds_the_projection_of_the_committed_results():
    results = json.loads((ROOT / RESULTS).read_text())
    assert SECTION.find((ROOT / "docs" / "scaling.md").read_text()) == projection(results)
    assert {row["figures"].get("workers") for row in results["rows"] if row["item"] == "8"} >= {1, 2}


def test_the_projection_scales_by_the_tree_formula_of_a_two_layer_subgraph():
    # Degree 2, no spread (s = 1): the target's 2 in-edges, 2 into each of its 2 neighbours and 2 into each of
    # their 2 further neighbours: 10 edges.
    assert subgraph_edges(2.0, 1.0) == 10.0
    assert subgraph_edges(4.0, 2.0) == 4 + 4 * 64
    big = GraphSize("big", nodes=360_000, edges=1_440_000, features=3)  # mean in-degree 4: 68 / 10 times Cora's cost
    text = projection(_results(), big)
    growth = 68 / 10
    assert "| edges of a target's computation subgraph | 6 | 41 |" in text  # 6 measured edges * 68 / 10
    assert f"| time per target, one worker | 10.00 ms | {0.01 * growth:,.1f} s |" in text
    assert f"| workers for a one-hour run | 1 | **{math.ceil(360_000 * 0.01 * growth / 3600)}** |" in text  # 6.8 -> 7
    assert "**100 explanations/s**" in text and "Two workers ran 2.50x as fast as one" in text
    assert "hold 60% of that" in text and "the local engine took 1.10x the time" in text
    assert text.startswith(SECTION.markers[0]) and text.endswith(SECTION.markers[1])


def test_write_docs_replaces_only_the_generated_section(tmp_path):
    results = tmp_path / "rows.json"
    results.write_text(json.dumps(_results()))
    page = tmp_path / "page.md"
    opening, closing = SECTION.markers
    page.write_text(f"# Title\n\nbefore\n\n{opening}\nstale\n{closing}\n\nafter\n")
    write_docs(str(results), str(page))
    assert page.read_text() == f"# Title\n\nbefore\n\n{projection(_results())}\n\nafter\n"
    results.write_text(json.dumps({"header": "", "rows": _results()["rows"][:2]}))
    with pytest.raises(LookupError, match="no row of the explain-all case"):
        write_docs(str(results), str(page))
    page.write_text("no markers\n")
    results.write_text(json.dumps(_results()))
    with pytest.raises(LookupError, match="no generated scaling projection"):
        write_docs(str(results), str(page))

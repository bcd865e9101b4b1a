"""The benchmark suite runs, and its report says what it measured (no timing is asserted)."""

import json
import pathlib
import re

import pytest
import torch

from edgeattr.benchmarks.profiling import dominant_operations
from edgeattr.benchmarks.pyg_cases import large_graph
from edgeattr.benchmarks.report import PAGE, RESULTS, Row, markdown, page, read, rows_of, write
from edgeattr.benchmarks.timing import alternating_medians
from edgeattr.benchmarks.workloads import DEVICE_VARIABLE, bench_device, random_graph


def test_large_graph_case_runs_at_a_tiny_size_and_batched_equals_the_loop():
    rows = large_graph(num_nodes=300, num_edges=2000, chunk=64, sampled=3)
    assert [row.item for row in rows] == ["4", "4", "5", "5", "5"]
    assert rows[1].unit == "all" and rows[1].ours == pytest.approx(rows[0].ours * 300)  # every node, against its time budget
    assert all(row.ours > 0 and row.theirs > 0 for row in rows)
    difference = float(re.search(r"batched = loop to ([0-9.e+-]+)", rows[0].notes).group(1))
    assert difference < 1e-5


def test_report_marks_goals_and_writes_markdown_and_json(tmp_path):
    rows = [
        Row("1", "fast", "slow", ours=0.001, theirs=0.02, goal=10.0, notes="equal"),
        Row("2", "slower", "slow", ours=0.01, theirs=0.02, goal=10.0, notes=""),
        Row("5", "gradient", "forward", ours=0.5, theirs=0.2, goal=None, notes="", goal_max=3.0, figures={"workers": 2}),
    ]
    assert [row.met for row in rows] == [True, False, True]
    table = markdown(rows, "# header")
    assert "| 1 | fast | 1.00 ms / node | slow | 20.00 ms / node | 20.0x faster | >= 10x faster | met |" in table
    assert "| not met |" in table and "2.50x the baseline" in table
    write(rows, str(tmp_path / "b.md"), str(tmp_path / "b.json"), "# header")
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["header"] == "# header" and [row["met"] for row in saved["rows"]] == [True, False, True] and saved["rows"][0]["speedup"] == 20.0
    assert rows_of(saved) == (rows, "# header")  # figures too
    assert (tmp_path / "b.md").read_text() == table
    assert "workers" not in table and "Where the time goes" not in table
    rows[1].profile = "aten::sort 40%, aten::index 20%, aten::mm 10% of 1.00 s in operators (1.50 s wall)"
    assert "- item 2, slower: aten::sort 40%" in markdown(rows, "# header")


def test_the_page_is_what_the_committed_result_file_gives():
    root = pathlib.Path(__file__).resolve().parents[2]
    results = read(str(root / RESULTS))
    assert (root / PAGE).read_text() == page(results)
    assert {row["item"] for row in results["rows"]} >= {"1", "2", "3", "4", "5", "6", "7", "8"}


def test_the_profile_names_the_operators_that_dominate_a_run():
    big = torch.randn(400, 400)
    profile = dominant_operations(lambda: [big @ big for _ in range(10)] + [torch.sort(big.view(-1)) for _ in range(2)], top=2)
    shares = re.findall(r"(aten::\w+) (\d+)%", profile)
    assert {name for name, _ in shares} == {"aten::mm", "aten::sort"} and all(0 < int(share) <= 100 for _, share in shares)
    assert int(shares[0][1]) >= int(shares[1][1])  # largest first
    assert re.search(r"of [0-9.]+ s in operators \([0-9.]+ s wall\)$", profile)


def test_alternating_medians_take_turns_and_keep_the_order_of_the_works():
    calls = []
    medians = alternating_medians([lambda: calls.append("a"), lambda: calls.append("b")], repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and len(medians) == 2 and all(m >= 0 for m in medians)


def test_the_bench_device_is_the_cpu_unless_named_and_cuda_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    assert bench_device() == torch.device("cpu")
    x, edge_index = random_graph(20, 50, features=3, seed=0)
    assert x.device.type == "cpu" and edge_index.device.type == "cpu"
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
    if torch.cuda.is_available():
        assert random_graph(20, 50, features=3, seed=0)[0].device.type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
            bench_device()

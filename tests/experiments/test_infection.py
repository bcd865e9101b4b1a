"""The infection experiment: valid targets, the planted infection path, the spread over seeds, and the documented results."""

import csv
import json
import math
import pathlib

import networkx as nx
import pytest
import torch

from edgeattr.cli import main
from edgeattr.experiments.infection import search_paths, valid_targets, walk_is_correct
from edgeattr.experiments.infection_results import RESULTS, documented_section, section
from edgeattr.experiments.infection_training import InfectionSizes, infection_graphs, trained_infection_model

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_valid_targets_are_the_nodes_with_one_infected_node_within_their_distance():
    graph = infection_graphs(1, 60, 0.05, 4, 3, seed=3)[0]
    g = nx.Graph(graph.edge_index.t().tolist())
    g.add_nodes_from(range(graph.num_nodes))
    infected = set((graph.y == 0).nonzero().view(-1).tolist())
    expected = []
    for v in range(graph.num_nodes):
        distances = nx.single_source_shortest_path_length(g, v, cutoff=3)
        label = min((d for u, d in distances.items() if u in infected), default=4)
        assert label == int(graph.y[v])  # PyG's labels are the distances to the infection
        if label <= 3 and sum(1 for u, d in distances.items() if u in infected and d <= label) == 1:
            expected.append(v)
    assert valid_targets(graph, 3).tolist() == expected


def test_walk_correctness_is_the_papers_criterion():
    graph = infection_graphs(1, 30, 0.1, 2, 2, seed=0)[0]
    source = int((graph.y == 0).nonzero()[0])
    assert walk_is_correct(torch.tensor([source, source]), graph, source)  # an infected node explains itself
    healthy = int((graph.y != 0).nonzero()[0])
    assert not walk_is_correct(torch.tensor([healthy, healthy]), graph, healthy)


def assert_walk_is_the_planted_path(row, graph):
    walk = [int(v) for v in row["best_walk_walk"].split("-")]
    assert graph.y[walk[0]] == 0 and walk[-1] == row["node"]
    steps = [(a, b) for a, b in zip(walk[:-1], walk[1:]) if a != b]
    assert len(steps) == row["label"] and set(steps) <= set(map(tuple, graph.edge_index.t().tolist()))


@pytest.mark.parametrize("recipe", ["paper", "edgeattr"])
def test_best_walk_finds_the_planted_infection_paths(recipe):
    graphs, model, metrics = trained_infection_model(InfectionSizes(4, 50, 0.06, 3, 2, 16), recipe, 0, 150, cache_dir="")
    assert metrics["test_accuracy"] > 0.95
    graph = graphs[-1]
    rows = search_paths(model, graph, valid_targets(graph, 2))
    best = sum(row["best_walk_correct"] for row in rows) / len(rows)
    amp = sum(row["amp_ave_correct"] for row in rows) / len(rows)
    assert len(rows) >= 10 and best >= 0.8 and best > amp
    for row in rows:
        if row["best_walk_correct"]:
            assert_walk_is_the_planted_path(row, graph)


TINY = ["--graphs", "2", "--num-nodes", "40", "--edge-prob", "0.08", "--infected", "3", "--max-path-length", "2",
        "--hidden", "8", "--epochs", "20", "--targets", "4", "--cosine-nodes", "2", "--gnnexplainer-epochs", "5"]


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("recipe", ["paper", "edgeattr"])
def test_tiny_run_writes_its_files(tmp_path, capsys, recipe):
    argv = ["reproduce", "infection", "--recipe", recipe, "--out", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), *TINY]
    assert main(argv) == 0
    assert "BestWalk path accuracy" in capsys.readouterr().out
    rows = read_csv(tmp_path / "paths.csv")
    assert len(rows) == 4 and all(row["best_walk_walk"].endswith(row["node"]) for row in rows)
    assert all(len(row["amp_ave_walk"].split("-")) == 3 for row in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    correct = sum(row["best_walk_correct"] == "True" for row in rows)
    assert summary["config"]["recipe"] == recipe and summary["seeds"][0]["best_walk_accuracy"] == pytest.approx(100 * correct / 4)
    assert summary["seeds"][0]["searched_targets"] == 4 and summary["cosine_nodes"] == 2
    assert -1 <= summary["cosine_mean"] <= 1 and summary["seeds"][0]["best_walk_seconds_mean"] > 0
    assert (tmp_path / "infection_paths.png").stat().st_size > 10_000
    assert len(list((tmp_path / "cache").iterdir())) == 1  # the trained model is cached
    assert main(argv) == 0  # and reused
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_seeds_are_summarised_by_mean_std_and_range(tmp_path):
    assert main(["reproduce", "infection", "--seeds", "2", "--out", str(tmp_path), "--cache-dir", "", *TINY]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    seeds = read_csv(tmp_path / "seeds.csv")
    paths = read_csv(tmp_path / "paths.csv")
    assert [int(row["seed"]) for row in seeds] == [0, 1] == [row["seed"] for row in summary["seeds"]]
    for row in seeds:
        mine = [p for p in paths if p["seed"] == row["seed"]]
        assert float(row["amp_ave_accuracy"]) == pytest.approx(100 * sum(p["amp_ave_correct"] == "True" for p in mine) / len(mine))
    for figure in ("best_walk_accuracy", "amp_ave_accuracy", "test_accuracy"):
        a, b = (float(row[figure]) for row in seeds)
        stats = summary["spread"][figure]
        assert stats["mean"] == pytest.approx((a + b) / 2)
        assert stats["std"] == pytest.approx(math.sqrt((a - (a + b) / 2) ** 2 + (b - (a + b) / 2) ** 2))  # n - 1 = 1
        assert (stats["min"], stats["max"], stats["first"]) == pytest.approx((min(a, b), max(a, b), a))


def test_no_seed_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--seeds 1"):
        main(["reproduce", "infection", "--seeds", "0", "--out", str(tmp_path), *TINY])


def test_documented_results_are_generated_from_the_committed_file():
    results = json.loads((REPOSITORY / RESULTS).read_text())
    assert documented_section((REPOSITORY / "docs" / "reproduction" / "infection.md").read_text()) == section(results)
    assert {run["config"]["recipe"] for run in results["runs"]} == {"edgeattr", "paper"}
    for run in results["runs"]:  # the file is what the experiment wrote: its figures agree with its rows
        for row in run["seeds"]:
            assert row["best_walk_accuracy"] == pytest.approx(100 * row["best_walk_correct"] / row["searched_targets"])
            if run["config"]["targets"] <= 0:
                assert row["searched_targets"] == row["valid_targets"]
        values = [row["amp_ave_accuracy"] for row in run["seeds"]]
        assert run["spread"]["amp_ave_accuracy"]["min"] == min(values) and run["spread"]["amp_ave_accuracy"]["first"] == values[0]


def test_help_describes_the_experiment(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "infection", "--help"])
    out = capsys.readouterr().out
    assert "AMP-ave" in out and "--targets" in out and "--cosine-nodes" in out and "--recipe" in out and "--seeds" in out

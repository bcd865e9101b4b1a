"""The infection experiment: valid targets, the planted infection path, and the files of a tiny run."""

import csv
import json

import networkx as nx
import pytest
import torch

from edgeattr.cli import main
from edgeattr.experiments.infection import (
    infection_graphs,
    infection_model,
    search_paths,
    train,
    valid_targets,
    walk_is_correct,
)


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


def test_best_walk_finds_the_planted_infection_paths():
    graphs = infection_graphs(4, 50, 0.06, 3, 2, seed=0)
    torch.manual_seed(0)
    model = infection_model(16, 2)
    assert train(model, graphs, 150, seed=0)["test_accuracy"] > 0.95
    graph = graphs[-1]
    rows = search_paths(model, graph, valid_targets(graph, 2))
    best = sum(row["best_walk_correct"] for row in rows) / len(rows)
    amp = sum(row["amp_ave_correct"] for row in rows) / len(rows)
    assert len(rows) >= 10 and best >= 0.8 and best > amp
    for row in rows:
        if row["best_walk_correct"]:
            walk = [int(v) for v in row["best_walk_walk"].split("-")]
            assert graph.y[walk[0]] == 0 and walk[-1] == row["node"]
            steps = {(a, b) for a, b in zip(walk[:-1], walk[1:]) if a != b}
            assert steps <= set(map(tuple, graph.edge_index.t().tolist()))


def test_tiny_run_writes_its_files(tmp_path, capsys):
    argv = [
        "reproduce", "infection", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
        "--graphs", "2", "--num-nodes", "40", "--edge-prob", "0.08", "--infected", "3", "--max-path-length", "2",
        "--hidden", "8", "--epochs", "20", "--targets", "4", "--cosine-nodes", "2", "--gnnexplainer-epochs", "5",
    ]
    assert main(argv) == 0
    assert "BestWalk path accuracy" in capsys.readouterr().out
    with open(tmp_path / "paths.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(row["best_walk_walk"].endswith(row["node"]) for row in rows)
    assert all(len(row["amp_ave_walk"].split("-")) == 3 for row in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    correct = sum(row["best_walk_correct"] == "True" for row in rows)
    assert summary["best_walk_accuracy"] == pytest.approx(100 * correct / 4)
    assert summary["searched_targets"] == 4 and summary["cosine_nodes"] == 2
    assert -1 <= summary["cosine_mean"] <= 1 and summary["best_walk_seconds_mean"] > 0
    assert (tmp_path / "infection_paths.png").stat().st_size > 10_000
    assert len(list((tmp_path / "cache").iterdir())) == 1  # the trained model is cached
    assert main(argv) == 0  # and reused
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_help_describes_the_experiment(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "infection", "--help"])
    out = capsys.readouterr().out
    assert "AMP-ave" in out and "--targets" in out and "--cosine-nodes" in out

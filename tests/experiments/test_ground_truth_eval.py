"""The ground-truth experiment: its ground truths checked by brute force, its scores on known answers, a tiny run, and the documented tables."""

import csv
import json
import pathlib

import networkx as nx
import pytest
import torch

from edgeattr import PyGAdapter
from edgeattr.cli import main
from edgeattr.experiments.ground_truth_data import (
    ba_2motifs,
    ba_shapes,
    infection_path_edges,
    motif_instances,
    own_motif_edges,
    unique_path_nodes,
)
from edgeattr.experiments.ground_truth_eval import (
    DATASETS,
    TABLE_MARKERS,
    computation_edges,
    documented_tables,
    ground_truth_scores,
    tables,
    write_docs,
)
from edgeattr.experiments.ground_truth_methods import METHODS
from edgeattr.experiments.infection_training import infection_graphs, infection_model

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
TINY = [
    "--explained", "2", "--ba-shapes-nodes", "30", "--ba-shapes-motifs", "4", "--node-epochs", "50",
    "--ba-2motifs-graphs", "20", "--ba-2motifs-nodes", "8", "--graph-epochs", "5",
    "--infection-graphs", "2", "--infection-nodes", "60", "--infection-edge-prob", "0.06", "--infected", "4",
    "--max-path-length", "2", "--infection-epochs", "10",
    "--gnnexplainer-epochs", "5", "--pgexplainer-epochs", "2", "--ig-steps", "4",
]


def test_ba_shapes_truth_is_the_nodes_own_house():
    graph = ba_shapes(num_nodes=30, num_edges=3, num_motifs=4, seed=1)
    assert graph.num_nodes == 30 + 4 * 5 and graph.y.bincount().tolist() == [30, 8, 8, 4]
    houses = graph.motif[30:].view(4, 5)
    assert (graph.motif[:30] == -1).all() and (houses == houses[:, :1]).all() and houses[:, 0].unique().numel() == 4
    for node in range(30, 50):
        truth = own_motif_edges(graph, node)
        ends = graph.edge_index[:, truth]
        assert int(truth.sum()) == 12 and (graph.edge_mask[truth] == 1).all()  # a house: 6 edges, both directions
        assert set(ends.view(-1).tolist()) == set((graph.motif == graph.motif[node]).nonzero().view(-1).tolist())
    with pytest.raises(ValueError, match="no motif"):
        own_motif_edges(graph, 0)
    assert torch.equal(ba_shapes(num_nodes=30, num_edges=3, num_motifs=4, seed=1).edge_index, graph.edge_index)  # seeded, NumPy too


def test_ba_2motifs_has_one_motif_per_graph_and_both_labels():
    graphs = ba_2motifs(num_graphs=10, num_nodes=8, seed=0)
    assert sorted(int(g.y) for g in graphs) == [0] * 5 + [1] * 5
    for graph in graphs:
        motif_edges = int(graph.edge_mask.sum())
        assert motif_edges == (12 if int(graph.y) == 0 else 10)  # a house has 6 edges, a 5-cycle 5, both directions
        assert (motif_instances(graph.edge_index, graph.edge_mask, graph.num_nodes) >= 0).sum() == 5
        assert graph.num_nodes == 13 and graph.x.shape == (13, 1)


def test_infection_truth_is_the_unique_shortest_path_from_the_infection():
    graph = infection_graphs(1, 60, 0.06, 4, 3, seed=2)[0]
    digraph = nx.DiGraph(graph.edge_index.t().tolist())
    infected = (graph.y == 0).nonzero().view(-1).tolist()
    unique = set(unique_path_nodes(graph, 3).tolist())
    assert len(unique) >= 5
    for node in ((graph.y >= 1) & (graph.y <= 3)).nonzero().view(-1).tolist():
        paths = [p for s in infected if nx.has_path(digraph, s, node) for p in nx.all_shortest_paths(digraph, s, node)]
        shortest = [p for p in paths if len(p) - 1 == int(graph.y[node])]
        truth = infection_path_edges(graph, node)
        on_paths = {(a, b) for path in shortest for a, b in zip(path[:-1], path[1:])}
        assert {tuple(e) for e in graph.edge_index[:, truth].t().tolist()} == on_paths
        assert (node in unique) == (len(shortest) == 1)
    assert not infection_path_edges(graph, infected[0]).any()


def test_scores_of_known_explanations():
    graph = infection_graphs(1, 40, 0.1, 3, 2, seed=0)[0]
    torch.manual_seed(0)
    model = infection_model(8, 2).eval()
    node = int(unique_path_nodes(graph, 2)[0])
    adapter = PyGAdapter(model, graph.x, graph.edge_index, index=node)
    edges = computation_edges(adapter)
    truth = infection_path_edges(graph, node)
    oracle = truth.float()
    scores = torch.stack([oracle, -oracle, torch.zeros_like(oracle)])
    auc, fid_plus, fid_minus = ground_truth_scores(adapter, scores, truth, edges)
    assert auc.tolist() == [1.0, 0.0, 0.5]
    # Keeping the whole computation subgraph keeps the prediction (fidelity- 0); removing it all is the model
    # without messages, which for a sum GraphSAGE is the model on a graph without edges.
    auc, fid_plus, fid_minus = ground_truth_scores(adapter, scores, truth, edges, topk=edges.numel())
    with torch.no_grad():
        alone = model(graph.x, graph.edge_index[:, :0])[node].argmax()
        predicted = model(graph.x, graph.edge_index)[node].argmax()
    assert fid_minus.tolist() == [0.0, 0.0, 0.0] and fid_plus.tolist() == [float(alone != predicted)] * 3
    with pytest.raises(ValueError, match="no ground-truth edge"):
        ground_truth_scores(adapter, scores, torch.zeros_like(truth), edges)


def test_tiny_run_scores_every_method_on_every_dataset(tmp_path, capsys):
    assert main(["reproduce", "ground-truth", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), *TINY]) == 0
    assert "| BA-Shapes | GradientSign |" in capsys.readouterr().out
    result = json.loads((tmp_path / "summary.json").read_text())
    assert [(row["dataset"], row["method"]) for row in result["summary"]] == [(d, m) for d in DATASETS for m in METHODS]
    for row in result["summary"]:
        assert row["targets"] == 2 and 0 <= row["roc_auc_mean"] <= 1
        assert 0 <= row["fid_plus"] <= 1 and 0 <= row["fid_minus"] <= 1 and row["ms_mean"] > 0
        assert (row["setup_seconds"] > 0) == (row["method"] == "pyg_pgexplainer")
    with open(tmp_path / "targets.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(DATASETS) * len(METHODS) * 2
    assert all(0 < int(row["truth_edges"]) < int(row["computation_edges"]) for row in rows)
    assert [m["dataset"] for m in result["models"]] == list(DATASETS)
    assert (tmp_path / "ground_truth.png").stat().st_size > 10_000
    assert len(list((tmp_path / "cache").iterdir())) == 3  # one trained model per dataset


def test_documented_tables_are_generated_from_the_committed_results():
    results = json.loads((DOCS / "results" / "ground_truth.json").read_text())
    assert documented_tables((DOCS / "ground-truth.md").read_text()) == tables(results)
    assert [(row["dataset"], row["method"]) for row in results["summary"]] == [(d, m) for d in DATASETS for m in METHODS]
    assert (DOCS / "images" / "ground_truth.png").is_file()


def test_tables_bold_the_best_auc_and_write_docs_replaces_only_the_generated_section(tmp_path):
    def row(method, auc, setup=0.0):
        return {"dataset": "BA-Shapes", "method": method, "label": METHODS[method], "targets": 2, "roc_auc_mean": auc, "roc_auc_std": 0.1,
                "fid_plus": 0.5, "fid_minus": 0.25, "ms_mean": 12.34, "setup_seconds": setup}

    result = {"models": [{"dataset": "BA-Shapes", "model": "GCN (3 layers)", "train_accuracy": 0.9, "test_accuracy": 0.8, "targets": 2}],
              "summary": [row("edge_gradient", 0.7), row("pyg_pgexplainer", 0.6, setup=3.21), row("random", 0.9)]}
    generated = tables(result)
    assert generated.startswith(TABLE_MARKERS[0]) and generated.endswith(TABLE_MARKERS[1])
    assert "| BA-Shapes | GCN (3 layers) | 0.900 | 0.800 | 2 |" in generated
    assert "| BA-Shapes | EdgeGradient | **0.700 ± 0.100** | 0.500 | 0.250 | 12.3 |" in generated  # best but for random scores
    assert "| BA-Shapes | PyG PGExplainer | 0.600 ± 0.100 | 0.500 | 0.250 | 12.3 (+ 3.2 s training) |" in generated
    assert "| BA-Shapes | Random | 0.900 ± 0.100 |" in generated
    results = tmp_path / "summary.json"
    results.write_text(json.dumps(result))
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\nbefore\n\n{TABLE_MARKERS[0]}\nstale\n{TABLE_MARKERS[1]}\n\nafter\n")
    write_docs(str(results), str(page))
    assert page.read_text() == f"# Title\n\nbefore\n\n{generated}\n\nafter\n"
    page.write_text("no markers\n")
    with pytest.raises(LookupError, match="no generated ground-truth tables"):
        write_docs(str(results), str(page))


def test_help_describes_the_experiment(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "ground-truth", "--help"])
    out = capsys.readouterr().out
    assert "PGExplainer" in out and "--explained" in out and "--ba-2motifs-graphs" in out

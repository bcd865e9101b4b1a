"""The negative-evidence experiment: its graph checked by brute force, and a tiny end-to-end run."""

import csv
import json
from collections import Counter

import pytest
import torch

from edgeattr import EdgeGradient, PyGAdapter
from edgeattr.cli import main
from edgeattr.experiments.models import SumSAGE
from edgeattr.experiments.negative_evidence import GNNEXPLAINER_OPTIONS, explain_node, explained_nodes
from edgeattr.experiments.synthetic import negative_evidence_graph
from edgeattr.plotting import edge_attribution_figure


@pytest.mark.parametrize("num_colours,distinct", [(2, True), (3, True), (3, False), (4, False)])
def test_graph_has_the_papers_structure(num_colours, distinct):
    per_colour, low, high = 6, 1, 5
    data = negative_evidence_graph(
        num_nodes=150, nodes_per_colour=per_colour, num_colours=num_colours, min_links=low, max_links=high,
        p_white=0.05, seed=3, distinct=distinct,
    )
    colour = data.x.argmax(1).tolist()
    assert data.x.sum(1).eq(1).all() and data.x.size(1) == num_colours + 1
    assert Counter(colour) == {0: 150 - num_colours * per_colour, **{c: per_colour for c in range(1, num_colours + 1)}}
    pairs = [tuple(e) for e in data.edge_index.t().tolist()]
    assert len(pairs) == len(set(pairs)), "no repeated edges"
    assert all((v, u) in set(pairs) for u, v in pairs), "undirected"
    assert all(u != v for u, v in pairs), "no self-loops"
    white_white = 0
    for u, v in pairs:
        assert colour[u] == 0 or colour[v] == 0, "coloured nodes link only to white nodes"
        white_white += colour[u] == 0 and colour[v] == 0
    assert white_white > 0
    for node in range(150):
        neighbours = [u for u, v in pairs if v == node]
        counts = [sum(colour[u] == c for u in neighbours) for c in range(1, num_colours + 1)]
        if colour[node] != 0:
            assert data.y[node] == colour[node] - 1 and not data.white_mask[node]
            assert data.link_counts[node].eq(0).all()
            continue
        assert data.white_mask[node]
        assert data.link_counts[node].tolist() == counts
        assert all(low <= k <= high for k in counts)
        top = max(counts)
        assert counts.count(top) == 1, "a strict majority"
        assert data.y[node] == counts.index(top), "labelled by the majority colour"
        if distinct:
            assert len(set(counts)) == num_colours


def test_graph_rejects_impossible_settings():
    with pytest.raises(ValueError, match="max_links <= nodes_per_colour"):
        negative_evidence_graph(num_nodes=100, nodes_per_colour=3, max_links=4)
    with pytest.raises(ValueError, match="min_links < max_links"):
        negative_evidence_graph(num_nodes=100, min_links=2, max_links=2)
    with pytest.raises(ValueError, match="distinct counts for 3 colours"):
        negative_evidence_graph(num_nodes=100, num_colours=3, min_links=1, max_links=2, distinct=True)


def test_explained_nodes_follow_the_papers_selection():
    data = negative_evidence_graph(num_nodes=300, nodes_per_colour=6, min_links=1, max_links=6, seed=1, distinct=True)
    selected = explained_nodes(data, min_margin=2)
    for node in range(300):
        blue, red = data.link_counts[node].tolist()
        clear = bool(data.white_mask[node]) and abs(red - blue) > 1 and min(red, blue) > 1
        assert bool(selected[node]) == clear


def _run(tmp_path, classes, recipe, seeds=1):
    out = tmp_path / "run"
    argv = [
        "reproduce", "negative-evidence", "--out", str(out), "--cache-dir", "", "--classes", *map(str, classes),
        "--recipe", recipe, "--seeds", str(seeds),
        "--graph-size", "160", "--nodes-per-colour", "6", "--max-links", "6", "--p-white", "0.01",
        "--train-graphs", "2", "--epochs", "300", "--lr", "0.05", "--explained", "4",
        # a short training leaves the white weight near 1e-3 (Adam's steps around L1's kink), not the paper's 2e-4
        "--eps", "0.01",
    ]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("recipe", ["paper", "edgeattr"])
def test_binary_end_to_end(tmp_path, recipe):
    out = _run(tmp_path, [2], recipe)
    result = json.loads((out / "summary.json").read_text())
    assert result["recipe"] == recipe and result["seeds"] == [0]
    summary = result["variants"]["2class"]["per_seed"][0]
    assert summary["explained_nodes"] == 4 and summary["test_accuracy"] > 0.9
    # GNNExplainer keeps the positive evidence: the gradient sign P; the reverse one the negative evidence.
    assert summary["cos_sign_gnnexplainer"]["mean"] > 0.97
    assert summary["cos_negative_sign_reverse"]["mean"] > 0.97
    # GNNExplainer minus its reverse recovers the signed gradient, GNNExplainer alone does not.
    assert summary["cos_gradient_difference"]["mean"] > 0.95
    assert summary["cos_gradient_gnnexplainer"]["mean"] < summary["cos_gradient_difference"]["mean"] - 0.1
    assert result["variants"]["2class"]["paper"]["cos_sign_gnnexplainer"] == [0.9979, 0.0029]
    with open(out / "nodes_2class.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    for row in rows:
        blue, red = int(row["blue_links"]), int(row["red_links"])
        assert int(row["label"]) == int(red > blue) and min(blue, red) > 1 and abs(red - blue) > 1
    assert (out / "negative_evidence_2class.png").stat().st_size > 10_000


@pytest.mark.parametrize("recipe", ["paper", "edgeattr"])
def test_three_colours_end_to_end(tmp_path, recipe):
    out = _run(tmp_path, [3], recipe)
    summary = json.loads((out / "summary.json").read_text())["variants"]["3class"]["per_seed"][0]
    assert summary["test_accuracy"] > 0.9
    assert summary["cos_sign_gnnexplainer"]["mean"] > 0.97
    assert "cos_gradient_difference" not in summary
    assert (out / "nodes_3class.csv").exists() and (out / "negative_evidence_3class.png").stat().st_size > 10_000


def test_two_seeds_report_the_spread_of_every_figure(tmp_path):
    out = _run(tmp_path, [2], "paper", seeds=2)
    result = json.loads((out / "summary.json").read_text())
    assert result["seeds"] == [0, 1]
    variant = result["variants"]["2class"]
    assert [s["seed"] for s in variant["per_seed"]] == [0, 1]
    per_seed = []
    for name in ("nodes_2class.csv", "nodes_2class_seed1.csv"):
        with open(out / name) as handle:
            rows = list(csv.DictReader(handle))
        figures = {key: sum(float(row[key]) for row in rows) / len(rows) for key in rows[0] if key.startswith("cos_")}
        per_seed.append(figures)
    for index, summary in enumerate(variant["per_seed"]):
        per_seed[index]["test_accuracy"] = summary["test_accuracy"]
        per_seed[index]["train_accuracy"] = summary["train_accuracy"]
    assert set(variant["spread"]) == set(per_seed[0]) and len(per_seed[0]) == 6
    for key, spread in variant["spread"].items():
        a, b = per_seed[0][key], per_seed[1][key]
        # two seeds: mean (a + b) / 2, sample standard deviation |a - b| / sqrt(2)
        assert spread["mean"] == pytest.approx((a + b) / 2, abs=1e-12)
        assert spread["std"] == pytest.approx(abs(a - b) / 2 ** 0.5, abs=1e-12)
        assert (spread["min"], spread["max"], spread["first"], spread["n"]) == pytest.approx((min(a, b), max(a, b), a, 2), abs=1e-12)
    assert per_seed[0]["cos_sign_gnnexplainer"] != per_seed[1]["cos_sign_gnnexplainer"], "the seeds give different graphs"


def test_explaining_on_the_edges_into_the_node_matches_the_full_graph():
    data = negative_evidence_graph(num_nodes=120, nodes_per_colour=5, min_links=1, max_links=5, p_white=0.05, seed=2)
    torch.manual_seed(0)
    model = SumSAGE(data.num_features, 1)
    node = int(explained_nodes(data).nonzero()[0])
    explained = explain_node(model, data, node, 0.001, dict(GNNEXPLAINER_OPTIONS, epochs=5))
    full = PyGAdapter(model, data.x, data.edge_index, index=node, mode=model.mode)
    gradient = EdgeGradient(full).attribute(full.ones())[0]
    assert torch.equal(explained.edges, (data.edge_index[1] == node).nonzero().view(-1))
    assert torch.allclose(gradient[explained.edges], explained.gradient[0])
    rest = torch.ones_like(gradient, dtype=torch.bool)
    rest[explained.edges] = False
    assert gradient[rest].eq(0).all(), "no other edge moves the output"


def test_panels_share_one_layout_and_reject_wrong_shapes():
    edge_index = torch.tensor([[1, 2, 3], [0, 0, 0]])
    figure = edge_attribution_figure(edge_index, {"a": torch.tensor([1.0, -1.0, 0.0]), "b": torch.tensor([0.0, 0.5, 0.0])}, 0)
    assert [axis.get_title() for axis in figure.axes[:2]] == ["a", "b"] and len(figure.axes) == 4  # two colour bars
    with pytest.raises(ValueError, match="one value per edge"):
        edge_attribution_figure(edge_index, {"a": torch.ones(2)}, 0)
    with pytest.raises(ValueError, match="panels is empty"):
        edge_attribution_figure(edge_index, {}, 0)

"""The real-data grid experiments end to end at a tiny size, their datasets and models."""

import csv
import json

import numpy as np
import pytest
import torch
from torch_geometric.nn import GATv2Conv, GINEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_undirected

from edgeattr import LayerwiseOcclusion, PyGAdapter
from edgeattr.cli import main
from edgeattr.experiments.datasets import dataset_task, load_dataset
from edgeattr.experiments.grid import ExplainedItem, GridConfig, run_grid
from edgeattr.experiments.models import GraphClassifier, build_model
from edgeattr.metrics import sign_flips
from tests.support.raw_datasets import (
    PLANETOID_NODES,
    PLANETOID_TEST,
    PLANETOID_TRAIN,
    WEBKB_CLASSES,
    WEBKB_NODES,
    write_planetoid,
    write_tudataset,
    write_webkb,
)

TINY = ["--datasets", "Cornell", "MUTAG", "--depths", "1", "--explained", "2", "--node-epochs", "5", "--graph-epochs", "2", "--cache-dir", ""]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A node task (Cornell's format) and a graph task (MUTAG's format), written offline."""
    folder = str(tmp_path_factory.mktemp("data"))
    write_webkb(folder, "cornell")
    write_tudataset(folder, "MUTAG")
    return folder


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def reproduce(name, root, out, *extra):
    assert main(["reproduce", name, "--root", root, "--out", str(out), *TINY, *extra]) == 0
    return json.loads((out / "summary.json").read_text())


def test_datasets_load_from_a_copied_root_with_their_splits(root):
    cornell = load_dataset("cornell", root)
    assert (cornell.name, cornell.task, cornell.graph.num_nodes, cornell.num_classes) == ("Cornell", "node", WEBKB_NODES, WEBKB_CLASSES)
    assert cornell.graph.train_mask.dim() == 1 and int(cornell.graph.train_mask.sum()) == 36 and int(cornell.graph.test_mask.sum()) == 12
    mutag = load_dataset("MUTAG", root, seed=3)
    assert (mutag.task, mutag.edge_dim, len(mutag.train), len(mutag.val), len(mutag.test)) == ("graph", 4, 24, 8, 8)
    again = load_dataset("MUTAG", root, seed=3)
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(mutag.test, again.test))
    assert dataset_task("Citeseer") == "node" and dataset_task("proteins") == "graph"
    with pytest.raises(ValueError, match="Graph-SST2 cannot be obtained offline"):
        load_dataset("Graph-SST2", root)
    with pytest.raises(ValueError, match="unknown dataset 'Pubmed'"):
        load_dataset("Pubmed", root)


@pytest.mark.parametrize("recipe", ["paper", "edgeattr"])
def test_the_recipe_picks_the_planetoid_split_whose_test_nodes_the_grid_explains(tmp_path, recipe):
    write_planetoid(str(tmp_path), "Cora")
    public = load_dataset("Cora", str(tmp_path)).graph
    split = load_dataset("Cora", str(tmp_path), planetoid_split="geom-gcn").graph
    first = np.load(tmp_path / "Planetoid" / "Cora" / "geom-gcn" / "raw" / "cora_split_0.6_0.2_0.npz")
    for key in ("train_mask", "val_mask", "test_mask"):
        assert split[key].tolist() == first[key].tolist()  # split 0 of the ten
    assert public.train_mask.nonzero().view(-1).tolist() == list(range(PLANETOID_TRAIN))
    assert public.test_mask.nonzero().view(-1).tolist() == list(range(PLANETOID_NODES - PLANETOID_TEST, PLANETOID_NODES))
    assert torch.equal(split.x, public.x) and torch.equal(split.edge_index, public.edge_index)
    config = GridConfig(datasets=("Cora",), architectures=("GCN",), depths=(1,), explained=0, recipe=recipe, node_epochs=2, root=str(tmp_path), cache_dir="")
    rows, _ = run_grid(config, lambda item: {"explained": 1.0}, "split")
    expected = split if recipe == "paper" else public
    assert sorted(row["item"] for row in rows) == expected.test_mask.nonzero().view(-1).tolist()


def test_models_follow_the_paper():
    gat = build_model("GAT", 8, 3, 2)
    assert [type(c) for c in gat.convs] == [GATv2Conv, GATv2Conv] and gat.convs[0].heads == 4 and gat.dropout.p == 0.5
    graph = build_model("GIN", 7, 2, 3, task="graph", edge_dim=4)
    assert isinstance(graph, GraphClassifier) and all(isinstance(c, GINEConv) for c in graph.gnn.convs)
    torch.manual_seed(0)
    x, edge_index, edge_attr = torch.randn(6, 7), to_undirected(torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])), None
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    edge_attr = torch.randn(edge_index.size(1), 4)
    graph.eval()
    out = graph(x, edge_index, edge_attr=edge_attr, batch=batch)
    assert out.shape == (2, 1)
    nodes = graph.gnn(x, edge_index, edge_attr=edge_attr, batch=batch)
    torch.testing.assert_close(out, torch.stack([nodes[:3].mean(0), nodes[3:].mean(0)]))
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("MLP", 7, 2, 1)


def test_sgc_is_the_linear_propagation_of_its_layers():
    torch.manual_seed(0)
    sgc = build_model("SGC", 5, 3, 2).double().eval()
    x, edge_index = torch.randn(6, 5, dtype=torch.float64), to_undirected(torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]]))
    index, weight = gcn_norm(edge_index, num_nodes=6, add_self_loops=True, dtype=torch.float64)
    a_hat = torch.zeros(6, 6, dtype=torch.float64).index_put_((index[1], index[0]), weight, accumulate=True)
    h = x
    for conv in sgc.convs:
        h = a_hat @ h @ conv.lin.weight.T + conv.lin.bias
    torch.testing.assert_close(sgc(x, edge_index), h)


def test_sign_flips_on_a_sample_of_edges_match_the_full_sweep():
    torch.manual_seed(0)
    model = build_model("GCN", 4, 3, 2).eval()
    x, edge_index = torch.randn(7, 4), to_undirected(torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]]))
    adapter = PyGAdapter(model, x, edge_index, index=2)
    full = sign_flips(adapter, adapter.ones())
    chosen = full.entries[::2]
    sample = sign_flips(adapter, adapter.ones(), edges=chosen)
    assert torch.equal(sample.entries, chosen)
    torch.testing.assert_close(sample.gradients, full.gradients[::2])
    assert torch.equal(sample.flips, full.flips[::2])


def test_input_level_end_to_end(root, tmp_path):
    result = reproduce("input-level", root, tmp_path)
    rows = read_csv(tmp_path / "input_level.csv")
    assert list(rows[0]) == ["seed", "dataset", "architecture", "depth", "item", "gnnexplainer", "grad", "occlusion", "random", "full", "positive_edges"]
    assert {r["dataset"] for r in rows} == {"Cornell", "MUTAG"} and (tmp_path / "input_level.png").stat().st_size > 0
    for row in rows:
        assert 0 < float(row["grad"]) <= 1 + 1e-6 and float(row["full"]) > 0 and float(row["random"]) > 0
        if row["architecture"] in ("GCN", "GAT"):  # one layer: z is linear in each w_e, so occlusion = gradient
            assert float(row["occlusion"]) == pytest.approx(float(row["grad"]), abs=1e-5)
    assert len(result["models"]) == 6 and len(read_csv(tmp_path / "summary.csv")) == len(result["cells"])


def test_layerwise_end_to_end_with_the_exact_linear_check(root, tmp_path):
    result = reproduce("layerwise", root, tmp_path, "--architectures", "GCN", "GIN", "--sgc-dataset", "Cornell", "--sgc-depths", "1", "3", "--sgc-explained", "2", "--sgc-max-edges", "6")
    rows = read_csv(tmp_path / "layerwise.csv")
    assert list(rows[0]) == ["seed", "dataset", "architecture", "depth", "item", "grad", "gnnexplainer", "random", "full"]
    for row in rows:
        if row["architecture"] == "GCN":  # one linear message-passing layer
            assert float(row["grad"]) == pytest.approx(1.0, abs=1e-6)
    linear = read_csv(tmp_path / "sgc.csv")
    assert {int(r["depth"]) for r in linear} == {1, 3}
    for row in linear:
        assert float(row["layerwise_grad_vs_occlusion"]) == pytest.approx(1.0, abs=1e-6)
        assert float(row["max_abs_gap"]) < 1e-6
        assert 0 < float(row["gnnexplainer_vs_p"]) <= 1
        assert 0 < int(row["examined_edges"]) <= 6
    assert [entry["depth"] for entry in result["sgc"]] == [1, 3]
    assert result["sgc_settings"] == {"dataset": "Cornell", "depths": [1, 3], "explained": 2, "epochs": 2000, "max_edges": 6}  # epochs: the paper recipe's
    assert (tmp_path / "layerwise.png").stat().st_size > 0 and (tmp_path / "sgc.png").stat().st_size > 0


def test_sign_flips_end_to_end(root, tmp_path):
    result = reproduce("sign-flips", root, tmp_path, "--max-edges", "16")
    rows = read_csv(tmp_path / "sign_flips.csv")
    assert list(rows[0]) == ["seed", "dataset", "architecture", "depth", "item", "flip_rate", "examined_edges", "flipped_edges",
                             "paper_flip_rate", "paper_nonzero_edges", "paper_flagged_edges"]
    for row in rows:
        assert 0 <= int(row["flipped_edges"]) <= int(row["examined_edges"]) <= 16
        assert float(row["paper_flip_rate"]) == pytest.approx(int(row["paper_flagged_edges"]) / int(row["paper_nonzero_edges"]), abs=1e-6)
        if row["architecture"] in ("GCN", "GAT") and row["dataset"] == "Cornell":  # linear in each w_e: no flips
            assert float(row["flip_rate"]) == 0.0 and float(row["paper_flip_rate"]) == 0.0
    assert (tmp_path / "sign_flips.png").stat().st_size > 0 and result["steps"] == 21 and result["protocols"] == ["edgeattr", "paper"]
    assert {"flip_rate_mean", "paper_flip_rate_mean"} <= set(result["cells"][0])


def test_sign_flips_with_one_protocol_measures_only_that_one(root, tmp_path):
    reproduce("sign-flips", root, tmp_path, "--max-edges", "4", "--protocol", "paper")
    rows = read_csv(tmp_path / "sign_flips.csv")
    assert list(rows[0]) == ["seed", "dataset", "architecture", "depth", "item", "paper_flip_rate", "paper_nonzero_edges", "paper_flagged_edges"]


def test_explain_command_trains_explains_and_draws(root, tmp_path, capsys):
    figure = tmp_path / "node.png"
    assert main(["explain", "--dataset", "cornell", "--model", "gcn", "--node", "7", "--method", "edge_gradient",
                 "--root", root, "--epochs", "3", "--cache-dir", "", "--out", str(figure)]) == 0
    printed = capsys.readouterr().out
    assert "Cornell, GCN with 2 layers" in printed and printed.count("  edge ") == 5 and figure.stat().st_size > 10_000
    graph_figure = tmp_path / "graph.png"
    assert main(["explain", "--dataset", "mutag", "--model", "gin", "--graph", "0", "--layerwise", "--root", root,
                 "--epochs", "1", "--cache-dir", "", "--out", str(graph_figure)]) == 0
    assert "test graph 0" in capsys.readouterr().out and graph_figure.stat().st_size > 10_000
    with pytest.raises(SystemExit, match="node task: pass --node"):
        main(["explain", "--dataset", "cornell", "--graph", "0", "--root", root, "--cache-dir", "", "--out", str(figure)])


def test_full_masks_hold_the_edges_whose_messages_reach_the_node():
    # path 0 - 1 - 2 - 3 - 4, both directions; explained node 0 with L = 2 layers
    edge_index = to_undirected(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    item = ExplainedItem(dataset="path", architecture="GCN", depth=2, item=0, task="node", model=torch.nn.Identity(),
                         args=(torch.zeros(5, 1), edge_index), index=0)
    pairs = [tuple(e) for e in edge_index.t().tolist()]
    within = lambda hops: [float(max(s, d) <= hops) for s, d in pairs]  # noqa: E731 -- on a path from node 0: both ends within the hops
    assert item.full_mask().tolist() == [within(2)]
    assert item.full_mask(layerwise=True).tolist() == [[within(2), within(1)]]  # the first layer's messages come from farthest
    graph = ExplainedItem(dataset="g", architecture="GCN", depth=3, item=0, task="graph", model=torch.nn.Identity(), args=(torch.zeros(5, 1), edge_index))
    assert graph.full_mask(layerwise=True).shape == (1, 3, 8) and bool(graph.full_mask(layerwise=True).all())


def test_layerwise_occlusion_lies_within_the_full_mask():
    torch.manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 30, (2, 60)))
    model = build_model("GIN", 4, 3, 3).eval()
    item = ExplainedItem(dataset="random", architecture="GIN", depth=3, item=7, task="node", model=model,
                         args=(torch.randn(30, 4), edge_index), index=7)
    adapter = item.adapter(layerwise=True)
    occlusion = LayerwiseOcclusion(adapter).attribute(adapter.ones())
    full = item.full_mask(layerwise=True)
    assert bool(occlusion.ne(0).any()) and not bool((occlusion.ne(0) & full.eq(0)).any())
    assert bool((full.eq(1) & occlusion.eq(0)).any())  # Full also holds edges whose messages do not move z


def test_seeds_train_their_own_models_and_the_summary_gives_the_spread_of_their_means(root, tmp_path):
    result = reproduce("input-level", root, tmp_path, "--datasets", "Cornell", "--architectures", "GCN", "--seeds", "2")
    rows = read_csv(tmp_path / "input_level.csv")
    assert {row["seed"] for row in rows} == {"0", "1"}
    models = read_csv(tmp_path / "models.csv")
    assert [row["seed"] for row in models] == ["0", "1"]
    (cell,) = result["cells"]
    assert cell["seeds"] == 2 and cell["count"] == len(rows)
    for column in ("gnnexplainer", "random"):
        seed_means = [sum(float(r[column]) for r in rows if r["seed"] == s) / sum(r["seed"] == s for r in rows) for s in ("0", "1")]
        assert cell[f"{column}_seed_min"] == pytest.approx(min(seed_means), abs=1e-4)
        assert cell[f"{column}_seed_max"] == pytest.approx(max(seed_means), abs=1e-4)
        assert cell[f"{column}_seed_std"] == pytest.approx(abs(seed_means[0] - seed_means[1]) / 2**0.5, abs=1e-4)
        assert cell[f"{column}_seed_first"] == pytest.approx(seed_means[0], abs=1e-4)
        assert cell[f"{column}_seed_mean"] == pytest.approx(sum(seed_means) / 2, abs=1e-4)
        assert cell[f"{column}_mean"] == pytest.approx(sum(float(r[column]) for r in rows) / len(rows), abs=1e-4)
    assert result["config"]["seeds"] == 2

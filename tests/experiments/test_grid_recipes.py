"""The grid's ``paper`` recipe against the reference's own training scripts, and its metrics.

The reference loops below follow train/train_node_classification.py and
train/train_graph_classification.py of the paper's code line by line at a
small size: one seed at the start, the dataset (shuffled for graph tasks), the
model (PyG's ``Sequential`` with mean pooling for graphs), a shuffling
``DataLoader`` without a generator, ``zero_grad`` once per epoch for graphs,
and the "best" state kept as ``model.state_dict()`` (which aliases the
parameters).
"""

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import TUDataset, WebKB
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GAT, GCN, GIN, Sequential, global_mean_pool

from edgeattr.experiments.datasets import load_dataset
from edgeattr.experiments.grid import GridConfig
from edgeattr.experiments.grid_training import balanced_accuracy, trained_model
from edgeattr.experiments.models import GINE
from tests.support.raw_datasets import write_tudataset, write_webkb


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("data"))
    write_webkb(folder, "cornell")
    write_tudataset(folder, "MUTAG")
    return folder


def reference_node_training(root, architecture, layers, epochs, seed):
    torch.manual_seed(seed)
    dataset = WebKB(root=f"{root}/WebKB", name="cornell")
    data = dataset[0]
    data.train_mask = data.train_mask[:, 0].bool()
    data.val_mask = data.val_mask[:, 0].bool()
    options = dict(hidden_channels=32, num_layers=layers, out_channels=dataset.num_classes, act="relu", dropout=0.5)
    if architecture == "GCN":
        model = GCN(dataset.num_node_features, **options)
    elif architecture == "GAT":
        model = GAT(dataset.num_node_features, v2=True, heads=4, **options)
    else:
        model = GIN(dataset.num_node_features, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003, weight_decay=1e-5)
    criterion = torch.nn.CrossEntropyLoss()
    best_val_acc, state = 0.0, model.state_dict()
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        criterion(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val_acc = float((model(data.x, data.edge_index)[data.val_mask].argmax(1) == data.y[data.val_mask]).float().mean())
        if val_acc > best_val_acc:
            best_val_acc, state = val_acc, model.state_dict()
    model.load_state_dict(state)
    return model.eval()


def reference_graph_training(root, architecture, layers, epochs, seed):
    torch.manual_seed(seed)
    dataset = TUDataset(root=f"{root}/TUDataset", name="MUTAG").shuffle()
    num_train, num_val = int(len(dataset) * 0.6), int(len(dataset) * 0.2)
    train_loader = DataLoader(dataset[:num_train], batch_size=32, shuffle=True)
    options = dict(hidden_channels=32, num_layers=layers, out_channels=1, act="relu", norm="LayerNorm", dropout=0.5)
    if architecture == "GCN":
        gnn = GCN(dataset.num_node_features, **options)
        model = Sequential("x, edge_index, edge_weight, edge_attr, batch",
                           [(gnn, "x, edge_index, edge_weight, batch -> x"), (global_mean_pool, "x, batch -> x")])
    else:
        kind = dict(v2=True, heads=4) if architecture == "GAT" else {}
        gnn = (GAT if architecture == "GAT" else GINE)(dataset.num_node_features, edge_dim=dataset.num_edge_features, **options, **kind)
        model = Sequential("x, edge_index, edge_weight, edge_attr, batch",
                           [(gnn, "x, edge_index, edge_weight, edge_attr, batch -> x"), (global_mean_pool, "x, batch -> x")])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003, weight_decay=1e-4)
    criterion = torch.nn.BCEWithLogitsLoss()
    val_loader = DataLoader(dataset[num_train:num_train + num_val], batch_size=num_val, shuffle=False)
    best_val, state = 0.0, model.state_dict()
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        for data in train_loader:
            out = model(data.x, data.edge_index, edge_weight=None, edge_attr=data.edge_attr, batch=data.batch)
            criterion(out.flatten(), data.y.float()).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for data in val_loader:
                hits = (model(data.x, data.edge_index, edge_weight=None, edge_attr=data.edge_attr, batch=data.batch) > 0).flatten().long() == data.y
            val = float(hits.float().mean())
        if val > best_val:
            best_val, state = val, model.state_dict()
    model.load_state_dict(state)
    return model.eval(), list(dataset[num_train + num_val:])


def parameters(model):
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("architecture", ["GCN", "GAT", "GIN"])
def test_paper_node_recipe_gives_the_references_weights(root, architecture):
    config = GridConfig(datasets=("Cornell",), architectures=(architecture,), depths=(2,), recipe="paper", node_epochs=7, cache_dir="")
    model, metrics = trained_model(load_dataset("Cornell", root, planetoid_split="geom-gcn"), architecture, 2, config)
    reference = reference_node_training(root, architecture, 2, epochs=7, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(parameters(model), parameters(reference)))
    edgeattr_config = GridConfig(datasets=("Cornell",), architectures=(architecture,), depths=(2,), recipe="edgeattr", node_epochs=7, cache_dir="")
    ours, _ = trained_model(load_dataset("Cornell", root), architecture, 2, edgeattr_config)
    assert not all(torch.equal(a, b) for a, b in zip(parameters(ours), parameters(reference)))
    assert set(metrics) == {"train_accuracy", "val_accuracy", "test_accuracy"}


@pytest.mark.parametrize("architecture", ["GCN", "GAT", "GIN"])
def test_paper_graph_recipe_gives_the_references_weights(root, architecture):
    config = GridConfig(datasets=("MUTAG",), architectures=(architecture,), depths=(2,), recipe="paper", graph_epochs=3, seed=4, cache_dir="")
    data = load_dataset("MUTAG", root, seed=4)
    model, metrics = trained_model(data, architecture, 2, config)
    reference, reference_test = reference_graph_training(root, architecture, 2, epochs=3, seed=4)
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(data.test, reference_test))
    assert all(torch.equal(a, b) for a, b in zip(parameters(model), parameters(reference)))
    assert metrics["test_auroc"] == pytest.approx(balanced_accuracy(model, data.test))


def test_balanced_accuracy_is_the_area_under_the_roc_of_hard_predictions():
    class Fixed(torch.nn.Module):
        def forward(self, x, edge_index, edge_attr=None, batch=None):
            return x[:, :1].view(-1, 1)

    labels = [1, 1, 1, 0, 0, 1, 0, 1]
    logits = [2.0, -1.0, 3.0, -2.0, 0.5, 1.0, -0.5, -3.0]
    graphs = [Data(x=torch.tensor([[z]]), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([y])) for z, y in zip(logits, labels)]
    # hard predictions 1,0,1,0,1,1,0,0: TPR = 3/5, FPR = 1/3. The ROC curve of a 0/1 score runs
    # (0, 0) -> (FPR, TPR) -> (1, 1); its area is the two trapezoids under it.
    fpr, tpr = 1 / 3, 3 / 5
    area = fpr * tpr / 2 + (1 - fpr) * (tpr + 1) / 2
    assert balanced_accuracy(Fixed(), graphs) == pytest.approx(area)
    assert area == pytest.approx((tpr + 1 - fpr) / 2)


def test_recipes_are_checked_and_set_the_epochs():
    paper = GridConfig(datasets=(), architectures=(), depths=())
    assert (paper.recipe, paper.epochs("node"), paper.epochs("graph")) == ("paper", 1000, 2000)
    assert GridConfig(datasets=(), architectures=(), depths=(), recipe="edgeattr", graph_epochs=5).epochs("graph") == 5
    with pytest.raises(ValueError, match="unknown recipe 'fast'"):
        GridConfig(datasets=(), architectures=(), depths=(), recipe="fast")
    with pytest.raises(ValueError, match="unknown Planetoid split 'random'"):
        load_dataset("Cora", "unused", planetoid_split="random")

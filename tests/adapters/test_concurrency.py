"""Explanations in several threads at once give the results of sequential runs."""

import threading

import torch
from torch_geometric.nn import GCNConv, GraphSAGE

from edgeattr import BestWalk, EdgeGradient, EdgeOcclusion, PyGAdapter
from tests.support.threads import run_concurrently
from tests.support.zoo import model_of, random_graph


def explain(model, x, edge_index, node):
    adapter = PyGAdapter(model, x, edge_index, index=node, layerwise=True)
    return EdgeGradient(adapter).attribute(adapter.ones()), EdgeOcclusion(adapter).attribute(adapter.ones())


def test_threads_explaining_different_models_match_sequential_runs():
    x, edge_index, _ = random_graph()
    models = [model_of(name) for name in ("GCNConv", "GATConv", "SAGEConv-mean", "GINConv")]
    jobs = [lambda m=m, node=node: explain(m, x, edge_index, node) for m, node in zip(models, (10, 3, 7, 10))]
    sequential = [job() for job in jobs]
    for got, expected in zip(run_concurrently(jobs), sequential):
        for repeat in got:
            for a, b in zip(repeat, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert all(not m._forward_hooks and not m.conv1._message_forward_hooks for m in models)


def test_threads_explaining_the_same_model_in_training_mode_match_sequential_runs():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    model = model_of("GCNConv")
    model.conv1.cached = True  # a graph cache no thread may use or restore while another runs
    model.conv1(x, edge_index)
    model.conv1.dropout = torch.nn.Dropout(0.5)
    model.train()
    jobs = [lambda node=node: explain(model, x, edge_index, node) for node in (10, 3, 7, 5)]
    sequential = [job() for job in jobs]
    for got, expected in zip(run_concurrently(jobs), sequential):
        for repeat in got:
            for a, b in zip(repeat, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert model.training and model.conv1.training and model.conv1.cached is True
    assert model.conv1._cached_edge_index is not None


class Sharing(torch.nn.Module):
    """Two-layer model whose first layer is a module shared with another model."""

    def __init__(self, shared, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1, self.conv2 = shared, GCNConv(6, 3).double()

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def test_two_models_sharing_a_layer_explained_in_two_threads_match_sequential_runs():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    shared = GCNConv(5, 6).double()
    models = [Sharing(shared, 1).train(), Sharing(shared, 2).train()]
    jobs = [lambda m=m, node=node: explain(m, x, edge_index, node) for m, node in zip(models, (10, 3))]
    sequential = [job() for job in jobs]
    for _ in range(3):
        for got, expected in zip(run_concurrently(jobs), sequential):
            for repeat in got:
                for a, b in zip(repeat, expected):
                    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert shared.training and all(m.training for m in models)
    assert not shared._forward_hooks and not shared._forward_pre_hooks and not shared._message_forward_hooks


class Paused(torch.nn.Module):
    """Runs ``pause()`` at the start of every forward in one thread: another explanation runs meanwhile."""

    def __init__(self, model):
        super().__init__()
        self.model, self.thread, self.pause = model, None, None

    def forward(self, x, edge_index):
        if threading.current_thread() is self.thread:
            self.pause()
        return self.model(x, edge_index)


def test_an_edge_gradient_in_another_thread_during_the_walk_search_sees_none_of_its_hooks():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    model = Paused(GraphSAGE(5, 6, num_layers=2, out_channels=3, aggr="sum").double().eval())
    layerwise = PyGAdapter(model, x, edge_index, index=10, layerwise=True)
    expected_walk = BestWalk(layerwise).walk(layerwise.ones())
    expected_gradient = EdgeGradient(layerwise).attribute(layerwise.ones())
    gradients, errors = [], []

    def gradient():
        try:
            gradients.append(EdgeGradient(layerwise).attribute(layerwise.ones()))
        except Exception as error:  # reported below
            errors.append(error)

    def run_beside():
        other = threading.Thread(target=gradient)
        other.start()
        other.join()

    model.thread, model.pause = threading.current_thread(), run_beside
    try:
        found = BestWalk(layerwise).walk(layerwise.ones())
    finally:
        model.thread = None
    assert not errors, errors
    assert torch.equal(found.nodes, expected_walk.nodes) and torch.equal(found.edges, expected_walk.edges)
    assert gradients and all(torch.equal(g, expected_gradient) for g in gradients)

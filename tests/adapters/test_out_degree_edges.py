"""Computation subgraphs leave out the edges that set only out-degrees exactly when the model does not read them."""

import torch
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import degree

from edgeattr import EdgeGradient, PyGAdapter
from tests.adapters.test_many_targets import brute_force_subgraph
from tests.support.zoo import FEATURES, HIDDEN, model_of, random_graph, reference_gradient

TARGETS = torch.tensor([0, 5, 11])


class SourceDegreeConv(MessagePassing):
    """Messages scaled by the source's out-degree to the power -1/2, as DGL's GraphConv(norm='both') scales them."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(aggr="add")
        self.lin = torch.nn.Linear(in_channels, out_channels)

    def forward(self, x, edge_index):
        scale = degree(edge_index[0], x.size(0), dtype=x.dtype).clamp(min=1).pow(-0.5).view(-1, 1)
        return self.propagate(edge_index, x=self.lin(x), scale=scale)

    def message(self, x_j, scale_j):
        return scale_j * x_j


class SourceDegreeNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = SourceDegreeConv(FEATURES, HIDDEN), SourceDegreeConv(HIDDEN, 3)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def source_degree_net():
    torch.manual_seed(0)
    return SourceDegreeNet().double().eval()


def assert_subgraphs_and_gradients(model, x, edge_index, targets, out_edges):
    adapter = PyGAdapter(model, x, edge_index, index=targets)
    for t, target in enumerate(targets.tolist()):
        edges, _ = brute_force_subgraph(edge_index[0], edge_index[1], target, 2, out_edges)
        assert adapter.edge_ids[adapter.edge_segment == t].tolist() == edges
    grads = EdgeGradient(adapter).attribute(adapter.ones())
    out = model(x, edge_index)
    for t, target in enumerate(targets.tolist()):
        row = torch.tensor([target])
        expected = reference_gradient(model, (x, edge_index), {}, edge_index, row, int(out[target].argmax()))
        assert expected.abs().sum() > 0
        torch.testing.assert_close(grads[t], expected, rtol=1e-9, atol=1e-12)


def test_an_in_degree_model_runs_without_the_edges_that_set_only_out_degrees():
    x, edge_index, _ = random_graph(num_nodes=20, num_edges=30, seed=3)
    with_out = {e for t in TARGETS.tolist() for e in brute_force_subgraph(edge_index[0], edge_index[1], t, 2, True)[0]}
    without = {e for t in TARGETS.tolist() for e in brute_force_subgraph(edge_index[0], edge_index[1], t, 2, False)[0]}
    assert with_out - without, "the graph must have edges that set only out-degrees"
    assert_subgraphs_and_gradients(model_of("GCN"), x, edge_index, TARGETS, out_edges=False)


def test_a_model_that_reads_out_degrees_keeps_them_and_stays_exact():
    x, edge_index, _ = random_graph(num_nodes=20, num_edges=30, seed=3)
    assert_subgraphs_and_gradients(source_degree_net(), x, edge_index, TARGETS, out_edges=True)


def test_targets_without_such_edges_leave_the_decision_to_later_targets():
    # Nodes 0-2 form a directed triangle apart from the rest: within two hops of node 0, no edge leads outside.
    x, rest, _ = random_graph(num_nodes=20, num_edges=40, seed=3)
    rest = rest[:, (rest >= 3).all(0)]
    edge_index = torch.cat([torch.tensor([[0, 1, 2], [1, 2, 0]]), rest], 1)
    inner = brute_force_subgraph(edge_index[0], edge_index[1], 0, 2, True)[0]
    assert inner == brute_force_subgraph(edge_index[0], edge_index[1], 0, 2, False)[0]
    others = torch.tensor([5, 11])
    for model, out_edges in ((source_degree_net(), True), (model_of("GCN"), False)):
        PyGAdapter(model, x, edge_index, index=0)
        assert_subgraphs_and_gradients(model, x, edge_index, others, out_edges)

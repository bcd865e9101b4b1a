"""sign_flips(protocol='paper') against a brute-force transcription of the paper's reference code.

The reference (``track_grads/tracking_gradients.py`` and ``tracking_gradients_graph.py``) takes each edge's
gradient at a mask of ones, then for every swept edge and parameter w in ``arange(0, 1, 0.05)`` runs the
model through PyG's ``set_masks(model, p, edge_index)`` (``apply_sigmoid=True``, every other parameter 1),
differentiates with autograd with respect to p, and flags every edge whose gradient sign differs.
"""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import GCNConv, global_mean_pool

from edgeattr import PyGAdapter, sign_flips
from edgeattr.metrics import PROTOCOLS
from tests.support.paper_sign_flips import reference_statistic as paper_reference

NODES, EDGES, FEATURES = 30, 90, 6


class GCN(torch.nn.Module):
    """The GCN of PyG's examples (examples/gcn.py), with a third layer."""

    def __init__(self, in_channels, hidden_channels, out_channels):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels)
        self.conv2 = GCNConv(hidden_channels, hidden_channels)
        self.conv3 = GCNConv(hidden_channels, out_channels)

    def forward(self, x, edge_index, edge_weight=None):
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index, edge_weight).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv2(x, edge_index, edge_weight).relu()
        return self.conv3(x, edge_index, edge_weight)


class GraphGCN(torch.nn.Module):
    """A graph classifier with one logit: GCN layers, then PyG's global_mean_pool."""

    def __init__(self, in_channels, hidden_channels):
        super().__init__()
        self.gnn = GCN(in_channels, hidden_channels, hidden_channels)
        self.head = torch.nn.Linear(hidden_channels, 1)

    def forward(self, x, edge_index, batch=None):
        return self.head(global_mean_pool(self.gnn(x, edge_index), batch))


def seeded_graph():
    g = torch.Generator().manual_seed(3)
    src, dst = torch.randint(0, NODES, (2, EDGES), generator=g)
    dst = torch.where(src == dst, (dst + 1) % NODES, dst)
    return torch.randn(NODES, FEATURES, generator=g, dtype=torch.float64), torch.stack([src, dst])


def model_of(cls, *channels):
    torch.manual_seed(0)
    return cls(FEATURES, *channels).double().eval()


def pyg_gradient(model, x, edge_index, explained):
    """d explained(output) / d p through PyG's own set_masks(model, p, edge_index, apply_sigmoid) and autograd."""

    def gradient(parameters, apply_sigmoid):
        parameters = parameters.clone().requires_grad_(True)
        set_masks(model, parameters, edge_index, apply_sigmoid=apply_sigmoid)
        try:
            (grad,) = torch.autograd.grad(explained(model(x, edge_index)), parameters)
        finally:
            clear_masks(model)
        return grad

    return gradient


def reference_statistic(model, x, edge_index, explained, swept_edges, reversals_only=False):
    return paper_reference(pyg_gradient(model, x, edge_index, explained), edge_index.size(1), swept_edges, reversals_only)


def node_output(model, x, edge_index, node):
    predicted = model(x, edge_index)[node].argmax()
    return lambda out: out[node, predicted]


@pytest.mark.parametrize("node", [4, 11])
def test_paper_protocol_equals_the_reference_loop_on_a_sample_that_reaches_past_the_computation_graph(node):
    x, edge_index = seeded_graph()
    model = model_of(GCN, 8, 3)
    swept = torch.randperm(EDGES, generator=torch.Generator().manual_seed(node))[:12]
    adapter = PyGAdapter(model, x, edge_index, index=node)
    outside = ~torch.isin(swept, adapter.edge_ids[adapter.message_edges])
    assert outside.any() and not outside.all()  # the sample holds edges the target does not see, and some it does
    got = sign_flips(adapter, adapter.ones(), edges=swept, protocol="paper")
    flags, rate, at_ones = reference_statistic(model, x, edge_index, node_output(model, x, edge_index, node), swept)
    assert not flags[~torch.isin(torch.arange(EDGES), got.entries)].any()  # unseen edges are never flagged
    assert torch.equal(got.flips.bool(), flags[got.entries])
    assert got.flips.any() and not got.flips.all()
    assert got.rate == pytest.approx(rate, abs=1e-12)
    torch.testing.assert_close(got.gradients, at_ones[got.entries], rtol=1e-10, atol=1e-13)


def test_paper_protocol_sweeps_every_edge_by_default():
    x, edge_index = seeded_graph()
    model = model_of(GCN, 8, 3)
    adapter = PyGAdapter(model, x, edge_index, index=7)
    got = sign_flips(adapter, adapter.ones(), protocol="paper")
    flags, rate, _ = reference_statistic(model, x, edge_index, node_output(model, x, edge_index, 7), range(EDGES))
    assert torch.equal(got.flips.bool(), flags[got.entries]) and not flags[~torch.isin(torch.arange(EDGES), got.entries)].any()
    assert got.rate == pytest.approx(rate, abs=1e-12) and got.rate > 0


def test_paper_protocol_on_a_graph_target_flags_reversals_only_as_the_reference_does():
    x, edge_index = seeded_graph()
    model = model_of(GraphGCN, 8)
    adapter = PyGAdapter(model, x, edge_index, task="graph", index=0, mode="binary_classification")
    swept = torch.arange(0, EDGES, 3)
    got = sign_flips(adapter, adapter.ones(), edges=swept, protocol="paper")
    sign = model(x, edge_index).sign().squeeze()  # the reference multiplies by the prediction's sign

    def explained(out):
        return out.squeeze() * sign

    flags, rate, _ = reference_statistic(model, x, edge_index, explained, swept, reversals_only=True)
    assert torch.equal(got.flips.bool(), flags[got.entries]) and got.rate == pytest.approx(rate, abs=1e-12)
    assert got.flips.any()


def test_an_unknown_protocol_names_the_choices():
    x, edge_index = seeded_graph()
    adapter = PyGAdapter(model_of(GCN, 8, 3), x, edge_index, index=4)
    with pytest.raises(ValueError, match="protocol must be one of 'edgeattr', 'paper', got 'Paper'"):
        sign_flips(adapter, adapter.ones(), protocol="Paper")
    assert PROTOCOLS == ("edgeattr", "paper")
    with pytest.raises(ValueError, match=r"input-level mask"):
        sign_flips(lambda m: m.sum(-1), torch.ones(1, 2, 4), protocol="paper")

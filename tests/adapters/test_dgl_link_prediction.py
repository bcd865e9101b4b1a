"""Link prediction (task='edge') on DGL models written as DGL's link-prediction examples write them:
a GNN over the message graph and a predictor over a pair graph, on the full graph and on sampled blocks."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import dgl.function as fn  # noqa: E402
import torch  # noqa: E402
from dgl.nn import SAGEConv  # noqa: E402

from edgeattr import DGLAdapter, DGLBlockAdapter, EdgeGradient, EdgeOcclusion, GradientSign, LayerwiseOcclusion, explain  # noqa: E402
from tests.support.zoo import FEATURES, assert_same_state, state_of  # noqa: E402

HIDDEN = 6


class DotPredictor(torch.nn.Module):
    """DGL's link-prediction tutorial predictor: the dot product of both ends' embeddings, per pair-graph edge."""

    def forward(self, pair_graph, h):
        with pair_graph.local_scope():
            pair_graph.ndata["h"] = h
            pair_graph.apply_edges(fn.u_dot_v("h", "h", "score"))
            return pair_graph.edata["score"][:, 0]


class FullGraphLinkModel(torch.nn.Module):
    """GraphSAGE over the whole graph and an MLP predictor over the pair graph."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv(FEATURES, HIDDEN, "mean"), SAGEConv(HIDDEN, HIDDEN, "mean")
        self.predictor = torch.nn.Sequential(torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))

    def forward(self, g, pair_graph, feat, edge_weights=(None, None)):
        h = self.conv2(g, self.conv1(g, feat, edge_weight=edge_weights[0]).relu(), edge_weight=edge_weights[1])
        with pair_graph.local_scope():
            pair_graph.ndata["h"] = h
            pair_graph.apply_edges(fn.u_mul_v("h", "h", "product"))
            return self.predictor(pair_graph.edata["product"]).view(-1)


class BlockLinkModel(torch.nn.Module):
    """DGL's mini-batch link prediction: GraphSAGE over sampled blocks, a dot product over the compacted pair graph."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv(FEATURES, HIDDEN, "mean"), SAGEConv(HIDDEN, HIDDEN, "mean")
        self.predictor = DotPredictor()

    def forward(self, blocks, feat, pair_graph, edge_weights=(None, None)):
        h = self.conv1(blocks[0], feat, edge_weight=edge_weights[0]).relu()
        return self.predictor(pair_graph, self.conv2(blocks[1], h, edge_weight=edge_weights[1]))


def _graph(seed=2, num_nodes=30, num_edges=80):
    gen = torch.Generator().manual_seed(seed)
    src, dst = torch.randint(0, num_nodes, (num_edges,), generator=gen), torch.randint(0, num_nodes, (num_edges,), generator=gen)
    g = dgl.graph((src, dst), num_nodes=num_nodes)
    return g, torch.randn(num_nodes, FEATURES, generator=gen, dtype=torch.float64)


def _model(cls):
    torch.manual_seed(0)
    return cls().double().eval()


@pytest.fixture(scope="module")
def full():
    g, feat = _graph()
    src, dst = g.edges()
    # A training edge of g, two pairs that are no edges, a reversed edge.
    u, v = torch.tensor([int(src[4]), 1, 7, int(dst[11])]), torch.tensor([int(dst[4]), 26, 13, int(src[11])])
    return g, dgl.graph((u, v), num_nodes=g.num_nodes()), feat


def _adapter(model, full, index, **options):
    """The full-graph link model's adapter, pairs scored as regression values."""
    g, pair_graph, feat = full
    return DGLAdapter(model, g, pair_graph, feat, index=index, task="edge", mode="regression", **options)


def _layer_gradients(model, g, pair_graph, feat, p):
    weights = [torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True) for _ in range(2)]
    return torch.stack(torch.autograd.grad(model(g, pair_graph, feat, weights)[p], weights))


def test_full_graph_methods_equal_dgls_own_edge_weights(full):
    g, pair_graph, feat = full
    model = _model(FullGraphLinkModel)
    pairs = torch.arange(pair_graph.num_edges())
    fwd, layerwise = _adapter(model, full, pairs), _adapter(model, full, pairs, layerwise=True)
    references = torch.stack([_layer_gradients(model, g, pair_graph, feat, p) for p in pairs.tolist()])
    assert references.abs().max() > 1e-4
    torch.testing.assert_close(EdgeGradient(fwd).attribute(fwd.ones()), references.sum(1), rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(EdgeGradient(layerwise).attribute(layerwise.ones()), references, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(GradientSign(fwd).attribute(fwd.ones()), (references.sum(1) > 0).double(), rtol=0, atol=0)
    own, occluded, removed = model(g, pair_graph, feat), EdgeOcclusion(fwd).attribute(fwd.ones()), EdgeOcclusion(fwd).attribute(fwd.ones(), mode="remove")
    per_layer = LayerwiseOcclusion(layerwise).attribute(layerwise.ones())
    for e in range(0, g.num_edges(), 5):
        zero = torch.ones(g.num_edges(), dtype=torch.float64)
        zero[e] = 0
        with torch.no_grad():
            torch.testing.assert_close(occluded[:, e], own - model(g, pair_graph, feat, (zero, zero)), rtol=1e-9, atol=1e-11)
            torch.testing.assert_close(removed[:, e], own - model(dgl.remove_edges(g, e), pair_graph, feat), rtol=1e-9, atol=1e-11)
            torch.testing.assert_close(per_layer[:, 0, e], own - model(g, pair_graph, feat, (zero, None)), rtol=1e-9, atol=1e-11)


def test_full_graph_restricted_equals_whole_and_batched_equals_one_at_a_time(full):
    pair_graph = full[1]
    model = _model(FullGraphLinkModel)
    pairs = torch.arange(pair_graph.num_edges())
    batched, whole = _adapter(model, full, pairs), _adapter(model, full, pairs, restrict=False)
    assert batched.edge_ids.numel() < whole.edge_ids.numel()
    for method in (EdgeGradient, EdgeOcclusion):
        together = method(batched).attribute(batched.ones())
        torch.testing.assert_close(together, method(whole).attribute(whole.ones()), rtol=1e-9, atol=1e-11)
        for p in pairs.tolist():
            alone = _adapter(model, full, p)
            torch.testing.assert_close(together[p : p + 1], method(alone).attribute(alone.ones()), rtol=1e-9, atol=1e-11)


def test_explain_and_model_state_on_a_pair_graph(full):
    g, pair_graph, feat = full
    model = _model(FullGraphLinkModel)
    before = state_of(model)
    explanation = explain(model, g, pair_graph, feat, index=0, task="edge", method="edge_gradient", mode="regression")
    assert explanation.task == "edge"
    torch.testing.assert_close(explanation.edge_mask, _layer_gradients(model, g, pair_graph, feat, 0).sum(0), rtol=1e-9, atol=1e-11)
    assert explanation.edge_mask[4] != 0  # the scored edge itself, a training edge, is attributed like any other
    with pytest.raises(ValueError, match="beside the pair graph"):
        DGLAdapter(model, g, pair_graph, feat, neg=pair_graph, pairs_arg=1, index=0, task="edge", mode="regression")
    assert_same_state(before, state_of(model))


def test_blocks_of_an_edge_prediction_sampler_equal_dgls_own_edge_weights():
    g, feat = _graph(seed=5, num_nodes=40, num_edges=120)
    sampler = dgl.dataloading.as_edge_prediction_sampler(dgl.dataloading.MultiLayerFullNeighborSampler(2))
    input_nodes, pair_graph, blocks = sampler.sample(g, torch.tensor([3, 17, 50]))
    model = _model(BlockLinkModel)
    x = feat[input_nodes]
    pairs = torch.arange(pair_graph.num_edges())
    fwd = DGLBlockAdapter(model, blocks, x, pair_graph, index=pairs, task="edge", parent_graph=g, mode="regression")
    gradient = EdgeGradient(fwd).attribute(fwd.ones())
    for p in pairs.tolist():
        weights = [torch.ones(block.num_edges(), dtype=torch.float64, requires_grad=True) for block in blocks]
        grads = torch.autograd.grad(model(blocks, x, pair_graph, weights)[p], weights)
        reference = torch.zeros(g.num_edges(), dtype=torch.float64)
        for block, grad in zip(blocks, grads):
            reference.index_add_(0, block.edata[dgl.EID], grad)
        assert reference.abs().max() > 1e-4
        torch.testing.assert_close(gradient[p], reference, rtol=1e-9, atol=1e-11)
    with pytest.raises(IndexError, match="out of range for a pair graph of 3 edges"):
        DGLBlockAdapter(model, blocks, x, pair_graph, index=3, task="edge", parent_graph=g, mode="regression")

"""Node-feature attributions through DGL: a GraphConv model's feature gradients are autograd's of the model itself."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from captum.attr import IntegratedGradients  # noqa: E402

from edgeattr import DGLAdapter, DGLBlockAdapter, DGLHeteroAdapter, EdgeGradient  # noqa: E402
from tests.support.dgl_zoo import BlockSAGE, hetero_case, sampled  # noqa: E402
from tests.support.zoo import random_graph  # noqa: E402
from tests.zoo.dgl_models import GCN  # noqa: E402

TARGETS = torch.tensor([2, 9, 17])
CLASSES = [1, 0, 2]


def case():
    """DGL's GCN example (two GraphConv, self-loops added to the graph as the example adds them), seeded, float64."""
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=80, seed=2)
    g = dgl.add_self_loop(dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0)))
    torch.manual_seed(0)
    return g, x, GCN(5, 8, 3).double().eval()


def reference(model, g, x, node, target):
    leaf = x.clone().requires_grad_(True)
    return torch.autograd.grad(model(g, leaf)[node, target], leaf)[0]


@pytest.mark.parametrize("restrict", [True, False])
def test_graphconv_feature_gradients_of_several_targets_are_autograds_of_the_model(restrict):
    g, x, model = case()
    adapter = DGLAdapter(model, g, x, index=TARGETS, features=True, restrict=restrict)
    mask, features = adapter.inputs()
    assert mask.shape == (3, g.num_edges()) and features.shape == (3,) + tuple(x.shape)
    edge_grad, feature_grad = EdgeGradient(adapter).attribute((mask, features), target=CLASSES)
    for t, (node, target) in enumerate(zip(TARGETS.tolist(), CLASSES)):
        expected = reference(model, g, x, node, target)
        torch.testing.assert_close(feature_grad[t], expected, rtol=0, atol=1e-12)
        inside = torch.zeros(x.size(0), dtype=torch.bool)
        inside[dgl.khop_in_subgraph(g, node, 2)[0].ndata[dgl.NID]] = True
        assert (feature_grad[t][~inside] == 0).all() and (~inside).any()
    torch.testing.assert_close(edge_grad, EdgeGradient(adapter).attribute(mask, target=CLASSES), rtol=0, atol=0)


def test_rows_of_dgl_features_feed_their_own_pass():
    g, x, model = case()
    adapter = DGLAdapter(model, g, x, index=TARGETS, features=True)
    features = x + 0.3 * torch.randn((6,) + tuple(x.shape), generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    _, feature_grad = EdgeGradient(adapter).attribute((adapter.ones().repeat(2, 1), features), target=CLASSES * 2)
    for b in range(6):
        expected = reference(model, g, features[b], int(TARGETS[b % 3]), CLASSES[b % 3])
        torch.testing.assert_close(feature_grad[b], expected, rtol=0, atol=1e-12)


def test_integrated_gradients_through_dgl_are_complete():
    g, x, model = case()
    adapter = DGLAdapter(model, g, x, index=int(TARGETS[0]), features=True)
    inputs = adapter.inputs()
    baselines = tuple(torch.zeros_like(value) for value in inputs)
    (mask_ig, feature_ig), delta = IntegratedGradients(adapter).attribute(
        inputs, baselines=baselines, target=CLASSES[0], n_steps=300, return_convergence_delta=True
    )
    with torch.no_grad():
        gap = adapter(*inputs)[0, CLASSES[0]] - adapter(*baselines)[0, CLASSES[0]]
    torch.testing.assert_close(mask_ig.sum() + feature_ig.sum(), gap, rtol=0, atol=1e-3)
    assert delta.abs().max() < 1e-3


class ReadsNodeData(torch.nn.Module):
    """DGL's GCN reading its features from g.ndata['feat'], called model(g) with no feature argument."""

    def __init__(self):
        super().__init__()
        self.gcn = GCN(5, 8, 3)

    def forward(self, g):
        return self.gcn(g, g.ndata["feat"])


def test_features_only_in_the_graphs_node_data_are_refused_naming_the_fix():
    g, x, _ = case()
    g.ndata["feat"] = x
    with pytest.raises(ValueError, match="pass the features as an argument of the model call"):
        DGLAdapter(ReadsNodeData().double().eval(), g, index=2, features=True)


def test_dgl_heterograph_and_block_adapters_refuse_features_naming_the_alternative():
    hg, feats, model = hetero_case()
    with pytest.raises(ValueError, match="DGLHeteroAdapter attributes edges only, not node features.*HeteroGNNExplainer"):
        DGLHeteroAdapter(model, hg, feats, index=0, ntype="user", features=True)
    g, x, _ = case()
    input_nodes, blocks = sampled(g, torch.tensor([4]))
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="DGLBlockAdapter attributes edges only, not node features.*Captum on the model itself"):
        DGLBlockAdapter(BlockSAGE().double().eval(), blocks, x[input_nodes], index=4, parent_graph=g, features=True)

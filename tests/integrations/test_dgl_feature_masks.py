"""DGLExplainer(features=True) returns DGL's feature mask, and explain() on DGL graphs the node attributions, against autograd."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402

from edgeattr import DGLAdapter, GNNExplainer, explain  # noqa: E402
from edgeattr.integrations.dgl import DGLExplainer  # noqa: E402
from tests.support.dgl_zoo import hetero_case  # noqa: E402
from tests.support.zoo import assert_same_state, random_graph, state_of  # noqa: E402
from tests.zoo.dgl_models import GCN  # noqa: E402

NODE = 9


def case():
    """DGL's GCN example on a graph with self-loops (as the example adds them), seeded, float64."""
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=80, seed=2)
    g = dgl.add_self_loop(dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0)))
    torch.manual_seed(0)
    return g, x, GCN(5, 8, 3).double().eval()


class Pooled(torch.nn.Module):
    """DGL's GCN example averaged over the graph's nodes: one row of logits per graph."""

    def __init__(self):
        super().__init__()
        self.gcn, self.pool = GCN(5, 8, 3), dgl.nn.AvgPooling()

    def forward(self, g, features):
        return self.pool(g, self.gcn(g, features))


def feature_gradient(model, g, x, row, target):
    leaf = x.clone().requires_grad_(True)
    return torch.autograd.grad(model(g, leaf)[row, target], leaf)[0]


def test_explain_node_returns_dgls_feature_mask_before_the_edge_mask():
    g, x, model = case()
    model.train()
    before = state_of(model)
    new_center, sg, feat_mask, edge_mask = DGLExplainer(model, num_hops=2, method="edge_gradient", features=True).explain_node(NODE, g, x)
    assert_same_state(before, state_of(model))
    model.eval()
    target = int(model(g, x)[NODE].argmax())
    torch.testing.assert_close(feat_mask, feature_gradient(model, g, x, NODE, target).sum(0), rtol=0, atol=1e-12)
    assert feat_mask.shape == (x.size(1),)
    center, subgraph, alone = DGLExplainer(model, num_hops=2, method="edge_gradient").explain_node(NODE, g, x)
    torch.testing.assert_close(edge_mask, alone, rtol=0, atol=0)
    assert torch.equal(new_center, center) and sg.num_edges() == subgraph.num_edges()


def test_explain_graph_returns_the_feature_mask_and_the_edge_mask():
    g, x, _ = case()
    torch.manual_seed(0)
    model = Pooled().double().eval()
    feat_mask, edge_mask = DGLExplainer(model, method="layerwise_gradient", features=True).explain_graph(g, x)
    target = int(model(g, x)[0].argmax())
    torch.testing.assert_close(feat_mask, feature_gradient(model, g, x, 0, target).sum(0), rtol=0, atol=1e-12)
    assert edge_mask.shape == (g.num_edges(),)


def test_gnnexplainers_feature_mask_is_one_value_per_feature_as_dgls():
    g, x, model = case()
    torch.manual_seed(3)
    _, _, feat_mask, edge_mask = DGLExplainer(model, method="gnnexplainer", options={"epochs": 10}, features=True).explain_node(NODE, g, x)
    adapter = DGLAdapter(model, g, x, index=NODE, features=True)
    torch.manual_seed(3)
    edges, nodes = GNNExplainer(adapter, epochs=10, node_mask_type="common_attributes").attribute(adapter.inputs())
    assert feat_mask.shape == (x.size(1),) and 0 <= feat_mask.min() and feat_mask.max() <= 1
    torch.testing.assert_close(feat_mask, nodes[0, 0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="one value per feature, as DGL's"):
        DGLExplainer(model, method="gnnexplainer", options={"node_mask_type": "attributes"}, features=True)


def test_explain_on_a_dgl_graph_gives_the_node_attributions():
    g, x, model = case()
    explanation = explain(model, g, x, index=NODE, method="edge_gradient", features=True)
    expected = feature_gradient(model, g, x, NODE, explanation.target)
    torch.testing.assert_close(explanation.feature_mask, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(explanation.node_mask, expected.sum(1), rtol=0, atol=1e-12)


def test_features_are_refused_where_dgls_explainer_cannot_give_them():
    g, x, model = case()
    with pytest.raises(ValueError, match="method 'edge_occlusion' attributes edges only"):
        DGLExplainer(model, method="edge_occlusion", features=True)
    hg, feats, hetero_model = hetero_case()
    with pytest.raises(ValueError, match="DGLHeteroAdapter attributes edges only, not node features.*HeteroGNNExplainer"):
        DGLExplainer(hetero_model, method="edge_gradient", features=True).explain_node(0, hg, feats, ntype="user")

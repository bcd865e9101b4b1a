"""DGL's own GNNExplainer on an unmodified model through EdgeWeightShim, against GradientSign."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import dgl.function as fn  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GNNExplainer as DGLGNNExplainer  # noqa: E402

from edgeattr import DGLAdapter, EdgeWeightShim, GradientSign, cosine_similarity  # noqa: E402
from edgeattr.experiments.synthetic import negative_evidence_graph  # noqa: E402
from edgeattr.experiments.training import train_node_classifier  # noqa: E402

ORIGINAL = dgl.core.message_passing


class SumSAGE(torch.nn.Module):
    """z_i = W sum_j x_j, two logits: no eweight argument anywhere."""

    def __init__(self, in_feats, classes=2):
        super().__init__()
        self.lin = torch.nn.Linear(in_feats, classes, bias=False)

    def forward(self, graph, feat):
        with graph.local_scope():
            graph.ndata["h"] = feat
            graph.update_all(fn.copy_u("h", "m"), fn.sum("m", "h"))
            return self.lin(graph.ndata["h"])


class AsEdgeIndexModel(torch.nn.Module):
    """Lets the shared trainer, which calls model(x, edge_index), train the DGL model."""

    def __init__(self, model, graph):
        super().__init__()
        self.model, self.graph = model, graph

    def forward(self, x, edge_index):
        return self.model(self.graph, x)


@pytest.fixture(scope="module")
def trained():
    data = negative_evidence_graph(seed=0)
    g = dgl.graph((data.edge_index[0], data.edge_index[1]), num_nodes=data.num_nodes)
    torch.manual_seed(0)
    model = SumSAGE(data.num_features)
    accuracy = train_node_classifier(AsEdgeIndexModel(model, g), data.x, data.edge_index, data.y, data.white_mask, epochs=300, lr=0.1, l1=0.01)
    assert accuracy == 1.0
    return data, g, model


def test_the_shim_weights_messages_like_a_native_eweight(trained):
    data, g, model = trained
    weight = torch.rand(g.num_edges(), generator=torch.Generator().manual_seed(0))
    with g.local_scope():
        g.edata["w"] = weight
        g.ndata["x"] = data.x
        g.update_all(fn.u_mul_e("x", "w", "m"), fn.sum("m", "s"))
        expected = model.lin(g.ndata["s"])
    torch.testing.assert_close(EdgeWeightShim(model)(g, data.x, eweight=weight), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(EdgeWeightShim(model)(g, data.x), model(g, data.x), rtol=0, atol=0)
    assert dgl.core.message_passing is ORIGINAL


def test_dgl_gnnexplainer_through_the_shim_agrees_with_gradient_sign(trained):
    data, g, model = trained
    explainer = DGLGNNExplainer(EdgeWeightShim(model), num_hops=1, lr=0.5, num_epochs=100, alpha1=0.001, alpha2=0.0, log=False)
    similarities = []
    for node in data.white_mask.nonzero().view(-1)[:12].tolist():
        torch.manual_seed(node)
        center, subgraph, _, edge_mask = explainer.explain_node(node, g, data.x)
        adapter = DGLAdapter(model, g, data.x, index=node)
        sign = GradientSign(adapter, eps=0.001).attribute(adapter.ones())[0]
        similarities.append(cosine_similarity(sign[subgraph.edata[dgl.EID]].view(1, -1), edge_mask.detach().view(1, -1)))
    mean = float(torch.cat(similarities).mean())
    print(f"mean cosine similarity of GradientSign to DGL's GNNExplainer: {mean:.4f}")
    assert mean >= 0.95
    assert dgl.core.message_passing is ORIGINAL

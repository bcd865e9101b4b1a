"""DGLExplainer's DGL-style calls and explain() on DGL models, against DGLAdapter, the classes and DGL's own GNNExplainer."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GNNExplainer as DGLGNNExplainer  # noqa: E402
from dgl.nn import GraphConv  # noqa: E402

from edgeattr import DGLAdapter, EdgeWeightShim, explain  # noqa: E402
from edgeattr.integrations.dgl import DGLExplainer  # noqa: E402
from tests.support.dgl_zoo import dgl_case, dgl_graph  # noqa: E402
from tests.support.methods import EXPECTED, by_class  # noqa: E402
from tests.support.zoo import CLASSES, FEATURES, HIDDEN, assert_same_state, state_of  # noqa: E402

NODE = 10
ORIGINAL = dgl.core.message_passing


class GraphClassifier(torch.nn.Module):
    """Two GraphConvs and a mean over each graph's nodes: one row of logits per graph."""

    def __init__(self):
        super().__init__()
        self.conv1 = GraphConv(FEATURES, HIDDEN, allow_zero_in_degree=True)
        self.conv2 = GraphConv(HIDDEN, HIDDEN, allow_zero_in_degree=True)
        self.head = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, graph, feat):
        with graph.local_scope():
            graph.ndata["h"] = self.conv2(graph, self.conv1(graph, feat).relu())
            return self.head(dgl.mean_nodes(graph, "h"))


def graph_classifier():
    torch.manual_seed(0)
    return GraphClassifier().double().eval()


def batch_of_graphs():
    graphs = [dgl_graph(seed=s, num_nodes=n, num_edges=2 * n)[:2] for s, n in ((1, 6), (2, 8), (3, 7))]
    for g, x in graphs:
        g.ndata["feat"] = x
    return dgl.batch([g for g, _ in graphs])


@pytest.mark.parametrize("method", list(EXPECTED))
def test_explain_node_is_the_adapters_attribution_on_dgls_khop_subgraph(method):
    g, x, model = dgl_case("GraphConv")
    cls, layerwise, options = EXPECTED[method]
    torch.manual_seed(0)
    explainer = DGLExplainer(model, num_hops=2, method=method, options=options)
    if options.get("mode") == "remove":  # deleting an edge out of an in-neighbour changes its out-degree
        with pytest.warns(UserWarning, match="outside the 2-hop in-subgraph of node 10 and are not returned"):
            new_center, sg, edge_mask = explainer.explain_node(NODE, g, x)
    else:
        new_center, sg, edge_mask = explainer.explain_node(NODE, g, x)
    torch.manual_seed(0)
    attribution = by_class(cls, DGLAdapter(model, g, x, index=NODE, layerwise=layerwise), options)
    if layerwise:
        attribution = attribution.sum(0)
    expected_sg, expected_center = dgl.khop_in_subgraph(g, NODE, 2)
    assert torch.equal(new_center, expected_center)
    assert torch.equal(sg.edata[dgl.EID], expected_sg.edata[dgl.EID]) and torch.equal(sg.ndata[dgl.NID], expected_sg.ndata[dgl.NID])
    assert edge_mask.shape == (sg.num_edges(),)
    torch.testing.assert_close(edge_mask, attribution[sg.edata[dgl.EID]], rtol=0, atol=0)
    assert edge_mask.abs().sum() > 0 and dgl.core.message_passing is ORIGINAL


def test_the_default_hops_are_the_models_and_cover_every_attributed_edge():
    g, x, model = dgl_case("SGConv")  # two SGConv(k=2) layers: four hops
    new_center, sg, edge_mask = DGLExplainer(model, method="edge_gradient").explain_node(NODE, g, x)
    adapter = DGLAdapter(model, g, x, index=NODE)
    assert adapter.num_layers == 4
    assert sg.num_edges() == dgl.khop_in_subgraph(g, NODE, 4)[0].num_edges()
    full = by_class(EXPECTED["edge_gradient"][0], adapter, {})
    assert float(edge_mask.abs().sum()) == pytest.approx(float(full.abs().sum()), rel=1e-12)
    with pytest.warns(UserWarning, match="edges with non-zero attribution lie outside the 1-hop in-subgraph of node 10"):
        DGLExplainer(model, 1, method="edge_gradient").explain_node(NODE, g, x)


def test_the_returns_follow_dgls_own_gnnexplainer():
    g, x, model = dgl_case("GraphConv")
    theirs = DGLGNNExplainer(EdgeWeightShim(model), num_hops=2, num_epochs=2, log=False)
    their_center, their_sg, _, their_mask = theirs.explain_node(NODE, g, feat=x)
    our_center, our_sg, our_mask = DGLExplainer(model, 2).explain_node(NODE, g, x)
    assert torch.equal(our_center, their_center) and our_center.shape == their_center.shape
    assert torch.equal(our_sg.edata[dgl.EID], their_sg.edata[dgl.EID]) and torch.equal(our_sg.ndata[dgl.NID], their_sg.ndata[dgl.NID])
    assert our_mask.shape == their_mask.shape

    graph = dgl.unbatch(batch_of_graphs())[1]
    classifier = graph_classifier()
    _, their_graph_mask = DGLGNNExplainer(EdgeWeightShim(classifier), num_hops=2, num_epochs=2, log=False).explain_graph(graph, graph.ndata["feat"])
    assert DGLExplainer(classifier).explain_graph(graph, graph.ndata["feat"]).shape == their_graph_mask.shape == (graph.num_edges(),)


@pytest.mark.parametrize("method", ["edge_gradient", "layerwise_occlusion", "gnnexplainer"])
def test_explain_graph_is_the_adapters_attribution_of_the_graph(method):
    graph = dgl.unbatch(batch_of_graphs())[2]
    model = graph_classifier()
    cls, layerwise, options = EXPECTED[method]
    torch.manual_seed(0)
    edge_mask = DGLExplainer(model, method=method, options=options).explain_graph(graph, graph.ndata["feat"])
    torch.manual_seed(0)
    expected = by_class(cls, DGLAdapter(model, graph, graph.ndata["feat"], task="graph", layerwise=layerwise), options)
    torch.testing.assert_close(edge_mask, expected.sum(0) if layerwise else expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="explain_graph explains one graph, got a batch of 3"):
        DGLExplainer(model).explain_graph(batch_of_graphs(), batch_of_graphs().ndata["feat"])


@pytest.mark.parametrize("method", list(EXPECTED))
@pytest.mark.parametrize("task", ["node", "graph"])
def test_explain_on_dgl_equals_the_class_on_a_dgl_adapter(method, task):
    cls, layerwise_method, options = EXPECTED[method]
    if task == "node":
        g, x, model = dgl_case("GATConv")
        index, edge_index = NODE, torch.stack(g.edges(order="eid"))
    else:
        g = batch_of_graphs()
        x, model, index, edge_index = g.ndata["feat"], graph_classifier(), 1, torch.stack(g.edges(order="eid"))
    torch.manual_seed(0)
    got = explain(model, g, x, method=method, index=index, layerwise=True, options=options)
    torch.manual_seed(0)
    if not layerwise_method:
        expected_edges = by_class(cls, DGLAdapter(model, g, x, index=index), options)
    expected_layers = by_class(cls, DGLAdapter(model, g, x, index=index, layerwise=True), options)
    if layerwise_method:
        expected_edges = expected_layers.sum(0)
    assert got.task == task and torch.equal(got.edge_index, edge_index)
    torch.testing.assert_close(got.edge_mask, expected_edges, rtol=0, atol=0)
    torch.testing.assert_close(got.layer_masks, expected_layers, rtol=0, atol=0)
    assert got.edge_mask.abs().sum() > 0 and dgl.core.message_passing is ORIGINAL


def test_the_model_keeps_its_mode_unlike_dgls_explainer():
    g, x, model = dgl_case("SAGEConv-mean")
    model.train()
    before = state_of(model)
    DGLExplainer(model, 2, method="layerwise_occlusion").explain_node(NODE, g, x)
    assert_same_state(before, state_of(model))
    with pytest.raises(TypeError, match="EdgeGradient has no option 'eps'"):
        DGLExplainer(model, method="edge_gradient", options={"eps": 0.1})
    with pytest.raises(ValueError, match="unknown method"):
        DGLExplainer(model, method="grad")

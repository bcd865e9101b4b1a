"""How far the DGL adapters reach: DGL's explainer keywords, graphs a model reads itself, graphs built inside
forward, featureless RGCN and one message-passing call over every edge type of a heterograph."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import dgl.function as fn  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from dgl.nn import GNNExplainer as DGLGNNExplainer  # noqa: E402
from dgl.nn import GraphConv, SegmentedKNNGraph  # noqa: E402

from edgeattr import DGLAdapter, DGLHeteroAdapter, EdgeGradient, EdgeOcclusion, EdgeWeightShim, FallbackWarning, UnsupportedLayerError  # noqa: E402
from tests.support.zoo import assert_same_state, state_of  # noqa: E402
from tests.zoo import dgl_cases as cases  # noqa: E402
from tests.zoo import dgl_models as models  # noqa: E402

ORIGINAL = dgl.core.message_passing
TOLERANCE = dict(rtol=1e-9, atol=1e-12)


def weighted_gcn(model, g, x, w):
    h = x
    for layer in model.layers:
        h = layer(g, h, edge_weight=w)
    return h


def weighted_gat(model, g, x, w):
    first, last = model.gat_layers
    return last(g, first(g, x, edge_weight=w).flatten(1), edge_weight=w).mean(1)


def weighted_gatv2(model, g, x, w):
    first, last = model.gatv2_layers
    return cases.gatv2conv_reference(last, g, cases.gatv2conv_reference(first, g, x, w).flatten(1), w).mean(1)


def weighted_gin(model, g, x, w):
    hidden, h = [x], x
    for layer, norm in zip(model.ginlayers, model.batch_norms):
        h = F.relu(norm(layer(g, h, edge_weight=w)))
        hidden.append(h)
    return sum(linear(model.pool(g, h)) for linear, h in zip(model.linear_prediction, hidden))


#: Models as DGL's examples write them (forward(g, features), forward(g, inputs), forward(g, h)), and their
#: forward with message e scaled by w[e], computed without edgeattr.
EXAMPLES = {
    "gcn": (lambda: models.GCN(cases.FEATURES, 8, cases.CLASSES), weighted_gcn),
    "gat": (lambda: models.GAT(cases.FEATURES, 4, cases.CLASSES, heads=[2, 1]), weighted_gat),
    "gatv2": (lambda: models.GATv2(1, cases.FEATURES, 4, cases.CLASSES, [2, 2], F.elu, 0.0, 0.0, 0.2, True), weighted_gatv2),
    "gin": (lambda: models.GIN(cases.FEATURES, 6, cases.CLASSES), weighted_gin),
}


def example(name):
    torch.manual_seed(0)
    factory, weighted = EXAMPLES[name]
    g, x = cases.self_looped()
    return cases.seeded(factory()), weighted, g, x


# -- 1. DGL's explainers call model(graph=g, feat=h, eweight=w) --------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_shim_passes_dgls_keywords_to_the_models_own_parameters(name):
    model, weighted, g, x = example(name)
    weight = torch.rand(g.num_edges(), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    shim = EdgeWeightShim(model)
    torch.testing.assert_close(shim(graph=g, feat=x, eweight=weight), weighted(model, g, x, weight), **TOLERANCE)
    torch.testing.assert_close(shim(graph=g, feat=x), model(g, x), rtol=0, atol=0)
    assert dgl.core.message_passing is ORIGINAL


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_dgls_gnnexplainer_runs_on_models_written_as_dgls_examples(name):
    model, _, g, x = example(name)
    before = state_of(model)
    explainer = DGLGNNExplainer(EdgeWeightShim(model), num_hops=2, num_epochs=3, log=False)
    torch.manual_seed(0)
    if name == "gin":
        feat_mask, edge_mask = explainer.explain_graph(g, x)
        assert edge_mask.shape == (g.num_edges(),)
    else:
        _, subgraph, feat_mask, edge_mask = explainer.explain_node(cases.NODE, g, x)
        assert edge_mask.shape == (subgraph.num_edges(),)
    assert torch.isfinite(edge_mask).all() and feat_mask.shape == (x.size(1),)
    assert dgl.core.message_passing is ORIGINAL
    for parameter in model.parameters():
        parameter.grad = None  # DGL's explainer backpropagates its loss into the model's parameters itself
    assert_same_state(before, state_of(model))


class Featureless(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GraphConv(cases.FEATURES, cases.CLASSES)
        self.emb = torch.nn.Embedding(30, cases.FEATURES)

    def forward(self, g):
        return self.conv(g, self.emb.weight[: g.num_nodes()])


def test_the_shim_says_when_the_model_takes_no_features():
    g, x = cases.self_looped()
    with pytest.raises(TypeError, match=r"feat=.*Featureless.forward takes no argument after the graph"):
        EdgeWeightShim(Featureless())(graph=g, feat=x.float())


# -- 2. graphs a model reads itself (self.g): graph= ------------------------------------------------


@pytest.mark.parametrize("build", [cases.appnp, cases.tagcn, cases.chebnet])
def test_a_graph_the_model_reads_itself_is_explained_exactly_with_graph(build):
    case = build()
    graph, other = case.options["graph"], (case.index + 3) % case.options["graph"].num_nodes()
    before = state_of(case.model)
    adapter = DGLAdapter(case.model, *case.args, graph=graph, index=torch.tensor([case.index, other]))
    assert adapter.exact_path and adapter.copies_per_pass == 1 and adapter.num_edges == graph.num_edges()
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    torch.testing.assert_close(gradient[0], case.reference_gradient(), rtol=1e-5, atol=1e-6)
    layerwise = DGLAdapter(case.model, *case.args, graph=graph, index=case.index, layerwise=True)
    torch.testing.assert_close(EdgeGradient(layerwise).attribute(layerwise.ones())[0].sum(0), gradient[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="reads its graph itself"):
        EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")
    assert_same_state(before, state_of(case.model))
    assert dgl.core.message_passing is ORIGINAL


class OwnGraphGCN(torch.nn.Module):
    """model(features) over self.g, with self-loops appended inside forward (those keep weight 1)."""

    def __init__(self, g, loops):
        super().__init__()
        self.g, self.loops = g, loops
        self.conv1, self.conv2 = GraphConv(cases.FEATURES, 6, allow_zero_in_degree=True), GraphConv(6, cases.CLASSES, allow_zero_in_degree=True)

    def graph(self):
        return dgl.add_self_loop(self.g) if self.loops else self.g

    def forward(self, features, edge_weight=None):
        g = self.graph()
        extra = {} if edge_weight is None else {"edge_weight": edge_weight}
        return self.conv2(g, self.conv1(g, features, **extra).relu(), **extra)


@pytest.mark.parametrize("loops", [False, True])
def test_graph_mode_weights_the_graph_even_where_it_carries_ids_of_a_parent(loops):
    parent, x = cases.ringed_graph(num_nodes=30, num_edges=100)
    nodes = torch.arange(4, 26)
    sub = dgl.node_subgraph(parent, nodes)  # carries dgl.EID: its edges' ids in the parent, not positions in it
    assert dgl.EID in sub.edata
    torch.manual_seed(0)
    model = OwnGraphGCN(sub, loops).double().eval()
    features = x[nodes]
    node = 7
    target = int(model(features)[node].argmax())
    weight = torch.ones(sub.num_edges(), dtype=torch.float64, requires_grad=True)
    full = torch.cat([weight, torch.ones(sub.num_nodes(), dtype=torch.float64)]) if loops else weight
    (expected,) = torch.autograd.grad(model(features, edge_weight=full)[node, target], weight)
    adapter = DGLAdapter(model, features, graph=sub, index=node)
    got = EdgeGradient(adapter).attribute(adapter.ones(), target=target)[0]
    assert expected.abs().sum() > 0
    torch.testing.assert_close(got, expected, **TOLERANCE)


def test_graph_mode_errors_name_the_fix():
    case = cases.appnp()
    graph, features = case.options["graph"], case.args[0]
    with pytest.raises(UnsupportedLayerError, match=r"layer 'propagate' \(APPNPConv\).*model\.g, a graph the model holds itself.*graph=model\.g"):
        DGLAdapter(case.model, features, index=case.index)
    gcn = example("gcn")[0]
    with pytest.raises(TypeError, match=r"GCN\.forward takes its graph as an argument.*DGLAdapter\(model, g, \.\.\.\)"):
        DGLAdapter(gcn, features.double(), graph=graph, index=0)
    with pytest.raises(ValueError, match="both an argument of the model call and graph="):
        DGLAdapter(gcn, graph, features.double(), graph=graph, index=0)
    with pytest.raises(TypeError, match="graph= takes the DGLGraph"):
        DGLAdapter(case.model, features, graph=features, index=0)
    assert dgl.core.message_passing is ORIGINAL


def test_a_call_without_a_graph_first_says_which_adapter_takes_it():
    case = cases.sampled_graphsage()
    blocks, x = case.args
    with pytest.raises(ValueError, match=r"sampled blocks: use DGLBlockAdapter"):
        DGLAdapter(case.model, blocks, x, index=case.index)
    gcn, _, g, features = example("gcn")
    with pytest.raises(TypeError, match=r"takes the model's DGLGraph first, got Tensor"):
        DGLAdapter(gcn, features, g, index=0)


# -- 3. graphs built inside forward hold no input edge ----------------------------------------------


class KNNOfFeatures(torch.nn.Module):
    """Given a graph, but passes messages over a k-NN graph of its features built in forward."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(cases.FEATURES, cases.CLASSES, allow_zero_in_degree=True)

    def forward(self, g, x):
        return self.conv(dgl.knn_graph(x, 3), x)


class NewEdges(torch.nn.Module):
    """Given a graph, but runs on a dgl.graph(...) of other edges made in forward."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(cases.FEATURES, cases.CLASSES, allow_zero_in_degree=True)

    def forward(self, g, x):
        n = g.num_nodes()
        ring = torch.arange(n)
        return self.conv(dgl.graph((ring, (ring + 5) % n), num_nodes=n), x)


class SegmentedKNN(torch.nn.Module):
    """Called without a graph: SegmentedKNNGraph over the points of each cloud."""

    def __init__(self):
        super().__init__()
        self.nng = SegmentedKNNGraph(3)
        self.conv = dgl.nn.EdgeConv(3, cases.CLASSES)

    def forward(self, points, segments):
        return self.conv(self.nng(points, segments), points)


def refused_models():
    g, x = cases.ringed_graph()
    points = cases.point_clouds()
    return {
        "DGCNN": (cases.dgcnn().model, (points,), {"task": "graph", "index": 0}, r"layer 'conv\.0' \(EdgeConv\)", "called without a DGLGraph"),
        "knn_graph": (KNNOfFeatures().double().eval(), (g, x), {"index": 1}, r"layer 'conv' \(GraphConv\)", "not those of the graph the model was given"),
        "dgl.graph": (NewEdges().double().eval(), (g, x), {"index": 1}, r"layer 'conv' \(GraphConv\)", "not those of the graph the model was given"),
        "SegmentedKNNGraph": (SegmentedKNN().double().eval(), (points.view(-1, 3), [8, 8]), {"index": 1}, r"layer 'conv' \(EdgeConv\)", "called without a DGLGraph"),
    }


@pytest.mark.filterwarnings("ignore:'k' should be less than or equal")  # DGL's k-NN of the one-node discovery graph
@pytest.mark.parametrize("name", list(refused_models()))
def test_graphs_built_inside_forward_are_refused_naming_the_module(name):
    model, args, options, layer, where = refused_models()[name]
    before = state_of(model)
    with pytest.raises(UnsupportedLayerError, match=layer) as raised:
        DGLAdapter(model, *args, **options)
    message = str(raised.value)
    assert "graph built inside forward" in message and "there is no input edge to attribute" in message and where in message
    assert_same_state(before, state_of(model))
    assert dgl.core.message_passing is ORIGINAL


# -- 4. RelGraphConv featureless, and one call over every edge type of a heterograph -------------------


def test_featureless_rgcn_reading_its_whole_embedding_table_is_exact_on_the_full_graph():
    case = cases.rgcn()
    g, nids = case.args
    # model(g) reads self.emb.weight, every node's row: it cannot run on a computation subgraph.
    with pytest.warns(FallbackWarning, match="not local"):
        adapter = DGLAdapter(case.model, g, index=case.index)
    assert adapter.exact_path
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], case.reference_gradient(), **TOLERANCE)


class AllRelationsAtOnce(torch.nn.Module):
    """update_all over every edge type of the heterograph, then multi_update_all (one call per relation, means summed)."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(cases.FEATURES, cases.CLASSES)

    def forward(self, g, feats):
        with g.local_scope():
            g.ndata["h"] = {ntype: self.lin(value) for ntype, value in feats.items()}
            g.update_all(fn.copy_u("h", "m"), fn.sum("m", "out"))
            g.ndata["h"] = {ntype: torch.tanh(g.nodes[ntype].data["out"]) for ntype in g.ntypes}
            g.multi_update_all({etype: (fn.copy_u("h", "m"), fn.mean("m", "out")) for etype in g.canonical_etypes}, "sum")
            return {"paper": g.nodes["paper"].data["out"]}


def all_relations_reference(model, g, feats, w):
    """The same computation with message e scaled by w[e], relation by relation, in torch alone."""
    h = {ntype: model.lin(value) for ntype, value in feats.items()}
    summed = {ntype: h[ntype].new_zeros(g.num_nodes(ntype), cases.CLASSES) for ntype in g.ntypes}
    for etype in g.canonical_etypes:
        src, dst = g.edges(etype=etype, order="eid")
        summed[etype[2]] = summed[etype[2]].index_add(0, dst, h[etype[0]][src] * w[etype].view(-1, 1))
    h = {ntype: torch.tanh(value) for ntype, value in summed.items()}
    out = h["paper"].new_zeros(g.num_nodes("paper"), cases.CLASSES)
    for etype in [etype for etype in g.canonical_etypes if etype[2] == "paper"]:
        src, dst = g.edges(etype=etype, order="eid")
        degrees = g.in_degrees(etype=etype).clamp(min=1).to(out).view(-1, 1)
        out = out + out.new_zeros(out.shape).index_add(0, dst, h[etype[0]][src] * w[etype].view(-1, 1)) / degrees
    return out


def test_one_update_all_over_every_edge_type_is_weighted_type_by_type():
    g = cases.entity_graph()
    generator = torch.Generator().manual_seed(2)
    feats = {ntype: torch.randn(g.num_nodes(ntype), cases.FEATURES, generator=generator, dtype=torch.float64) for ntype in g.ntypes}
    torch.manual_seed(0)
    model = AllRelationsAtOnce().double().eval()
    node = 3
    adapter = DGLHeteroAdapter(model, g, feats, index=node, ntype="paper")
    assert adapter.num_layers == 1 + len(g.canonical_etypes)
    target = int(model(g, feats)["paper"][node].argmax())
    counts = [g.num_edges(etype) for etype in g.canonical_etypes]
    weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    score = all_relations_reference(model, g, feats, dict(zip(g.canonical_etypes, weight.split(counts))))[node, target]
    (expected,) = torch.autograd.grad(score, weight)
    got = EdgeGradient(adapter).attribute(adapter.ones())[0]
    assert expected.abs().sum() > 0
    torch.testing.assert_close(got, expected, **TOLERANCE)
    occlusion = adapter.split(EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")[0])
    with torch.no_grad():
        base = model(g, feats)["paper"][node, target]
        for etype in g.canonical_etypes:
            for edge in range(3):
                cut = dgl.remove_edges(g, torch.tensor([edge]), etype=etype)
                torch.testing.assert_close(occlusion[etype][edge], base - model(cut, feats)["paper"][node, target], **TOLERANCE)
    assert dgl.core.message_passing is ORIGINAL


def test_the_hetero_api_rgcn_reading_its_heterograph_is_exact_with_graph():
    case = cases.hetero_rgcn()
    graph, ntype = case.options["graph"], case.options["ntype"]
    before = state_of(case.model)
    adapter = DGLHeteroAdapter(case.model, graph=graph, index=case.index, ntype=ntype)
    assert not adapter.passes_graph and adapter.num_layers == len(case.model.layers)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())[0]
    torch.testing.assert_close(gradient, case.reference_gradient(), **TOLERANCE)
    layerwise = DGLHeteroAdapter(case.model, graph=graph, index=case.index, ntype=ntype, layerwise=True)
    torch.testing.assert_close(EdgeGradient(layerwise).attribute(layerwise.ones())[0].sum(0), gradient, **TOLERANCE)
    with pytest.raises(ValueError, match="reads its graph itself"):
        EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")
    with pytest.raises(TypeError, match="graph=model.g"):
        DGLHeteroAdapter(case.model, index=case.index, ntype=ntype)
    assert_same_state(before, state_of(case.model))
    assert dgl.core.message_passing is ORIGINAL


class SparseSumOverAllTypes(torch.nn.Module):
    """dgl.ops.copy_u_sum on the heterograph itself: one gspmm over every edge type, outside message passing."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(cases.FEATURES, cases.CLASSES)

    def forward(self, g, feats):
        out = dgl.ops.copy_u_sum(g, tuple(self.lin(feats[ntype]) for ntype in g.ntypes))
        return {"paper": out[g.ntypes.index("paper")]}


def test_a_sparse_aggregation_over_every_edge_type_is_refused_not_left_unweighted():
    g = cases.entity_graph()
    feats = {ntype: torch.randn(g.num_nodes(ntype), cases.FEATURES, dtype=torch.float64) for ntype in g.ntypes}
    model = SparseSumOverAllTypes().double().eval()
    before = state_of(model)
    with pytest.raises(UnsupportedLayerError, match=r"\(SparseSumOverAllTypes\).*several edge types at once with dgl.ops"):
        DGLHeteroAdapter(model, g, feats, index=1, ntype="paper")
    assert_same_state(before, state_of(model))
    assert dgl.core.message_passing is ORIGINAL

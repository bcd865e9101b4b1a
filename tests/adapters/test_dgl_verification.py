"""DGL models that break the adapter's assumptions, each against an independent reference."""

import warnings

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GraphConv, RelGraphConv  # noqa: E402

from edgeattr import DGLAdapter, EdgeGradient, EdgeOcclusion, FallbackWarning, InputModifiedError  # noqa: E402
from tests.support.dgl_zoo import dgl_graph, dgl_model  # noqa: E402

NODE = 4
RELATIONS = 3


def relational_graph(seed=0):
    torch.manual_seed(seed)
    g = dgl.rand_graph(30, 90)
    return g, torch.randint(0, RELATIONS, (g.num_edges(),))


class FeaturelessRGCN(torch.nn.Module):
    """DGL's entity-classification RGCN: one learned embedding per node, no input features."""

    def __init__(self, num_nodes, by_ids):
        super().__init__()
        self.by_ids = by_ids
        self.emb = torch.nn.Embedding(num_nodes, 6)
        self.conv1 = RelGraphConv(6, 6, RELATIONS, regularizer="basis", num_bases=2, self_loop=True)
        self.conv2 = RelGraphConv(6, 3, RELATIONS, regularizer="basis", num_bases=2, self_loop=True)

    def forward(self, g, etypes):
        h = self.emb(torch.arange(g.num_nodes())) if self.by_ids else self.emb.weight
        h = self.conv1(g, h, etypes).relu()
        return self.conv2(g, h, etypes)


def rgcn_reference(model, g, etypes, node, target):
    """dz/dw through RelGraphConv's own per-edge ``norm``, which multiplies each message."""
    weight = torch.ones(g.num_edges(), 1, dtype=torch.float64, requires_grad=True)
    h = model.conv1(g, model.emb.weight, etypes, norm=weight).relu()
    out = model.conv2(g, h, etypes, norm=weight)
    return torch.autograd.grad(out[node, target], weight)[0].view(-1)


@pytest.mark.parametrize("by_ids", [False, True], ids=["embedding weight", "embedding of arange"])
def test_a_featureless_rgcn_falls_back_to_the_full_graph_and_equals_its_own_norm_gradient(by_ids):
    g, etypes = relational_graph()
    torch.manual_seed(0)
    model = FeaturelessRGCN(g.num_nodes(), by_ids).double().eval()
    with pytest.warns(FallbackWarning, match="not local"):
        adapter = DGLAdapter(model, g, etypes, index=NODE)
    assert adapter.exact_path
    target = int(model(g, etypes)[NODE].argmax())
    torch.testing.assert_close(
        EdgeGradient(adapter).attribute(adapter.ones())[0], rgcn_reference(model, g, etypes, NODE, target), rtol=1e-9, atol=1e-12
    )


class BatchStatistics(torch.nn.Module):
    """GraphConv -> BatchNorm1d without running statistics (batch statistics also in eval) -> GraphConv."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GraphConv(5, 8, allow_zero_in_degree=True), GraphConv(8, 3, allow_zero_in_degree=True)
        self.norm = torch.nn.BatchNorm1d(8, track_running_stats=False)

    def forward(self, g, x, edge_weight=None):
        h = self.norm(self.conv1(g, x, edge_weight=edge_weight)).relu()
        return self.conv2(g, h, edge_weight=edge_weight)


def test_batch_statistics_in_a_dgl_model_fall_back_and_equal_graphconvs_own_edge_weight_gradient():
    g, x, _ = dgl_graph()
    torch.manual_seed(0)
    model = BatchStatistics().double().eval()
    with pytest.warns(FallbackWarning, match="BatchNorm1d"):
        adapter = DGLAdapter(model, g, x, index=torch.tensor([NODE, 10]))
    gradient = EdgeGradient(adapter).attribute(adapter.ones(), target=0)
    for row, node in enumerate((NODE, 10)):
        weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
        (expected,) = torch.autograd.grad(model(g, x, edge_weight=weight)[node, 0], weight)
        torch.testing.assert_close(gradient[row], expected, rtol=1e-9, atol=1e-12)


class SelfLoops(torch.nn.Module):
    """A model that appends self-loops in forward, as DGL's GCN examples do."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(5, 3)

    def forward(self, g, x):
        return self.conv(dgl.add_self_loop(g), x)


def test_a_subgraph_carrying_dgl_eid_with_self_loops_added_in_forward():
    g, x, _ = dgl_graph(num_nodes=30, num_edges=90)
    sub = dgl.node_subgraph(g, torch.arange(20))  # edata[dgl.EID]: ids in g, not in sub
    assert dgl.EID in sub.edata and not torch.equal(sub.edata[dgl.EID], torch.arange(sub.num_edges()))
    torch.manual_seed(0)
    model = SelfLoops().double().eval()
    adapter = DGLAdapter(model, sub, x[:20], index=NODE)
    weight = torch.ones(sub.num_edges(), dtype=torch.float64, requires_grad=True)
    loops = torch.ones(sub.num_nodes(), dtype=torch.float64)
    out = model.conv(dgl.add_self_loop(sub), x[:20], edge_weight=torch.cat([weight, loops]))
    target = int(out[NODE].argmax())
    (expected,) = torch.autograd.grad(out[NODE, target], weight)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)


class SparseOps(torch.nn.Module):
    """Aggregation written with DGL's sparse operators instead of update_all."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 3)

    def forward(self, g, x, weight):
        h = dgl.ops.copy_u_mean(g, self.lin(x))
        return dgl.ops.u_mul_e_sum(g, h, weight) + dgl.ops.gspmm(g, "add", "max", h, weight)


def sparse_ops_reference(model, g, x, weight, mask):
    """The same aggregations with every message multiplied by ``mask`` by hand."""
    mask = mask.view(-1, 1)
    h = dgl.ops.u_mul_e_mean(g, model.lin(x), mask)
    return dgl.ops.u_mul_e_sum(g, h, weight * mask) + dgl.ops.copy_e_max(g, dgl.ops.gsddmm(g, "add", h, weight, "u", "e") * mask)


def test_dgl_sparse_operators_outside_message_passing_are_layers_weighted_by_the_mask():
    g, x, _ = dgl_graph()
    weight = torch.rand(g.num_edges(), 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = SparseOps().double().eval()
    adapter = DGLAdapter(model, g, x, weight, index=NODE)
    assert adapter.num_layers == 3 and not adapter.exact_path
    target = int(model(g, x, weight)[NODE].argmax())
    mask = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(sparse_ops_reference(model, g, x, weight, mask)[NODE, target], mask)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)
    base = sparse_ops_reference(model, g, x, weight, torch.ones(g.num_edges(), dtype=torch.float64))[NODE, target]
    dropped = torch.stack([
        sparse_ops_reference(model, g, x, weight, torch.ones(g.num_edges(), dtype=torch.float64).index_fill(0, torch.tensor([e]), 0))[NODE, target]
        for e in range(g.num_edges())
    ])
    torch.testing.assert_close(EdgeOcclusion(adapter).attribute(adapter.ones())[0], base - dropped, rtol=1e-9, atol=1e-12)
    assert dgl.ops.spmm.gspmm is dgl.ops.gspmm and dgl.ops.gspmm.__module__ == "dgl.ops.spmm"


class OverwritesItsInput(torch.nn.Module):
    """Writes its result over the graph's input features, outside local_scope."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(5, 5, allow_zero_in_degree=True)

    def forward(self, g):
        g.ndata["feat"] = self.conv(g, g.ndata["feat"])
        return g.ndata["feat"]


def test_a_model_that_overwrites_its_graphs_features_is_refused():
    g, x, _ = dgl_graph()
    g.ndata["feat"] = x
    with pytest.raises(InputModifiedError, match=r"feat.*local_scope"):
        DGLAdapter(OverwritesItsInput().double(), g, index=NODE)


def test_a_local_dgl_model_passes_without_fallback():
    g, x, _ = dgl_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        adapter = DGLAdapter(dgl_model("GraphConv"), g, x, index=torch.arange(6))
    assert not adapter.exact_path


class AdjacencyProduct(torch.nn.Module):
    """A GraphConv plus an aggregation by the graph's sparse adjacency matrix, which no hook sees."""

    def __init__(self, torch_sparse):
        super().__init__()
        self.conv, self.torch_sparse = GraphConv(5, 3, allow_zero_in_degree=True), torch_sparse

    def forward(self, g, x):
        if self.torch_sparse:
            aggregated = torch.sparse.mm(g.adj_external().to(x.dtype), x)
        else:
            aggregated = g.adj() @ x  # dgl.sparse
        return self.conv(g, x) + aggregated[:, :3]


@pytest.mark.parametrize("torch_sparse", [False, True], ids=["dgl.sparse", "torch.sparse"])
def test_an_aggregation_by_the_sparse_adjacency_is_refused(torch_sparse):
    from edgeattr import UnsupportedLayerError

    g, x, _ = dgl_graph()
    with pytest.raises(UnsupportedLayerError, match="sparse matrix.*bypasses message passing"):
        DGLAdapter(AdjacencyProduct(torch_sparse).double(), g, x, index=NODE)

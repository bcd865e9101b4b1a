"""DGLAdapter against DGL's native edge weights, finite differences, brute force and the model itself."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402  (a broken DGL must fail here in the dgl lane)
import torch  # noqa: E402
from dgl.nn import GraphConv  # noqa: E402

from edgeattr import DGLAdapter, EdgeGradient, EdgeOcclusion, LayerwiseOcclusion  # noqa: E402
from edgeattr.adapters.dgl import weighted_aggregation  # noqa: E402
from tests.support.dgl_zoo import (  # noqa: E402
    CALLS,
    LAYERS,
    NATIVE_EDGE_WEIGHT,
    RELATIONS,
    BlockSAGE,
    dgl_case,
    dgl_graph,
    dgl_model,
    hetero_case,
    sampled,
    tolerance,
)
from tests.support.methods import STATE_METHODS  # noqa: E402
from tests.support.threads import run_concurrently  # noqa: E402
from tests.support.zoo import CLASSES, FEATURES, HIDDEN, assert_float64_masks_give_float32_values, assert_same_state, explained, state_of  # noqa: E402
from tests.zoo.dgl_models import GCN  # noqa: E402

NODE = 10
ORIGINAL = dgl.core.message_passing


def target_of(model, g, x, node=NODE):
    return int(model(g, x)[node].argmax())


@pytest.mark.parametrize("name", list(LAYERS))
def test_ones_mask_reproduces_the_model_and_counts_calls(name):
    g, x, model = dgl_case(name)
    adapter = DGLAdapter(model, g, x, index=NODE)
    torch.testing.assert_close(adapter(adapter.ones())[0], model(g, x)[NODE], **tolerance(x))
    assert adapter.num_layers == (CALLS.get(name, 1) * (1 if name == "APPNPConv" else 2))
    assert dgl.core.message_passing is ORIGINAL


@pytest.mark.parametrize("name", NATIVE_EDGE_WEIGHT)
def test_gradient_equals_dgls_native_edge_weight_gradient(name):
    g, x, _ = dgl_graph()
    model = dgl_model(name)
    target = target_of(model, g, x)
    weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(model(g, x, edge_weight=weight)[NODE, target], weight)
    adapter = DGLAdapter(model, g, x, index=NODE)
    got = EdgeGradient(adapter).attribute(adapter.ones())[0]
    assert expected.abs().sum() > 0
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradient_equals_central_finite_differences(name):
    g, x, model = dgl_case(name)
    g = dgl.to_simple(g)  # a multi-edge ties max-pooled messages, where the gradient is one-sided
    adapter = DGLAdapter(model, g, x, index=NODE, restrict=False)
    target = target_of(model, g, x)
    grad = EdgeGradient(adapter).attribute(adapter.ones(), target=target)[0]
    exact = x.dtype == torch.float64
    step = 1e-6 if exact else 1e-2
    edges = torch.arange(g.num_edges())
    plus = adapter.ones().repeat(edges.numel(), 1)
    minus = plus.clone()
    plus[edges, edges] += step
    minus[edges, edges] -= step
    with torch.no_grad():
        difference = (adapter(plus)[:, target] - adapter(minus)[:, target]) / (2 * step)
    assert grad.abs().sum() > 0
    torch.testing.assert_close(grad, difference, rtol=1e-5 if exact else 1e-2, atol=1e-7 if exact else 1e-4)


@pytest.mark.parametrize("name", ["GraphConv", "SAGEConv-mean", "GATConv", "update_all-udf"])
def test_remove_occlusion_equals_deleting_the_edge_from_the_graph(name):
    g, x, _ = dgl_graph()
    model = dgl_model(name)
    target = target_of(model, g, x)
    with torch.no_grad():
        base = explained(model(g, x)[NODE], target)
        expected = torch.stack([base - explained(model(dgl.remove_edges(g, e), x)[NODE], target) for e in range(g.num_edges())])
    adapter = DGLAdapter(model, g, x, index=NODE)
    got = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", perturbations_per_eval=6)[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["GraphConv", "GINConv", "TAGConv"])
def test_restricted_batched_and_layerwise_agree_with_their_references(name):
    g, x, _ = dgl_graph()
    model = dgl_model(name)
    restricted = DGLAdapter(model, g, x, index=NODE)
    full = DGLAdapter(model, g, x, index=NODE, restrict=False, copies_per_pass=2)
    assert restricted.edge_ids.numel() < g.num_edges()
    masks = torch.rand(5, g.num_edges(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    single = torch.cat([full(m.view(1, -1)) for m in masks])
    torch.testing.assert_close(restricted(masks), single, rtol=0, atol=1e-12)
    torch.testing.assert_close(full(masks), single, rtol=0, atol=1e-12)
    layered = DGLAdapter(model, g, x, index=NODE, layerwise=True)
    torch.testing.assert_close(
        EdgeGradient(layered).attribute(layered.ones()).sum(1), EdgeGradient(full).attribute(full.ones()), rtol=1e-9, atol=1e-12
    )


class SelfLooping(torch.nn.Module):
    """Adds self-loops inside forward, as many DGL examples do."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(FEATURES, CLASSES)

    def forward(self, g, feat, edge_weight=None):
        g = dgl.add_self_loop(g)
        if edge_weight is not None:
            edge_weight = torch.cat([edge_weight, edge_weight.new_ones(g.num_nodes())])
        return self.conv(g, feat, edge_weight=edge_weight)


def test_self_loops_added_inside_forward_keep_weight_one():
    g, x, _ = dgl_graph()
    torch.manual_seed(0)
    model = SelfLooping().double()
    target = target_of(model, g, x)
    weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(model(g, x, edge_weight=weight)[NODE, target], weight)
    adapter = DGLAdapter(model, g, x, index=NODE)
    assert adapter.num_edges == g.num_edges()
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)


class Readout(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GraphConv(FEATURES, 6, allow_zero_in_degree=True), GraphConv(6, 6, allow_zero_in_degree=True)
        self.head = torch.nn.Linear(6, CLASSES)

    def forward(self, g, feat, edge_weight=None):
        h = self.conv2(g, self.conv1(g, feat, edge_weight=edge_weight).relu(), edge_weight=edge_weight)
        with g.local_scope():
            g.ndata["h"] = h
            return self.head(dgl.mean_nodes(g, "h"))


def batched_readout():
    """Three small graphs in one dgl.batch, float64 features, and a seeded Readout model."""
    bg = dgl.batch([dgl_graph(seed=s, num_nodes=n, num_edges=14)[0] for s, n in ((1, 6), (2, 8), (3, 7))])
    x = torch.randn(bg.num_nodes(), FEATURES, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    return bg, x, Readout().double().eval()


def test_graph_task_on_a_batched_graph():
    bg, x, model = batched_readout()
    adapter = DGLAdapter(model, bg, x, index=1)
    assert adapter.task == "graph"
    out = model(bg, x)
    torch.testing.assert_close(adapter(adapter.ones())[0], out[1], rtol=0, atol=1e-12)
    target = int(out[1].argmax())
    weight = torch.ones(bg.num_edges(), dtype=torch.float64, requires_grad=True)
    (expected,) = torch.autograd.grad(model(bg, x, edge_weight=weight)[1, target], weight)
    got = EdgeGradient(adapter).attribute(adapter.ones().repeat(3, 1))
    torch.testing.assert_close(got, expected.expand(3, -1), rtol=1e-9, atol=1e-12)


class LinearStack(torch.nn.Module):
    def __init__(self, depth):
        super().__init__()
        sizes = [FEATURES] + [4] * (depth - 1) + [CLASSES]
        self.convs = torch.nn.ModuleList(GraphConv(i, o, allow_zero_in_degree=True) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, g, feat):
        for conv in self.convs:
            feat = conv(g, feat)
        return feat


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_linear_theorem_on_dgl(depth):
    g, x, _ = dgl_graph(seed=3)
    torch.manual_seed(depth)
    adapter = DGLAdapter(LinearStack(depth).double(), g, x, index=NODE, layerwise=True)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    assert gradient.abs().sum() > 0
    torch.testing.assert_close(LayerwiseOcclusion(adapter).attribute(adapter.ones()), gradient, rtol=1e-10, atol=1e-12)


class Failing(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GraphConv(FEATURES, CLASSES, allow_zero_in_degree=True)
        self.dropout = torch.nn.Dropout(0.3)
        self.fail = False

    def forward(self, g, feat):
        h = self.conv(g, self.dropout(feat))
        if self.fail:
            raise RuntimeError("failure inside forward")
        return h


@pytest.mark.parametrize("method", list(STATE_METHODS))
def test_model_and_dgl_are_unchanged_after_success_and_error(method):
    g, x, _ = dgl_graph()
    model = Failing().double().train()
    before = state_of(model)
    adapter = DGLAdapter(model, g, x, index=NODE, layerwise=method == "LayerwiseOcclusion")
    method = STATE_METHODS[method]
    first = method(adapter)
    assert_same_state(before, state_of(model))
    if not isinstance(first, tuple) and method is not STATE_METHODS["GNNExplainer"]:
        assert torch.equal(first, method(adapter))  # eval mode: dropout does not make it random
    assert_same_state(before, state_of(model))
    model.fail = True
    with pytest.raises(RuntimeError, match="failure inside forward"):
        method(adapter)
    model.fail = False
    assert_same_state(before, state_of(model))
    assert dgl.core.message_passing is ORIGINAL


def test_clear_errors_for_unsupported_inputs():
    g, x, _ = dgl_graph()
    model = dgl_model("GraphConv")
    with pytest.raises(TypeError, match="DGLGraph first"):
        DGLAdapter(model, x, g, index=0)
    hetero = dgl.heterograph({("a", "r", "a"): ([0], [1]), ("a", "s", "a"): ([1], [0])})
    with pytest.raises(ValueError, match="DGLHeteroAdapter"):
        DGLAdapter(model, hetero, x[:2], index=0)
    with pytest.raises(ValueError, match="no nodes"):
        DGLAdapter(model, dgl.graph(([], [])), x[:0], index=0)


def test_threads_explaining_different_dgl_models_match_sequential_runs():

    g, x, _ = dgl_graph()
    models = [dgl_model(name) for name in ("GraphConv", "GATConv", "update_all-udf", "TAGConv")]

    def explain(model):
        adapter = DGLAdapter(model, g, x, index=NODE, layerwise=True)
        return EdgeGradient(adapter).attribute(adapter.ones()), EdgeOcclusion(adapter).attribute(adapter.ones())

    jobs = [lambda m=m: explain(m) for m in models]
    sequential = [job() for job in jobs]
    for got, expected in zip(run_concurrently(jobs), sequential):
        for repeat in got:
            for a, b in zip(repeat, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert dgl.core.message_passing is ORIGINAL


@pytest.mark.parametrize("fanout", [None, 2])
def test_block_gradients_over_parent_edges_equal_native_edge_weights(fanout):
    from edgeattr import DGLBlockAdapter

    g, x, _ = dgl_graph()
    torch.manual_seed(0 if fanout is None else 1)
    model = BlockSAGE().double().eval()
    input_nodes, blocks = sampled(g, torch.tensor([NODE, 2]), fanout)
    feat = x[input_nodes]
    adapter = DGLBlockAdapter(model, blocks, feat, index=NODE, parent_graph=g)
    seed_row = int((blocks[-1].dstdata[dgl.NID] == NODE).nonzero())
    out = model(blocks, feat)[seed_row]
    torch.testing.assert_close(adapter(adapter.ones())[0], out, rtol=0, atol=1e-12)
    target = int(out.argmax())
    weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    per_block = [weight[b.edata[dgl.EID]] for b in blocks]
    (expected,) = torch.autograd.grad(model(blocks, feat, per_block)[seed_row, target], weight)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)
    if fanout is None:  # all neighbours sampled: the same explanation as on the whole graph
        full = DGLAdapter(_WholeGraph(model), g, x, index=NODE)
        torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones()), EdgeGradient(full).attribute(full.ones()), rtol=1e-9, atol=1e-12)


def test_block_remove_occlusion_equals_deleting_parent_edges():
    from edgeattr import DGLBlockAdapter

    g, x, _ = dgl_graph()
    torch.manual_seed(0)
    model = BlockSAGE().double().eval()
    full_model = _WholeGraph(model)
    input_nodes, blocks = sampled(g, torch.tensor([NODE]))
    adapter = DGLBlockAdapter(model, blocks, x[input_nodes], index=NODE, parent_graph=g)
    target = int(full_model(g, x)[NODE].argmax())
    with torch.no_grad():
        base = full_model(g, x)[NODE, target]
        expected = torch.stack([base - full_model(dgl.remove_edges(g, e), x)[NODE, target] for e in range(g.num_edges())])
    got = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    with pytest.raises(IndexError, match="not a seed"):
        DGLBlockAdapter(model, blocks, x[input_nodes], index=(NODE + 1) % 14, parent_graph=g)


class _WholeGraph(torch.nn.Module):
    """The block model's layers applied to the whole graph."""

    def __init__(self, block_model):
        super().__init__()
        self.inner = block_model

    def forward(self, g, feat):
        return self.inner.conv2(g, self.inner.conv1(g, feat).relu())


def test_heterograph_masks_are_keyed_by_edge_type_and_match_native_edge_weights():
    from edgeattr import DGLHeteroAdapter

    g, feats, model = hetero_case()
    adapter = DGLHeteroAdapter(model, g, feats, index=3, ntype="user")
    assert adapter.num_edges == g.num_edges() and adapter.num_layers == 6
    out = model(g, feats)["user"][3]
    torch.testing.assert_close(adapter(adapter.ones())[0], out, rtol=0, atol=1e-12)
    target = int(out.argmax())
    weights = {r: torch.ones(g.num_edges(r), dtype=torch.float64, requires_grad=True) for r in RELATIONS}
    expected = torch.autograd.grad(model(g, feats, weights)["user"][3, target], [weights[r] for r in RELATIONS])
    got = adapter.split(EdgeGradient(adapter).attribute(adapter.ones())[0])
    assert list(got) == g.canonical_etypes and set(got) == set(RELATIONS)
    for relation, native in zip(RELATIONS, expected):
        torch.testing.assert_close(got[relation], native, rtol=1e-9, atol=1e-12)
    assert torch.equal(adapter.join(got), EdgeGradient(adapter).attribute(adapter.ones())[0])
    assert dgl.core.message_passing is ORIGINAL


def test_heterograph_remove_occlusion_equals_deleting_edges():
    from edgeattr import DGLHeteroAdapter

    g, feats, model = hetero_case()
    adapter = DGLHeteroAdapter(model, g, feats, index=3, ntype="user")
    target = int(model(g, feats)["user"][3].argmax())
    expected = []
    with torch.no_grad():
        base = model(g, feats)["user"][3, target]
        for relation in g.canonical_etypes:  # the order of the mask's columns
            for e in range(g.num_edges(relation)):
                cut = dgl.remove_edges(g, torch.tensor([e]), etype=relation)
                expected.append(base - model(cut, feats)["user"][3, target])
    got = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")[0]
    torch.testing.assert_close(got, torch.stack(expected), rtol=1e-9, atol=1e-12)


class WholeHeterographRGCN(torch.nn.Module):
    """RelGraphConv over a heterograph turned homogeneous inside forward."""

    def __init__(self):
        super().__init__()
        self.conv = dgl.nn.RelGraphConv(FEATURES, CLASSES, 3)

    def forward(self, g, feats):
        homogeneous = dgl.to_homogeneous(g)
        x = torch.cat([feats[t] for t in g.ntypes])
        return {"user": self.conv(homogeneous, x, homogeneous.edata[dgl.ETYPE])}


def test_dgl_bad_input_names_the_problem_and_the_layer():
    from edgeattr import DGLBlockAdapter, DGLHeteroAdapter, UnsupportedLayerError

    g, x, _ = dgl_graph()
    model = dgl_model("GraphConv")
    _, blocks = sampled(g, torch.tensor([NODE]))
    hetero, feats, _ = hetero_case()
    hetero_feats = {k: v.float() for k, v in feats.items()}
    cases = [
        (lambda: DGLAdapter(model, blocks[0], x, index=0), ValueError, "DGLBlockAdapter"),
        (lambda: DGLBlockAdapter(model, blocks, x, index=NODE), ValueError, "exactly one of parent_graph"),
        (lambda: DGLBlockAdapter(model, g, x, index=NODE, parent_graph=g), TypeError, "list of DGL blocks"),
        (lambda: DGLBlockAdapter(model, blocks, x, index=NODE, num_edges=3), ValueError, "parent edge ids up to"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    # The first pass with the mask, the verification's, names the layer.
    with pytest.raises(UnsupportedLayerError, match=r"layer 'conv' \(RelGraphConv\).*to_homogeneous"):
        DGLHeteroAdapter(WholeHeterographRGCN(), hetero, hetero_feats, index=0, ntype="user")
    assert dgl.core.message_passing is ORIGINAL


@pytest.mark.parametrize("name", ["GraphConv", "GATConv", "SAGEConv-mean"])
def test_many_node_targets_give_the_rows_of_single_targets(name):
    g, x, model = dgl_case(name)
    nodes = torch.tensor([10, 2, 10, 5])
    adapter = DGLAdapter(model, g, x, index=nodes, layerwise=True)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    occlusion = LayerwiseOcclusion(adapter).attribute(adapter.ones())
    for row, node in enumerate(nodes.tolist()):
        single = DGLAdapter(model, g, x, index=node, layerwise=True)
        torch.testing.assert_close(gradient[row], EdgeGradient(single).attribute(single.ones())[0], **tolerance(x))
        torch.testing.assert_close(occlusion[row], LayerwiseOcclusion(single).attribute(single.ones())[0], **tolerance(x))


def test_many_graph_targets_are_pooled_separately():
    bg, x, model = batched_readout()
    adapter = DGLAdapter(model, bg, x, index=torch.tensor([2, 0]))
    torch.testing.assert_close(adapter(adapter.ones()), model(bg, x)[[2, 0]], rtol=0, atol=1e-12)
    got = EdgeGradient(adapter).attribute(adapter.ones())
    for row, graph in enumerate([2, 0]):
        weight = torch.ones(bg.num_edges(), dtype=torch.float64, requires_grad=True)
        out = model(bg, x, edge_weight=weight)[graph]
        (expected,) = torch.autograd.grad(out[int(out.argmax())], weight)
        torch.testing.assert_close(got[row], expected, rtol=1e-9, atol=1e-12)


def test_a_float64_mask_on_a_float32_dgl_model_gives_the_float32_masks_values():
    g, x, _ = dgl_graph(dtype=torch.float32)
    assert_float64_masks_give_float32_values(DGLAdapter(dgl_model("GraphConv").float(), g, x, index=NODE))


def test_a_graph_without_nodes_is_the_same_clear_error_as_in_pyg():
    graphs = [dgl_graph(seed=s)[0] for s in range(2)]
    batch = dgl.batch([graphs[0], dgl.graph(([], []), num_nodes=0), graphs[1]])
    features = torch.randn(batch.num_nodes(), FEATURES, dtype=torch.float64)
    with pytest.raises(ValueError, match="graph 1 of the input has no nodes"):
        DGLAdapter(dgl_model("GraphConv"), batch, features, index=1, task="graph")


def test_layers_of_a_model_refusing_nodes_without_in_edges_are_discovered_once():
    """GraphConv refuses a node without in-edges (its default), as DGL's GCN example builds it: the one node layers
    are discovered on gets a self-loop, so a second adapter on the model runs it only to explain, not to discover
    its layers again on the whole graph."""
    g, x, _ = dgl_graph()
    g = dgl.add_self_loop(g)
    torch.manual_seed(0)
    model = GCN(FEATURES, HIDDEN, CLASSES).double().eval()
    calls = []
    handle = model.register_forward_pre_hook(lambda module, inputs: calls.append(1))
    try:
        DGLAdapter(model, g, x, index=1)
        first = len(calls)
        adapter = DGLAdapter(model, g, x, index=2)
        assert len(calls) == first
        got = EdgeGradient(adapter).attribute(adapter.ones())[0]
        assert len(calls) == first + 1
    finally:
        handle.remove()
    assert [(layer.name, layer.call) for layer in adapter.layers] == [("layers.0", 0), ("layers.1", 0)]
    weights = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
    h = model.layers[1](g, model.layers[0](g, x, edge_weight=weights), edge_weight=weights)[2]
    (expected,) = torch.autograd.grad(h[int(h.argmax())], weights)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduce_op", ["sum", "max", "min", "mean"])
@pytest.mark.parametrize("op", ["copy_lhs", "copy_rhs", "mul", "add", "sub", "div"])
def test_weighted_aggregation_reduces_each_message_times_its_weight(op, reduce_op):
    """Fused (the weight folded into the edge operand) or not, each message rho(x_u, x_e) is multiplied by w_e
    before the reduction: against the messages computed edge by edge and reduced with torch's scatter_reduce,
    values and gradients, with edge features broadcast over the node features' last dimension. Every node has an
    in-edge: DGL's max and min give -inf and inf where there is none, which update_all replaces by 0."""
    g = dgl.add_self_loop(dgl_graph()[0])
    src, dst = g.edges(order="eid")
    generator = torch.Generator().manual_seed(0)
    lhs = torch.randn(g.num_nodes(), 2, 3, dtype=torch.float64, generator=generator).requires_grad_()
    rhs = (torch.rand(g.num_edges(), 2, 1, dtype=torch.float64, generator=generator) + 0.5).requires_grad_()
    weights = torch.rand(g.num_edges(), dtype=torch.float64, generator=generator).requires_grad_()
    messages = {
        "copy_lhs": lambda: lhs[src], "copy_rhs": lambda: rhs, "mul": lambda: lhs[src] * rhs,
        "add": lambda: lhs[src] + rhs, "sub": lambda: lhs[src] - rhs, "div": lambda: lhs[src] / rhs,
    }[op]() * weights.view(-1, 1, 1)
    index = dst.view(-1, 1, 1).expand_as(messages)
    reduced = {"sum": "sum", "max": "amax", "min": "amin", "mean": "mean"}[reduce_op]
    expected = messages.new_zeros((g.num_nodes(),) + messages.shape[1:]).scatter_reduce(0, index, messages, reduced, include_self=False)
    got = weighted_aggregation(g, op, reduce_op, None if op == "copy_rhs" else lhs, None if op == "copy_lhs" else rhs, weights)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    probe = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
    inputs = [tensor for tensor, used in ((lhs, op != "copy_rhs"), (rhs, op != "copy_lhs"), (weights, True)) if used]
    for mine, theirs in zip(torch.autograd.grad((got * probe).sum(), inputs), torch.autograd.grad((expected * probe).sum(), inputs)):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-12)

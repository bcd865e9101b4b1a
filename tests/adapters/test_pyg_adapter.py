"""PyGAdapter against PyG's own mask machinery, brute force and the model itself."""

import copy

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer
from torch_geometric.nn import DirGNNConv, FastRGCNConv, GCNConv, RGCNConv, SAGEConv
from torch_geometric.utils import coalesce

from edgeattr import (
    BestWalk,
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    PyGAdapter,
    UnsupportedLayerError,
    sign_flips,
)
from tests.support.zoo import (
    BASIC_GNNS,
    CONVS,
    SINGLE_CALL,
    graph_batch,
    model_of,
    random_graph,
    reference_gradient,
)

NODE_MODELS = list(CONVS) + ["APPNP"] + list(BASIC_GNNS)
TARGET_NODE = 10


def node_call(name):
    x, edge_index, edge_attr = random_graph()
    model = model_of(name)
    kwargs = {"edge_attr": edge_attr} if getattr(model, "uses_edge_attr", False) else {}
    return model, (x, edge_index), kwargs


@pytest.mark.parametrize("name", NODE_MODELS)
def test_ones_mask_reproduces_the_model_output(name):
    model, args, kwargs = node_call(name)
    adapter = PyGAdapter(model, *args, index=TARGET_NODE, **kwargs)
    expected = model(*args, **kwargs)[TARGET_NODE]
    torch.testing.assert_close(adapter(adapter.ones())[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NODE_MODELS)
def test_edge_gradient_equals_autograd_through_pyg_set_masks(name):
    model, args, kwargs = node_call(name)
    adapter = PyGAdapter(model, *args, index=TARGET_NODE, **kwargs)
    target = int(model(*args, **kwargs)[TARGET_NODE].argmax())
    expected = reference_gradient(model, args, kwargs, args[1], TARGET_NODE, target)
    got = EdgeGradient(adapter).attribute(adapter.ones())[0]
    assert expected.abs().sum() > 0
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(CONVS))
def test_graph_task_gradient_equals_autograd_through_pyg_set_masks(name):
    x, edge_index, edge_attr, batch = graph_batch()
    model = model_of(name, pool=True)
    kwargs = {"batch": batch, **({"edge_attr": edge_attr} if model.uses_edge_attr else {})}
    adapter = PyGAdapter(model, x, edge_index, index=1, **kwargs)
    assert adapter.task == "graph"
    out = model(x, edge_index, **kwargs)
    torch.testing.assert_close(adapter(adapter.ones())[0], out[1], rtol=0, atol=1e-12)
    target = int(out[1].argmax())
    expected = reference_gradient(model, (x, edge_index), kwargs, edge_index, 1, target)
    got = EdgeGradient(adapter).attribute(adapter.ones())[0]
    in_graph = batch[edge_index[0]] == 1
    assert expected[in_graph].abs().sum() > 0 and not got[~in_graph].any()
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", SINGLE_CALL + ["GCN", "GAT", "GIN", "GraphSAGE"])
def test_layerwise_gradient_equals_per_module_masks(name):
    model, args, kwargs = node_call(name)
    adapter = PyGAdapter(model, *args, index=TARGET_NODE, layerwise=True, **kwargs)
    assert adapter.num_layers == 2
    target = int(model(*args, **kwargs)[TARGET_NODE].argmax())
    expected = reference_gradient(model, args, kwargs, args[1], TARGET_NODE, target, per_module=True)
    got = EdgeGradient(adapter).attribute(adapter.ones())[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NODE_MODELS)
def test_input_gradient_is_the_sum_of_layerwise_gradients(name):
    model, args, kwargs = node_call(name)
    flat = PyGAdapter(model, *args, index=TARGET_NODE, **kwargs)
    layered = PyGAdapter(model, *args, index=TARGET_NODE, layerwise=True, **kwargs)
    g = EdgeGradient(flat).attribute(flat.ones())
    G = EdgeGradient(layered).attribute(layered.ones())
    torch.testing.assert_close(G.sum(1), g, rtol=1e-9, atol=1e-12)


def test_appnp_and_sgconv_count_one_layer_per_propagation_step():
    model, args, kwargs = node_call("APPNP")
    assert PyGAdapter(model, *args, index=0).num_layers == 3
    model, args, kwargs = node_call("SGConv")
    adapter = PyGAdapter(model, *args, index=0)
    assert [(layer.name, layer.call) for layer in adapter.layers] == [("conv1", 0), ("conv1", 1), ("conv2", 0), ("conv2", 1)]


@pytest.mark.parametrize("name", ["GCNConv", "GATConv", "SAGEConv-mean", "GINEConv", "APPNP"])
def test_a_batch_of_masks_gives_the_rows_of_separate_calls(name):
    model, args, kwargs = node_call(name)
    adapter = PyGAdapter(model, *args, index=TARGET_NODE, **kwargs)
    masks = torch.rand(5, adapter.num_edges, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    batched = adapter(masks)
    single = torch.cat([adapter(m.view(1, -1)) for m in masks])
    small_chunks = PyGAdapter(model, *args, index=TARGET_NODE, copies_per_pass=2, **kwargs)(masks)
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-12)
    torch.testing.assert_close(small_chunks, single, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["GCNConv", "GATv2Conv", "SAGEConv-mean", "TransformerConv", "APPNP"])
def test_restriction_to_the_computation_subgraph_is_exact(name):
    model, args, kwargs = node_call(name)
    restricted = PyGAdapter(model, *args, index=TARGET_NODE, **kwargs)
    full = PyGAdapter(model, *args, index=TARGET_NODE, restrict=False, **kwargs)
    assert restricted.edge_ids.numel() < full.edge_ids.numel() == restricted.num_edges
    masks = torch.rand(3, restricted.num_edges, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(restricted(masks), full(masks), rtol=0, atol=1e-12)
    g_restricted = EdgeGradient(restricted).attribute(masks)
    outside = torch.ones(restricted.num_edges, dtype=torch.bool)
    outside[restricted.edge_ids] = False
    assert not g_restricted[:, outside].any()
    torch.testing.assert_close(g_restricted, EdgeGradient(full).attribute(masks), rtol=1e-9, atol=1e-12)


def test_self_loops_added_by_a_layer_keep_weight_one_and_input_loops_follow_the_layer():
    x, edge_index, _ = random_graph(self_loops=True, seed=5)
    loops = edge_index[0] == edge_index[1]
    assert loops.any()
    model = model_of("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=TARGET_NODE, restrict=False)
    # GCNConv replaces input self-loops by its own: zeroing them changes nothing.
    zeroed = adapter.ones().clone()
    zeroed[0, loops] = 0
    torch.testing.assert_close(adapter(zeroed), adapter(adapter.ones()), rtol=0, atol=0)
    target = int(model(x, edge_index)[TARGET_NODE].argmax())
    torch.testing.assert_close(
        EdgeGradient(adapter).attribute(adapter.ones())[0],
        reference_gradient(model, (x, edge_index), {}, edge_index, TARGET_NODE, target),
        rtol=1e-9,
        atol=1e-12,
    )


def test_cached_gcn_layers_do_not_reuse_their_cached_graph():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    conv = GCNConv(5, 3, cached=True).double()
    conv(x, edge_index)  # fills the cache with the full graph
    cached = conv._cached_edge_index
    adapter = PyGAdapter(conv, x, edge_index, index=TARGET_NODE)
    torch.testing.assert_close(adapter(adapter.ones())[0], conv(x, edge_index)[TARGET_NODE], rtol=0, atol=1e-12)
    assert conv._cached_edge_index is cached and conv.cached is True


def test_unsupported_layers_raise_an_error_naming_the_layer():
    x, edge_index, _ = random_graph()
    with pytest.raises(UnsupportedLayerError, match="GCNConv"):
        PyGAdapter(GCNConv(5, 3, decomposed_layers=2).double(), x, edge_index, index=0)


def relational_layer(conv, x, edge_index, edge_type, weights):
    """RGCNConv's closed form with a weight per edge: x_i W_0 + b + sum_r sum_{j->i in r} w_e x_j W_r / |N_r(i)|."""
    src, dst = edge_index
    out = x @ conv.root + conv.bias
    for relation in range(conv.num_relations):
        chosen = edge_type == relation
        degree = torch.zeros(x.size(0), dtype=x.dtype).index_add_(0, dst[chosen], torch.ones(int(chosen.sum()), dtype=x.dtype))
        message = (weights[chosen, None] * x[src[chosen]]) @ conv.weight[relation] / degree[dst[chosen], None]
        out = out.index_add(0, dst[chosen], message)
    return out


class TwoRelationalLayers(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.conv1, self.conv2 = layer(5, 4, num_relations=3), layer(4, 2, num_relations=3)

    def forward(self, x, edge_index, edge_type):
        return self.conv2(self.conv1(x, edge_index, edge_type).relu(), edge_index, edge_type)


@pytest.mark.parametrize("layer", [RGCNConv, FastRGCNConv])
def test_relational_layers_equal_a_closed_form_with_one_row_per_layer(layer):
    """Each relation's messages take its own edges' entries, also of parallel edges of two relations; layerwise,
    all relation calls of a layer share its row."""
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=60, seed=4)
    edge_index = coalesce(edge_index)
    edge_type = torch.arange(edge_index.size(1)) % 3
    edge_index = torch.cat([edge_index, edge_index[:, :8]], 1)  # the same pairs again, in the next relation
    edge_type = torch.cat([edge_type, (edge_type[:8] + 1) % 3])
    torch.manual_seed(0)
    model = TwoRelationalLayers(layer).double().eval()
    target = int(edge_index[1, 0])
    weights = torch.ones(2, edge_index.size(1), dtype=torch.float64, requires_grad=True)
    hidden = relational_layer(model.conv1, x, edge_index, edge_type, weights[0]).relu()
    out = relational_layer(model.conv2, hidden, edge_index, edge_type, weights[1])
    expected = torch.autograd.grad(out[target, out[target].argmax()], weights)[0]
    adapter = PyGAdapter(model, x, edge_index, edge_type, index=target, layerwise=True)
    calls = 3 if layer is RGCNConv else 1  # RGCNConv propagates once per relation, FastRGCNConv once
    assert adapter.num_layers == 2 and [call.row for call in adapter.layers] == [0] * calls + [1] * calls
    assert adapter.edge_ids.numel() < edge_index.size(1)  # restricted to two hops, not six
    torch.testing.assert_close(adapter(adapter.ones())[0], out[target].detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-10, atol=1e-12)
    if calls > 1:
        with pytest.raises(ValueError, match="one message-passing call per layer"):
            BestWalk(adapter).attribute(adapter.ones())


def test_a_model_pyg_gnnexplainer_ran_on_still_works():
    model, args, _ = node_call("GCNConv")
    untouched = copy.deepcopy(model)  # PyG's set_masks skips modules it has explained before
    explainer = Explainer(
        model,
        algorithm=PyGGNNExplainer(epochs=2),
        explanation_type="model",
        edge_mask_type="object",
        model_config=dict(mode="multiclass_classification", task_level="node", return_type="raw"),
    )
    explainer(*args, index=TARGET_NODE)
    assert "_edge_mask" in model.conv1._parameters  # what PyG leaves behind
    adapter = PyGAdapter(model, *args, index=TARGET_NODE)
    target = int(model(*args)[TARGET_NODE].argmax())
    torch.testing.assert_close(
        EdgeGradient(adapter).attribute(adapter.ones())[0],
        reference_gradient(untouched, args, {}, args[1], TARGET_NODE, target),
        rtol=1e-9,
        atol=1e-12,
    )


def test_edge_index_is_found_by_name_and_keyword_arguments_follow_the_graph():
    x, edge_index, edge_attr = random_graph()
    model = model_of("GINEConv")
    by_keyword = PyGAdapter(model, x=x, edge_index=edge_index, edge_attr=edge_attr, index=TARGET_NODE)
    positional = PyGAdapter(model, x, edge_index, edge_attr, index=TARGET_NODE)
    masks = torch.rand(2, edge_index.size(1), dtype=torch.float64)
    torch.testing.assert_close(by_keyword(masks), positional(masks), rtol=0, atol=0)


def test_clear_errors_for_bad_masks_and_index():
    model, args, _ = node_call("GCNConv")
    adapter = PyGAdapter(model, *args, index=TARGET_NODE)
    with pytest.raises(ValueError, match=r"shape \(B, 40\)"):
        adapter(torch.ones(1, 39, dtype=torch.float64))
    with pytest.raises(ValueError, match="layerwise=True"):
        adapter(torch.ones(1, 2, 40, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating dtype"):
        adapter(torch.ones(1, 40, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        adapter(torch.full((1, 40), float("nan"), dtype=torch.float64))
    with pytest.raises(IndexError, match="out of range"):
        PyGAdapter(model, *args, index=99)
    with pytest.raises(ValueError, match="index is required"):
        PyGAdapter(model, *args)
    with pytest.raises(ValueError, match="task='graph'"):  # the model's own output has one row, not one per node
        PyGAdapter(_Pooled(), *args, index=0)


class _Pooled(torch.nn.Module):
    """A graph-level model called without a batch vector."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 2).double()

    def forward(self, x, edge_index):
        return self.conv(x, edge_index).mean(0, keepdim=True)


def test_graph_model_without_batch_vector_runs_with_task_graph():
    x, edge_index, _ = random_graph()
    model = _Pooled()
    adapter = PyGAdapter(model, x, edge_index, task="graph")
    assert adapter.copies_per_pass == 1
    masks = torch.rand(3, edge_index.size(1), dtype=torch.float64)
    expected = torch.cat([adapter(m.view(1, -1)) for m in masks])
    torch.testing.assert_close(adapter(masks), expected, rtol=0, atol=0)
    torch.testing.assert_close(adapter(adapter.ones())[0], model(x, edge_index)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("edge_index", [torch.empty(2, 0, dtype=torch.long), torch.tensor([[0, 1], [1, 0]])], ids=["no edges", "target without in-edges"])
def test_degenerate_graphs_give_exact_zero_attributions(edge_index):
    x, _, _ = random_graph(num_nodes=5)
    conv = GCNConv(5, 2).double()
    adapter = PyGAdapter(conv, x, edge_index, index=3)
    torch.testing.assert_close(adapter(adapter.ones())[0], conv(x, edge_index)[3], rtol=0, atol=1e-12)
    zeros = torch.zeros(1, edge_index.size(1), dtype=torch.float64)
    for attribution in (
        EdgeGradient(adapter).attribute(adapter.ones()),
        EdgeOcclusion(adapter).attribute(adapter.ones()),
        EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove"),
        GNNExplainer(adapter, epochs=2).attribute(adapter.ones()),
    ):
        assert torch.equal(attribution, zeros)
    assert sign_flips(adapter, adapter.ones()).rate == 0.0


def test_reversed_edges_widen_the_computation_subgraph_both_ways():
    """DirGNNConv hears out-neighbours through the reversed edges: each target's subgraph grows both ways, exactly."""
    torch.manual_seed(0)
    x, edge_index = torch.randn(200, 5, dtype=torch.float64), torch.randint(0, 200, (2, 250))
    model = TwoConvs(DirGNNConv(GCNConv(5, 8), alpha=0.3), DirGNNConv(SAGEConv(8, 3), root_weight=False)).double().eval()
    targets = torch.arange(8)
    adapter = PyGAdapter(model, x, edge_index, index=targets)
    assert not adapter.exact_path and adapter.edge_ids.numel() < targets.numel() * edge_index.size(1) / 2
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(targets.tolist()):
        expected = reference_gradient(model, (x, edge_index), {}, edge_index, node, int(model(x, edge_index)[node].argmax()))
        torch.testing.assert_close(gradient[row], expected, rtol=1e-10, atol=1e-12)


class TwoConvs(torch.nn.Module):
    def __init__(self, conv1, conv2):
        super().__init__()
        self.conv1, self.conv2 = conv1, conv2

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)

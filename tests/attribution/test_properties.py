"""Property-based tests: invariants of the adapters and methods on random graphs and models."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeattr import EdgeGradient, EdgeOcclusion, LayerwiseOcclusion, PyGAdapter
from tests.support.strategies import graphs
from tests.support.zoo import LinearSGC, explained, model_of, reference_gradient, reference_output

LAYERS = ["GCNConv", "GATConv", "GATv2Conv", "SAGEConv-mean", "SAGEConv-sum", "GINConv", "GraphConv", "TransformerConv"]
REPLACES_LOOPS = {"GCNConv", "GATConv", "GATv2Conv"}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def reference(model, name, x, edge_index, node, target, gradient):
    """Edge gradient or message occlusion through PyG's set_masks, one entry per edge.

    Layers that replace input self-loops by their own (GCN, GAT) pass no message along an input
    loop: the reference runs on the graph without them, which these layers compute identically,
    and gives the loops 0. (On the graph with them, set_masks multiplies the layer's messages by
    the wrong entries whenever their count happens to equal the number of edges.)
    """
    kept = edge_index[0] != edge_index[1] if name in REPLACES_LOOPS else torch.ones(edge_index.size(1), dtype=torch.bool)
    graph = edge_index[:, kept]
    args = (x, graph)
    if gradient:
        values = reference_gradient(model, args, {}, graph, node, target)
    else:
        ones = torch.ones(graph.size(1), dtype=torch.float64)
        with torch.no_grad():
            base = explained(reference_output(model, args, {}, graph, node, ones), target)
            values = torch.stack([
                base - explained(reference_output(model, args, {}, graph, node, ones.index_fill(0, torch.tensor([e]), 0.0)), target)
                for e in range(graph.size(1))
            ]) if graph.size(1) else ones
    expected = torch.zeros(edge_index.size(1), dtype=torch.float64)
    expected[kept] = values
    return expected


cases = st.tuples(graphs(), st.sampled_from(LAYERS), st.integers(0, 1000))


@SETTINGS
@given(cases)
def test_ones_mask_reproduces_the_output_and_restriction_is_exact(case):
    (x, edge_index, node), name, seed = case
    model = model_of(name, seed=seed)
    restricted = PyGAdapter(model, x, edge_index, index=node)
    full = PyGAdapter(model, x, edge_index, index=node, restrict=False)
    torch.testing.assert_close(restricted(restricted.ones())[0], model(x, edge_index)[node], rtol=0, atol=1e-12)
    masks = torch.rand(3, edge_index.size(1), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(restricted(masks), full(masks), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(EdgeGradient(restricted).attribute(masks), EdgeGradient(full).attribute(masks), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(cases)
def test_gradients_match_pyg_and_sum_over_layers(case):
    (x, edge_index, node), name, seed = case
    model = model_of(name, seed=seed)
    target = int(model(x, edge_index)[node].argmax())
    flat = PyGAdapter(model, x, edge_index, index=node)
    layered = PyGAdapter(model, x, edge_index, index=node, layerwise=True)
    g = EdgeGradient(flat).attribute(flat.ones(), target=target)[0]
    G = EdgeGradient(layered).attribute(layered.ones(), target=target)[0]
    torch.testing.assert_close(g, reference(model, name, x, edge_index, node, target, gradient=True), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(G.sum(0), g, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(cases)
def test_batched_masks_are_one_by_one_and_occlusion_is_brute_force(case):
    (x, edge_index, node), name, seed = case
    model = model_of(name, seed=seed)
    adapter = PyGAdapter(model, x, edge_index, index=node, copies_per_pass=2)
    masks = torch.rand(5, edge_index.size(1), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(adapter(masks), torch.cat([adapter(m.view(1, -1)) for m in masks]), rtol=0, atol=1e-12)
    target = int(model(x, edge_index)[node].argmax())
    expected = reference(model, name, x, edge_index, node, target, gradient=False)
    torch.testing.assert_close(EdgeOcclusion(adapter).attribute(adapter.ones(), target=target)[0], expected, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(graphs(), st.integers(1, 3), st.integers(0, 1000))
def test_linear_models_have_layerwise_gradient_equal_to_layerwise_occlusion(graph, depth, seed):
    x, edge_index, node = graph
    torch.manual_seed(seed)
    adapter = PyGAdapter(LinearSGC(depth).double(), x, edge_index, index=node, layerwise=True)
    torch.testing.assert_close(
        LayerwiseOcclusion(adapter).attribute(adapter.ones()), EdgeGradient(adapter).attribute(adapter.ones()), rtol=1e-9, atol=1e-12
    )


@SETTINGS
@given(cases)
def test_the_same_seed_gives_the_same_results(case):
    (x, edge_index, node), name, seed = case
    first = EdgeOcclusion(PyGAdapter(model_of(name, seed=seed), x, edge_index, index=node)).attribute(torch.ones(1, edge_index.size(1), dtype=torch.float64))
    second = EdgeOcclusion(PyGAdapter(model_of(name, seed=seed), x, edge_index, index=node)).attribute(torch.ones(1, edge_index.size(1), dtype=torch.float64))
    assert first.dtype == torch.float64 and torch.equal(first, second)

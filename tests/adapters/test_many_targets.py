"""Many targets in one adapter (``index`` a tensor of ids) against one adapter per target."""

import pytest
import torch
from captum.attr import IntegratedGradients

import edgeattr.adapters.base.graph as graph_module
from edgeattr import EdgeGradient, EdgeOcclusion, GradientSign, LayerwiseOcclusion, PyGAdapter
from edgeattr.adapters.base import Neighbourhoods, Segments, subgraph
from tests.support.zoo import graph_batch, model_of, random_graph

# Node 13 of random_graph(seed=0) is repeated, so one node appears in two segments.
TARGETS = torch.tensor([10, 3, 0, 13, 7, 13])


def node_call(name, seed=0):
    x, edge_index, edge_attr = random_graph(seed=seed)
    model = model_of(name)
    kwargs = {"edge_attr": edge_attr} if getattr(model, "uses_edge_attr", False) else {}
    return model, (x, edge_index), kwargs


def one_by_one(method, model, args, kwargs, targets, layerwise=False, **options):
    rows = []
    for node in targets.tolist():
        adapter = PyGAdapter(model, *args, index=node, layerwise=layerwise, **kwargs)
        rows.append(method(adapter).attribute(adapter.ones(), **options))
    return torch.cat(rows)


METHODS = {
    "EdgeGradient": (EdgeGradient, False, {}),
    "GradientSign": (GradientSign, False, {}),
    "EdgeOcclusion-message": (EdgeOcclusion, False, {}),
    "EdgeOcclusion-remove": (EdgeOcclusion, False, {"mode": "remove"}),
    "LayerwiseGradient": (EdgeGradient, True, {}),
    "LayerwiseOcclusion": (LayerwiseOcclusion, True, {}),
}


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("name", ["GCNConv", "GATv2Conv", "GINEConv", "SAGEConv-mean", "APPNP"])
def test_many_targets_give_the_rows_of_single_targets(name, method):
    cls, layerwise, options = METHODS[method]
    model, args, kwargs = node_call(name)
    adapter = PyGAdapter(model, *args, index=TARGETS, layerwise=layerwise, **kwargs)
    assert adapter.num_targets == TARGETS.numel() and adapter.ones().shape[0] == TARGETS.numel()
    many = cls(adapter).attribute(adapter.ones(), **options)
    torch.testing.assert_close(many, one_by_one(cls, model, args, kwargs, TARGETS, layerwise, **options), rtol=1e-9, atol=1e-12)


def test_many_targets_split_into_several_passes_when_large(monkeypatch):
    monkeypatch.setattr(graph_module, "DEFAULT_ELEMENTS_PER_PASS", 60)
    model, args, kwargs = node_call("GCNConv")
    adapter = PyGAdapter(model, *args, index=TARGETS, layerwise=True, **kwargs)
    assert len(adapter._units) > 1
    torch.testing.assert_close(
        LayerwiseOcclusion(adapter).attribute(adapter.ones()),
        one_by_one(LayerwiseOcclusion, model, args, kwargs, TARGETS, layerwise=True),
        rtol=1e-9, atol=1e-12,
    )
    torch.testing.assert_close(
        EdgeGradient(adapter).attribute(adapter.ones()), one_by_one(EdgeGradient, model, args, kwargs, TARGETS, True), rtol=1e-9, atol=1e-12
    )


def test_rows_of_a_batch_cycle_through_the_targets_and_match_the_model():
    model, args, kwargs = node_call("GATConv")
    adapter = PyGAdapter(model, *args, index=TARGETS, **kwargs)
    masks = torch.rand(3 * TARGETS.numel(), adapter.num_edges, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = adapter(masks)
    with torch.no_grad():
        full = model(*args, **kwargs)
    torch.testing.assert_close(adapter(adapter.ones()), full[TARGETS], rtol=0, atol=1e-12)
    for row in range(masks.size(0)):
        single = PyGAdapter(model, *args, index=int(TARGETS[row % TARGETS.numel()]), **kwargs)
        torch.testing.assert_close(out[row], single(masks[row : row + 1])[0], rtol=0, atol=1e-12)


def test_captum_integrated_gradients_on_many_targets():
    model, args, kwargs = node_call("GCNConv")
    adapter = PyGAdapter(model, *args, index=TARGETS, **kwargs)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    many = IntegratedGradients(adapter).attribute(adapter.ones(), baselines=torch.zeros_like(adapter.ones()), target=targets, n_steps=16)
    for row, node in enumerate(TARGETS.tolist()):
        single = PyGAdapter(model, *args, index=node, **kwargs)
        expected = IntegratedGradients(single).attribute(single.ones(), baselines=torch.zeros_like(single.ones()), target=int(targets[row]), n_steps=16)
        torch.testing.assert_close(many[row : row + 1], expected, rtol=1e-9, atol=1e-12)


def test_many_graphs_of_a_batch():
    x, edge_index, edge_attr, batch = graph_batch()
    model = model_of("GINConv", pool=True)
    graphs = torch.tensor([2, 0, 2])
    adapter = PyGAdapter(model, x, edge_index, batch=batch, index=graphs)
    many = EdgeGradient(adapter).attribute(adapter.ones())
    occluded = EdgeOcclusion(adapter).attribute(adapter.ones())
    for row, graph in enumerate(graphs.tolist()):
        single = PyGAdapter(model, x, edge_index, batch=batch, index=graph)
        torch.testing.assert_close(many[row], EdgeGradient(single).attribute(single.ones())[0], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(occluded[row], EdgeOcclusion(single).attribute(single.ones())[0], rtol=1e-9, atol=1e-12)


def test_mask_rows_must_be_a_multiple_of_the_targets():
    model, args, kwargs = node_call("GCNConv")
    adapter = PyGAdapter(model, *args, index=TARGETS, **kwargs)
    with pytest.raises(ValueError, match="multiple of 6"):
        adapter(torch.ones(4, adapter.num_edges, dtype=torch.float64))
    with pytest.raises(ValueError, match="1-D tensor of ids"):
        PyGAdapter(model, *args, index=TARGETS.view(2, 3), **kwargs)
    with pytest.raises(ValueError, match="1-D tensor of ids"):
        PyGAdapter(model, *args, index=TARGETS[:0], **kwargs)
    with pytest.raises(IndexError, match="index 99 is out of range"):
        PyGAdapter(model, *args, index=torch.tensor([1, 99]), **kwargs)


def brute_force_within(src, dst, target, hops):
    """Nodes within hops of target (walking edges backwards)."""
    within, frontier = {target}, {target}
    for _ in range(hops):
        frontier = {int(s) for s, d in zip(src.tolist(), dst.tolist()) if d in frontier}
        within |= frontier
    return within


def brute_force_subgraph(src, dst, target, hops, out_edges=True):
    """Nodes within hops of target (walking edges backwards), one node at a time; without ``out_edges``,
    only the edges into nodes within hops."""
    within = {target}
    frontier = {target}
    for _ in range(hops):
        frontier = {int(s) for s, d in zip(src.tolist(), dst.tolist()) if d in frontier}
        within |= frontier
    inner = {target}
    frontier = {target}
    for _ in range(hops - 1):
        frontier = {int(s) for s, d in zip(src.tolist(), dst.tolist()) if d in frontier}
        inner |= frontier
    edges = [e for e, (s, d) in enumerate(zip(src.tolist(), dst.tolist())) if d in within or (out_edges and s in within)]
    message_edges = [position for position, e in enumerate(edges) if int(dst[e]) in inner]
    return edges, message_edges


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("targets_per_group", [None, 2])
@pytest.mark.parametrize("out_edges", [True, False])
def test_computation_subgraphs_match_a_breadth_first_search_per_target(hops, seed, targets_per_group, out_edges, monkeypatch):
    if targets_per_group is not None:  # targets expanded in groups of two, joined afterwards
        monkeypatch.setattr(subgraph, "KEYS_PER_GROUP", targets_per_group * 20)
    _, edge_index, _ = random_graph(num_nodes=20, num_edges=30, seed=seed, self_loops=True)
    src, dst = edge_index
    targets = torch.tensor([0, 5, 19, 5, 11])
    segments = Neighbourhoods(src, dst, 20).computation_subgraphs(targets, hops, out_edges=out_edges)
    for t, target in enumerate(targets.tolist()):
        edges, message_edges = brute_force_subgraph(src, dst, target, hops, out_edges)
        mine = segments.edge_segment == t
        assert segments.edge_ids[mine].tolist() == edges
        offset = int(mine.nonzero()[0]) if mine.any() else 0
        assert [int(c) - offset for c in segments.message_edges if segments.edge_segment[c] == t] == message_edges
        nodes = segments.nodes[segments.node_segment == t]
        assert int(nodes[segments.roots[t] - int((segments.node_segment < t).sum())]) == target
        # Endpoints within hops are the edge's own; those beyond are merged into the first of them.
        within = brute_force_within(src, dst, target, hops)
        beyond = sorted({int(n) for e in edges for n in (src[e], dst[e])} - within)
        for position, edge in zip(mine.nonzero().view(-1).tolist(), segments.edge_ids[mine].tolist()):
            for ends, own in ((segments.src, int(src[edge])), (segments.dst, int(dst[edge]))):
                assert int(segments.nodes[ends[position]]) == (own if own in within else beyond[0])
        assert sorted(nodes.tolist()) == sorted(within | set(beyond[:1]))


@pytest.mark.parametrize("pairs", [False, True])
def test_concatenated_selections_give_the_union_back(pairs):
    _, edge_index, _ = random_graph(num_nodes=20, num_edges=30, seed=3, self_loops=True)
    targets = torch.tensor([[0, 5, 19, 5, 11], [3, 3, 7, 0, 11]]) if pairs else torch.tensor([0, 5, 19, 5, 11])
    union = Neighbourhoods(edge_index[0], edge_index[1], 20).computation_subgraphs(targets, 2)
    joined = Segments.concatenate([union.select(0, 2), union.select(2, 3), union.select(3, 5)])
    for field in ("node_segment", "nodes", "edge_segment", "edge_ids", "src", "dst", "message_edges", "roots") + (("pairs",) if pairs else ()):
        assert torch.equal(getattr(joined, field), getattr(union, field)), field
    assert (joined.graph_level, joined.graphs_per_segment) == (union.graph_level, union.graphs_per_segment)


def test_layers_are_discovered_once_per_model_and_argument_layout():
    model, args, kwargs = node_call("GCNConv")
    calls = []
    handle = model.register_forward_pre_hook(lambda module, inputs: calls.append(1))
    try:
        PyGAdapter(model, *args, index=1, **kwargs)
        first = len(calls)
        adapter = PyGAdapter(model, *args, index=2, **kwargs)
        assert first >= 2 and len(calls) == first  # discovery and the self-loop probe ran once
        EdgeGradient(adapter).attribute(adapter.ones())
        assert len(calls) == first + 1  # the target class is read off the gradient pass
        model.extra = torch.nn.Identity()  # the model changed: discovered again
        PyGAdapter(model, *args, index=2, **kwargs)
        assert len(calls) > first + 1
    finally:
        handle.remove()


@pytest.mark.parametrize("layerwise", [False, True])
def test_sparse_attributions_equal_the_dense_ones(layerwise):
    model, args, kwargs = node_call("SAGEConv-mean")
    adapter = PyGAdapter(model, *args, index=TARGETS, layerwise=layerwise, **kwargs)
    dense = EdgeGradient(adapter).attribute(adapter.ones())
    sparse = EdgeGradient(adapter).attribute_sparse()
    assert sparse.is_sparse and sparse.shape == dense.shape
    assert sparse.values().numel() == adapter.edge_ids.numel() * (adapter.num_layers if layerwise else 1)
    torch.testing.assert_close(sparse.to_dense(), dense, rtol=0, atol=1e-12)
    signs = GradientSign(adapter, eps=0.01).attribute_sparse(target=[1, 1, 0, 2, 0, 1])
    torch.testing.assert_close(signs.to_dense(), GradientSign(adapter, eps=0.01).attribute(adapter.ones(), target=[1, 1, 0, 2, 0, 1]), rtol=0, atol=0)

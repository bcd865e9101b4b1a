"""PyGHeteroAdapter: many targets, computation subgraphs over every edge type, copies; HGTConv's concatenated edge types.

Every attribution is checked against a computation without edgeattr: autograd through PyG's own ``set_hetero_masks``
(``to_hetero`` models, one mask per relation module) or ``set_masks`` on each HGTConv over the ``edge_index`` it
propagates (every edge type, one after another), and occlusion against the model run on its input with the edge
deleted (or its mask entry zeroed through PyG's masks).
"""

import warnings

import pytest
import torch
from torch_geometric.explain.algorithm.utils import clear_masks, set_hetero_masks, set_masks
from torch_geometric.nn import GINEConv, GraphConv, HGTConv, MessagePassing, to_hetero
from torch_geometric.utils.hetero import construct_bipartite_edge_index

from edgeattr import EdgeGradient, EdgeOcclusion, FallbackWarning, GNNExplainer, LayerwiseOcclusion, UnsupportedLayerError, explain
from edgeattr.adapters import PyGHeteroAdapter
from edgeattr.adapters.base.interface import AdapterInterface, adapter_of
from tests.support.zoo import BipartiteTwoLayer, assert_same_state, state_of

F, HIDDEN, CLASSES = 5, 8, 3
SIZES = {"a": 40, "b": 30}
COUNTS = {("a", "to", "b"): 45, ("b", "to", "a"): 40, ("a", "near", "a"): 40}
EDGE_TYPES = list(COUNTS)
TARGETS = torch.tensor([3, 17, 0, 3, 25])  # node 3 twice: its subgraph appears in two segments
TOLERANCE = dict(rtol=1e-9, atol=1e-12)


def hetero_graph(seed=0):
    """Node features per type and distinct (src, dst) pairs per edge type, no self-loops: sparse, so subgraphs are small."""
    g = torch.Generator().manual_seed(seed)
    x = {t: torch.randn(n, F, generator=g, dtype=torch.float64) for t, n in SIZES.items()}
    edges = {}
    for (src, rel, dst), count in COUNTS.items():
        pairs = torch.stack(torch.meshgrid(torch.arange(SIZES[src]), torch.arange(SIZES[dst]), indexing="ij")).view(2, -1)
        pairs = pairs[:, pairs[0] != pairs[1]] if src == dst else pairs
        edges[src, rel, dst] = pairs[:, torch.randperm(pairs.size(1), generator=g)[:count]]
    return x, edges


class ToHetero(torch.nn.Module):
    """A to_hetero model whose output is the rows of node type 'a'."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.gnn = to_hetero(BipartiteTwoLayer(), (list(SIZES), EDGE_TYPES)).double()

    def forward(self, x_dict, edge_index_dict):
        return self.gnn(x_dict, edge_index_dict)["a"]


class HGT(torch.nn.Module):
    """As examples/hetero/hgt_dblp.py: a Linear per node type, two HGTConv, a Linear on the rows of type 'a'."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        metadata = (list(SIZES), EDGE_TYPES)
        self.lin_dict = torch.nn.ModuleDict({t: torch.nn.Linear(F, HIDDEN) for t in SIZES})
        self.convs = torch.nn.ModuleList([HGTConv(HIDDEN, HIDDEN, metadata, heads=2) for _ in range(2)])
        self.lin = torch.nn.Linear(HIDDEN, CLASSES)
        self.double()

    def forward(self, x_dict, edge_index_dict):
        x_dict = {t: self.lin_dict[t](x).relu() for t, x in x_dict.items()}
        for conv in self.convs:
            x_dict = conv(x_dict, edge_index_dict)
        return self.lin(x_dict["a"])


def calls_of(model, edges):
    """Each message-passing module of the model with the edge types of its messages, in order: a to_hetero relation
    module its own type (named after it), an HGTConv every type, in the order of edge_index_dict."""
    calls = []
    for name, module in model.named_modules():
        if isinstance(module, HGTConv):
            calls.append((module, list(edges)))
        elif isinstance(module, MessagePassing):
            calls.append((module, [next(t for t in edges if name.endswith("__".join(t)))]))
    return calls


def _masked(model, x, edges, row, set_all):
    """The model's output row with PyG's masks set by ``set_all()``; the masks are cleared afterwards, and the instance
    attributes ``explain = True`` leaves behind removed, so that the model is as before."""
    keys = {id(m): set(vars(m)) for m in model.modules()}
    try:
        set_all()
        return model(x, edges)[row]
    finally:
        clear_masks(model)
        for m in model.modules():
            for key in set(vars(m)) - keys[id(m)]:
                delattr(m, key)


def masked_output(model, x, edges, flat, row):
    """The output row with one mask ``flat`` over all edges (types in the order of edge_index_dict) on every call:
    PyG's ``set_hetero_masks`` (a mask per edge type on each relation module), and ``set_masks`` on each HGTConv
    over the edge_index it propagates (every type, in the order of edge_index_dict)."""
    per_type = dict(zip(edges, flat.split([e.size(1) for e in edges.values()])))

    def set_all():
        set_hetero_masks(model, per_type, edges, apply_sigmoid=False)
        for module, types in calls_of(model, edges):
            if isinstance(module, HGTConv):
                set_masks(module, torch.cat([per_type[t] for t in types]), torch.cat([edges[t] for t in types], 1), apply_sigmoid=False)

    return _masked(model, x, edges, row, set_all)


def per_call_output(model, x, edges, weights, row):
    """The output row with a mask of its own on each call (``weights[l]`` over the edges of call l's types), through
    PyG's ``set_masks`` on each module."""

    def set_all():
        for (module, types), w in zip(calls_of(model, edges), weights):
            set_masks(module, w, torch.cat([edges[t] for t in types], 1), apply_sigmoid=False)

    return _masked(model, x, edges, row, set_all)


def call_weights(model, edges, flat):
    """The per-call weights of one flat mask over all edges (edge types in the order of edge_index_dict)."""
    per_type = dict(zip(edges, flat.split([e.size(1) for e in edges.values()])))
    return [torch.cat([per_type[t] for t in types]) for _, types in calls_of(model, edges)]


def reference_gradient(model, x, edges, row, target, layerwise=False):
    """dz/dw through PyG's masks: (E,) for one mask shared by every call, or (L, E) for one mask per call."""
    num_edges = sum(e.size(1) for e in edges.values())
    calls = calls_of(model, edges)
    if not layerwise:
        w = torch.ones(num_edges, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(masked_output(model, x, edges, w, row)[target], w)
        return grad
    w = torch.ones(len(calls), num_edges, dtype=torch.float64, requires_grad=True)
    weights = [call_weights(model, edges, w[layer])[layer] for layer in range(len(calls))]
    (grad,) = torch.autograd.grad(per_call_output(model, x, edges, weights, row)[target], w)
    return grad


def without(model, x, edges, flat_edge):
    """The model's output with one edge (a position of the flat mask) deleted from its input."""
    kept, start = {}, 0
    for t, e in edges.items():
        keep = torch.ones(e.size(1), dtype=torch.bool)
        if start <= flat_edge < start + e.size(1):
            keep[flat_edge - start] = False
        kept[t], start = e[:, keep], start + e.size(1)
    with torch.no_grad():
        return model(x, kept)


MODELS = {"to_hetero": ToHetero, "HGTConv": HGT}


@pytest.mark.parametrize("name", list(MODELS))
def test_many_targets_on_their_subgraphs_equal_autograd_through_pygs_masks(name):
    model = MODELS[name]().eval()
    x, edges = hetero_graph()
    before = state_of(model)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    assert isinstance(adapter, AdapterInterface) and adapter_of(adapter) is adapter
    assert adapter.num_targets == TARGETS.numel() and adapter.ones().shape == (TARGETS.numel(), adapter.num_edges)
    # Each target runs on its computation subgraph, all of them as copies in one pass.
    assert not adapter.exact_path and adapter.copies_per_pass > 1 and len(adapter._units) == 1
    assert adapter.edge_ids.numel() < TARGETS.numel() * adapter.num_edges
    assert adapter.rounds == ([[0, 1, 2], [3, 4, 5]] if name == "to_hetero" else [[0], [1]])
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    with torch.no_grad():
        own = model(x, edges)
    torch.testing.assert_close(adapter(adapter.ones()), own[TARGETS], rtol=0, atol=1e-12)
    for row, node in enumerate(TARGETS.tolist()):
        expected = reference_gradient(model, x, edges, node, int(own[node].argmax()))
        assert expected.abs().sum() > 0
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)
        reaching = adapter.edge_ids[adapter.message_edges[adapter.edge_segment[adapter.message_edges] == row]]
        outside = torch.ones(adapter.num_edges, dtype=torch.bool)
        outside[reaching] = False
        assert outside.any() and (expected[outside] == 0).all()  # no edge outside the subgraph's messages matters
    single = PyGHeteroAdapter(model, x, edges, index=int(TARGETS[1]), restrict=False)
    assert single.exact_path and single.num_targets == 1
    torch.testing.assert_close(EdgeGradient(single).attribute(single.ones())[0], gradient[1], **TOLERANCE)
    assert_same_state(before, state_of(model))


@pytest.mark.parametrize("name", list(MODELS))
def test_rows_of_a_batch_cycle_through_the_targets_as_copies(name):
    model = MODELS[name]().eval()
    x, edges = hetero_graph(seed=1)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    masks = torch.rand(3 * TARGETS.numel(), adapter.num_edges, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = adapter(masks)
    with torch.no_grad():
        for row in range(masks.size(0)):
            node = int(TARGETS[row % TARGETS.numel()])
            torch.testing.assert_close(out[row], masked_output(model, x, edges, masks[row], node), **TOLERANCE)


@pytest.mark.parametrize("name", list(MODELS))
def test_layerwise_gradients_of_many_targets_equal_one_mask_per_call(name):
    model = MODELS[name]().eval()
    x, edges = hetero_graph(seed=2)
    targets = TARGETS[:3]
    adapter = PyGHeteroAdapter(model, x, edges, index=targets, layerwise=True)
    assert not adapter.exact_path and adapter.num_layers == len(calls_of(model, edges))
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(targets.tolist()):
        target = int(model(x, edges)[node].argmax())
        torch.testing.assert_close(gradient[row], reference_gradient(model, x, edges, node, target, layerwise=True), **TOLERANCE)
    occlusion = LayerwiseOcclusion(adapter).attribute(adapter.ones(), target=0)
    row, node = 1, int(targets[1])
    with torch.no_grad():
        base = model(x, edges)[node, 0]
        for layer, edge in (occlusion[row].abs() > 0).nonzero()[:4].tolist():
            zeroed = torch.ones(adapter.num_layers, adapter.num_edges, dtype=torch.float64)
            zeroed[layer, edge] = 0
            weights = [call_weights(model, edges, zeroed[call])[call] for call in range(adapter.num_layers)]
            torch.testing.assert_close(occlusion[row, layer, edge], base - per_call_output(model, x, edges, weights, node)[0], **TOLERANCE)


@pytest.mark.parametrize("name", list(MODELS))
def test_occlusion_on_subgraphs_equals_deleting_or_zeroing_the_edge(name):
    model = MODELS[name]().eval()
    x, edges = hetero_graph(seed=3)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    removed = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", target=1)
    zeroed = EdgeOcclusion(adapter).attribute(adapter.ones(), target=1)
    with torch.no_grad():
        own = model(x, edges)
    for row in (0, 4):
        node = int(TARGETS[row])
        checked = (removed[row] != 0).nonzero().view(-1)[:5].tolist() + (removed[row] == 0).nonzero().view(-1)[:2].tolist()
        for edge in checked:
            torch.testing.assert_close(removed[row, edge], own[node, 1] - without(model, x, edges, edge)[node, 1], **TOLERANCE)
            mask = torch.ones(adapter.num_edges, dtype=torch.float64)
            mask[edge] = 0
            with torch.no_grad():
                expected = own[node, 1] - masked_output(model, x, edges, mask, node)[1]
            torch.testing.assert_close(zeroed[row, edge], expected, **TOLERANCE)


def test_gnnexplainer_and_sparse_gradients_run_unchanged_on_subgraphs():
    model = HGT().eval()
    x, edges = hetero_graph(seed=4)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    whole = PyGHeteroAdapter(model, x, edges, index=TARGETS, restrict=False)
    assert not adapter.exact_path and whole.exact_path
    torch.manual_seed(5)
    learnt = GNNExplainer(adapter, epochs=4).attribute(adapter.ones())
    torch.manual_seed(5)
    learnt_whole = GNNExplainer(whole, epochs=4).attribute(whole.ones())
    assert learnt.shape == (TARGETS.numel(), adapter.num_edges) and learnt.gt(0).any()
    torch.testing.assert_close(learnt, learnt_whole, rtol=1e-7, atol=1e-9)
    sparse = EdgeGradient(adapter).attribute_sparse()
    dense = EdgeGradient(adapter).attribute(adapter.ones())
    assert sparse.values().numel() == adapter.edge_ids.numel()
    torch.testing.assert_close(sparse.to_dense(), dense, rtol=0, atol=1e-12)
    for row, node in enumerate(TARGETS.tolist()):
        torch.testing.assert_close(dense[row], reference_gradient(model, x, edges, node, int(model(x, edges)[node].argmax())), **TOLERANCE)


def test_explain_on_hgt_attributes_the_concatenated_edges_per_edge_type():
    model = HGT().eval()
    x, edges = hetero_graph(seed=5)
    explanation = explain(model, x, edges, index=7, method="edge_gradient")
    expected = reference_gradient(model, x, edges, 7, explanation.target)
    torch.testing.assert_close(explanation.edge_mask, expected, **TOLERANCE)
    assert list(explanation.edge_mask_dict) == EDGE_TYPES
    outside = torch.ones(expected.numel(), dtype=torch.bool)
    outside[explanation.computation_edges] = False
    assert outside.any() and (expected[outside] == 0).all()


class Chained(torch.nn.Module):
    """Three relation calls, each reading the one before: a->b, then b->a, then a->a."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.ab, self.ba, self.aa = GraphConv((F, F), F), GraphConv((F, F), F), GraphConv(F, CLASSES)
        self.double()

    def forward(self, x_dict, edge_index_dict):
        b = self.ab((x_dict["a"], x_dict["b"]), edge_index_dict[EDGE_TYPES[0]]).relu()
        a = self.ba((b, x_dict["a"]), edge_index_dict[EDGE_TYPES[1]]).relu()
        return self.aa(a, edge_index_dict[EDGE_TYPES[2]])


def test_calls_that_read_each_other_are_rounds_of_their_own():
    model = Chained().eval()
    x, edges = hetero_graph(seed=11)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    assert adapter.rounds == [[0], [1], [2]] and not adapter.exact_path
    assert adapter.edge_ids.numel() < TARGETS.numel() * adapter.num_edges
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(TARGETS.tolist()):
        w = torch.ones(adapter.num_edges, dtype=torch.float64, requires_grad=True)
        per_type = dict(zip(edges, w.split([e.size(1) for e in edges.values()])))

        def set_all():
            for module, edge_type in ((model.ab, EDGE_TYPES[0]), (model.ba, EDGE_TYPES[1]), (model.aa, EDGE_TYPES[2])):
                set_masks(module, per_type[edge_type], edges[edge_type], apply_sigmoid=False)

        out = _masked(model, x, edges, node, set_all)
        (expected,) = torch.autograd.grad(out[int(out.argmax())], w)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)


class Normalised(ToHetero):
    """Not local: each output row is centred by the mean over every node of type 'a'."""

    def forward(self, x_dict, edge_index_dict):
        out = self.gnn(x_dict, edge_index_dict)["a"]
        return out - out.mean(0)


def test_a_model_that_is_not_local_falls_back_to_the_whole_graph_with_one_warning():
    model = Normalised().eval()
    x, edges = hetero_graph(seed=6)
    with pytest.warns(FallbackWarning, match="not local"):
        adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS[:2])
    assert adapter.exact_path and adapter.edge_ids.numel() == 2 * adapter.num_edges
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(TARGETS[:2].tolist()):
        torch.testing.assert_close(gradient[row], reference_gradient(model, x, edges, node, int(model(x, edges)[node].argmax())), **TOLERANCE)
    with warnings.catch_warnings():  # the verdict is kept per model and inputs: no second warning
        warnings.simplefilter("error", FallbackWarning)
        again = PyGHeteroAdapter(model, x, edges, index=4)
    assert again.exact_path


class WithEdgeFeatures(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = GINEConv(torch.nn.Linear(F, F), edge_dim=2)
        self.conv2 = GINEConv(torch.nn.Linear(F, CLASSES), edge_dim=2)

    def forward(self, x, edge_index, edge_attr):
        return self.conv2(self.conv1(x, edge_index, edge_attr).relu(), edge_index, edge_attr)


def test_edge_features_per_type_follow_the_subgraphs_and_the_deleted_edges():
    torch.manual_seed(2)
    gnn = to_hetero(WithEdgeFeatures(), (list(SIZES), EDGE_TYPES)).double().eval()
    x, edges = hetero_graph(seed=7)
    g = torch.Generator().manual_seed(8)
    attrs = {t: torch.randn(e.size(1), 2, generator=g, dtype=torch.float64) for t, e in edges.items()}
    targets = TARGETS[:3]
    adapter = PyGHeteroAdapter(gnn, x, edges, index=targets, node_type="a", edge_attr=attrs)
    assert not adapter.exact_path and adapter.edge_ids.numel() < targets.numel() * adapter.num_edges
    gradient = EdgeGradient(adapter).attribute(adapter.ones(), target=0)
    removed = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", target=0)
    with torch.no_grad():
        base = gnn(x, edges, attrs)["a"]
    for row, node in enumerate(targets.tolist()):
        ones = {t: torch.ones(e.size(1), dtype=torch.float64, requires_grad=True) for t, e in edges.items()}
        set_hetero_masks(gnn, ones, edges, apply_sigmoid=False)
        try:
            grads = torch.autograd.grad(gnn(x, edges, attrs)["a"][node, 0], list(ones.values()), allow_unused=True)
        finally:
            clear_masks(gnn)
        expected = torch.cat([torch.zeros_like(m) if d is None else d for m, d in zip(ones.values(), grads)])
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)
        for edge in (expected != 0).nonzero().view(-1)[:4].tolist():
            edge_type, start = next((t, s) for t, s in zip(edges, torch.tensor([0] + [e.size(1) for e in edges.values()]).cumsum(0).tolist()) if edge < s + edges[t].size(1))
            keep = torch.arange(edges[edge_type].size(1)) != edge - start
            with torch.no_grad():
                cut = gnn(x, {**edges, edge_type: edges[edge_type][:, keep]}, {**attrs, edge_type: attrs[edge_type][keep]})["a"]
            torch.testing.assert_close(removed[row, edge], base[node, 0] - cut[node, 0], **TOLERANCE)


class Concatenating(MessagePassing):
    """One propagate over edge types concatenated in the order ``order``, each source type block its own (as HGTConv
    does), messages ``x_j`` scaled by a weight per edge type."""

    def __init__(self, order):
        super().__init__(aggr="add")
        self.order = order
        self.scale = torch.nn.Parameter(torch.arange(1.0, len(order) + 1, dtype=torch.float64))

    def forward(self, x_dict, edge_index_dict):
        src_offset, start, xs, scales = {}, 0, [], []
        for i, t in enumerate(self.order):
            src_offset[t], start = start, start + x_dict[t[0]].size(0)
            xs.append(x_dict[t[0]])
            scales.append(self.scale[i].expand(edge_index_dict[t].size(1)))
        dst_offset = {"a": 0, "b": x_dict["a"].size(0)}
        edge_index, _ = construct_bipartite_edge_index(edge_index_dict, src_offset, dst_offset)
        out = self.propagate(edge_index, x=(torch.cat(xs), torch.cat([x_dict["a"], x_dict["b"]])), scale=torch.cat(scales))
        return out[: x_dict["a"].size(0)]

    def message(self, x_j, scale):
        return x_j * scale.view(-1, 1)


def test_a_concatenation_in_another_order_is_matched_by_its_columns():
    x, edges = hetero_graph(seed=9)
    order = [EDGE_TYPES[2], EDGE_TYPES[0], EDGE_TYPES[1]]
    conv = Concatenating(order).eval()
    nodes = torch.bincount(torch.cat([edges[EDGE_TYPES[1]][1], edges[EDGE_TYPES[2]][1]]), minlength=SIZES["a"]).topk(2).indices
    adapter = PyGHeteroAdapter(conv, x, edges, index=nodes)
    gradient = EdgeGradient(adapter).attribute(adapter.ones(), target=2)
    for row, node in enumerate(nodes.tolist()):
        w = torch.ones(adapter.num_edges, dtype=torch.float64, requires_grad=True)
        per_type = dict(zip(edges, w.split([e.size(1) for e in edges.values()])))
        set_masks(conv, torch.cat([per_type[t] for t in order]), torch.cat([edges[t] for t in order], 1), apply_sigmoid=False)
        try:
            (expected,) = torch.autograd.grad(conv(x, edges)[node, 2], w)
        finally:
            clear_masks(conv)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)


def test_a_concatenation_that_fits_several_arrangements_is_refused_naming_the_layer():
    x, edges = hetero_graph(seed=10)
    same = {("a", "one", "a"): edges[EDGE_TYPES[2]], ("a", "two", "a"): edges[EDGE_TYPES[2]].clone()}
    model = Concatenating(list(same)).eval()
    before = state_of(model)
    with pytest.raises(UnsupportedLayerError, match=r"layer 'Concatenating' \(Concatenating\).*several arrangements"):
        PyGHeteroAdapter(model, x, same, index=0)
    assert_same_state(before, state_of(model))


def test_bad_indices_and_the_options_that_keep_the_whole_graph():
    model = ToHetero().eval()
    x, edges = hetero_graph()
    for bad, error, message in [
        (TARGETS.view(1, -1), ValueError, "1-D tensor of ids"),
        (TARGETS[:0], ValueError, "1-D tensor of ids"),
        (TARGETS.double(), ValueError, "1-D tensor of ids"),
        ("3", TypeError, "integer node id"),
        (torch.tensor([1, SIZES["a"]]), IndexError, f"index {SIZES['a']} is out of range"),
    ]:
        with pytest.raises(error, match=message):
            PyGHeteroAdapter(model, x, edges, index=bad)
    adapter = PyGHeteroAdapter(model, x, edges, index=TARGETS)
    with pytest.raises(ValueError, match="multiple of 5"):
        adapter(torch.ones(3, adapter.num_edges, dtype=torch.float64))
    for options in ({"restrict": False}, {"verify": False}):
        whole = PyGHeteroAdapter(model, x, edges, index=TARGETS, **options)
        assert whole.exact_path and whole.copies_per_pass == 1
        torch.testing.assert_close(whole(whole.ones()), adapter(adapter.ones()), **TOLERANCE)
    assert PyGHeteroAdapter(model, x, edges, index=torch.tensor(3)).index == 3
    with pytest.raises(ValueError, match="copies_per_pass must be a positive integer"):
        PyGHeteroAdapter(model, x, edges, index=3, copies_per_pass=0)
    one_per_pass = PyGHeteroAdapter(model, x, edges, index=TARGETS, copies_per_pass=1)
    assert not one_per_pass.exact_path and one_per_pass.copies_per_pass == 1
    torch.testing.assert_close(EdgeGradient(one_per_pass).attribute(one_per_pass.ones()), EdgeGradient(adapter).attribute(adapter.ones()), **TOLERANCE)

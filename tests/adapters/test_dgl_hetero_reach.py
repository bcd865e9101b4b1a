"""DGLHeteroAdapter and DGLBlockAdapter with many targets; heterographs on computation subgraphs and in copies.

Every attribution is checked against DGL's own edge weights (``edge_weight`` of each relation module, per layer, or
per block from the parent edge ids), and occlusion against the model run on its graph with the edge deleted
(``dgl.remove_edges``, or the parent graph's edge for full-neighbour blocks).
"""

import warnings

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GraphConv, HeteroGraphConv, SAGEConv  # noqa: E402

from edgeattr import DGLBlockAdapter, DGLHeteroAdapter, EdgeGradient, EdgeOcclusion, FallbackWarning, GNNExplainer, LayerwiseOcclusion  # noqa: E402
from edgeattr.adapters.base.interface import AdapterInterface  # noqa: E402
from tests.support.zoo import assert_same_state, state_of  # noqa: E402

F, CLASSES = 5, 3
USERS, ITEMS = 40, 25
RELATIONS = [("item", "bought_by", "user"), ("user", "buys", "item"), ("user", "follows", "user")]
TARGETS = torch.tensor([3, 17, 0, 3, 30])
TOLERANCE = dict(rtol=1e-9, atol=1e-12)
ORIGINAL = dgl.core.message_passing


def heterograph(seed=0):
    """Users following users (and a ring of follows, so that every user is followed), buying items, items bought by
    users; float64 features."""
    g = torch.Generator().manual_seed(seed)
    follows = torch.stack([torch.randint(0, USERS, (50,), generator=g), torch.randint(0, USERS, (50,), generator=g)])
    follows = follows[:, follows[0] != follows[1]]
    ring = torch.arange(USERS)
    follows = torch.cat([follows, torch.stack([ring, (ring + 1) % USERS])], 1)
    buys = torch.stack([torch.randint(0, USERS, (40,), generator=g), torch.randint(0, ITEMS, (40,), generator=g)])
    graph = dgl.heterograph(
        {RELATIONS[2]: (follows[0], follows[1]), RELATIONS[1]: (buys[0], buys[1]), RELATIONS[0]: (buys[1], buys[0])},
        num_nodes_dict={"user": USERS, "item": ITEMS},
    )
    feats = {"user": torch.randn(USERS, F, generator=g, dtype=torch.float64), "item": torch.randn(ITEMS, F, generator=g, dtype=torch.float64)}
    return graph, feats


class Model(torch.nn.Module):
    """Two HeteroGraphConv layers, one module per relation; ``weights`` (per layer, per relation) are DGL's own edge weights."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)

        def layer(i, o):
            return HeteroGraphConv({"follows": GraphConv(i, o), "buys": SAGEConv(i, o, "mean"), "bought_by": GraphConv(i, o)}, aggregate="sum")

        self.conv1, self.conv2 = layer(F, 6), layer(6, CLASSES)
        self.double()

    def forward(self, g, feats, weights=None):
        first, second = weights if weights is not None else ({}, {})
        h = {k: v.relu() for k, v in self.conv1(g, feats, mod_kwargs={r[1]: {"edge_weight": w} for r, w in first.items()}).items()}
        return self.conv2(g, h, mod_kwargs={r[1]: {"edge_weight": w} for r, w in second.items()})


def per_type(g, flat):
    """A flat mask (edge types in the order of g.canonical_etypes) per edge type."""
    return dict(zip(g.canonical_etypes, flat.split([g.num_edges(t) for t in g.canonical_etypes])))


def native_gradient(model, g, feats, node, target, layerwise=False):
    """dz/dw through the layers' own edge_weight: one weight per edge (E,), or one per edge and layer (2, E)."""
    w = torch.ones((2, g.num_edges()) if layerwise else g.num_edges(), dtype=torch.float64, requires_grad=True)
    first, second = (per_type(g, w[0]), per_type(g, w[1])) if layerwise else (per_type(g, w), per_type(g, w))
    (grad,) = torch.autograd.grad(model(g, feats, (first, second))["user"][node, target], w)
    return grad


def test_many_targets_on_their_subgraphs_equal_dgls_edge_weights():
    g, feats = heterograph()
    model = Model().eval()
    before = state_of(model)
    adapter = DGLHeteroAdapter(model, g, feats, index=TARGETS, ntype="user")
    assert isinstance(adapter, AdapterInterface) and adapter.ones().shape == (TARGETS.numel(), g.num_edges())
    assert not adapter.exact_path and adapter.copies_per_pass > 1 and adapter.rounds == [[0, 1, 2], [3, 4, 5]]
    assert adapter.edge_ids.numel() < TARGETS.numel() * g.num_edges()
    with torch.no_grad():
        own = model(g, feats)["user"]
    torch.testing.assert_close(adapter(adapter.ones()), own[TARGETS], rtol=0, atol=1e-12)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(TARGETS.tolist()):
        expected = native_gradient(model, g, feats, node, int(own[node].argmax()))
        assert expected.abs().sum() > 0
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)
    single = DGLHeteroAdapter(model, g, feats, index=int(TARGETS[1]), ntype="user", restrict=False)
    assert single.exact_path
    torch.testing.assert_close(EdgeGradient(single).attribute(single.ones())[0], gradient[1], **TOLERANCE)
    assert_same_state(before, state_of(model))
    assert dgl.core.message_passing is ORIGINAL


def test_rows_of_a_batch_cycle_through_the_targets_and_layers_keep_their_own_rows():
    g, feats = heterograph(seed=1)
    model = Model().eval()
    adapter = DGLHeteroAdapter(model, g, feats, index=TARGETS, ntype="user")
    masks = torch.rand(2 * TARGETS.numel(), g.num_edges(), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = adapter(masks)
    with torch.no_grad():
        for row in range(masks.size(0)):
            weights = per_type(g, masks[row])
            torch.testing.assert_close(out[row], model(g, feats, (weights, weights))["user"][int(TARGETS[row % TARGETS.numel()])], **TOLERANCE)
    layerwise = DGLHeteroAdapter(model, g, feats, index=TARGETS[:3], ntype="user", layerwise=True)
    assert not layerwise.exact_path
    gradient = EdgeGradient(layerwise).attribute(layerwise.ones())
    for row, node in enumerate(TARGETS[:3].tolist()):
        expected = native_gradient(model, g, feats, node, int(model(g, feats)["user"][node].argmax()), layerwise=True)
        # the adapter's layers are the six relation calls; the native weights are per layer: sum each layer's three calls
        calls = [layerwise.layers[c].name.split(".")[0] for c in range(layerwise.num_layers)]
        summed = torch.stack([gradient[row][[c for c, name in enumerate(calls) if name == conv]].sum(0) for conv in ("conv1", "conv2")])
        torch.testing.assert_close(summed, expected, **TOLERANCE)
    occlusion = LayerwiseOcclusion(layerwise).attribute(layerwise.ones(), target=0)
    with torch.no_grad():
        node = int(TARGETS[1])
        base = model(g, feats)["user"][node, 0]
        for call, edge in (occlusion[1].abs() > 0).nonzero()[:4].tolist():
            w = torch.ones(2, g.num_edges(), dtype=torch.float64)
            w[0 if layerwise.layers[call].name.startswith("conv1") else 1, edge] = 0
            expected = base - model(g, feats, (per_type(g, w[0]), per_type(g, w[1])))["user"][node, 0]
            torch.testing.assert_close(occlusion[1, call, edge], expected, **TOLERANCE)


def test_occlusion_on_subgraphs_equals_deleting_or_zeroing_the_edge():
    g, feats = heterograph(seed=2)
    model = Model().eval()
    adapter = DGLHeteroAdapter(model, g, feats, index=TARGETS, ntype="user")
    removed = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", target=2)
    zeroed = EdgeOcclusion(adapter).attribute(adapter.ones(), target=2)
    starts = dict(zip(g.canonical_etypes, torch.tensor([0] + [g.num_edges(t) for t in g.canonical_etypes]).cumsum(0).tolist()))
    with torch.no_grad():
        own = model(g, feats)["user"]
        for row in (1, 4):
            node = int(TARGETS[row])
            for edge in (removed[row] != 0).nonzero().view(-1)[:5].tolist() + (removed[row] == 0).nonzero().view(-1)[:2].tolist():
                etype = next(t for t in reversed(g.canonical_etypes) if edge >= starts[t])
                cut = dgl.remove_edges(g, torch.tensor([edge - starts[etype]]), etype=etype)
                torch.testing.assert_close(removed[row, edge], own[node, 2] - model(cut, feats)["user"][node, 2], **TOLERANCE)
                w = torch.ones(g.num_edges(), dtype=torch.float64)
                w[edge] = 0
                expected = own[node, 2] - model(g, feats, (per_type(g, w), per_type(g, w)))["user"][node, 2]
                torch.testing.assert_close(zeroed[row, edge], expected, **TOLERANCE)
    assert dgl.core.message_passing is ORIGINAL


def test_gnnexplainer_runs_unchanged_on_subgraphs():
    g, feats = heterograph(seed=3)
    model = Model().eval()
    adapter = DGLHeteroAdapter(model, g, feats, index=TARGETS, ntype="user")
    whole = DGLHeteroAdapter(model, g, feats, index=TARGETS, ntype="user", restrict=False)
    assert not adapter.exact_path and whole.exact_path
    torch.manual_seed(4)
    learnt = GNNExplainer(adapter, epochs=4).attribute(adapter.ones())
    torch.manual_seed(4)
    torch.testing.assert_close(learnt, GNNExplainer(whole, epochs=4).attribute(whole.ones()), rtol=1e-7, atol=1e-9)
    assert learnt.gt(0).any()


class Centred(Model):
    """Not local: every user's output is centred by the mean over all users."""

    def forward(self, g, feats, weights=None):
        out = super().forward(g, feats, weights)
        return {**out, "user": out["user"] - out["user"].mean(0)}


def test_a_model_that_is_not_local_falls_back_to_the_whole_graph_with_one_warning():
    g, feats = heterograph(seed=4)
    model = Centred().eval()
    with pytest.warns(FallbackWarning, match="not local"):
        adapter = DGLHeteroAdapter(model, g, feats, index=TARGETS[:2], ntype="user")
    assert adapter.exact_path and adapter.edge_ids.numel() == 2 * g.num_edges()
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(TARGETS[:2].tolist()):
        torch.testing.assert_close(gradient[row], native_gradient(model, g, feats, node, int(model(g, feats)["user"][node].argmax())), **TOLERANCE)
    with warnings.catch_warnings():  # kept per model and inputs: no second warning
        warnings.simplefilter("error", FallbackWarning)
        assert DGLHeteroAdapter(model, g, feats, index=5, ntype="user").exact_path


class ReadsItsGraph(torch.nn.Module):
    """The model above reading its heterograph itself: ``model(feats)``."""

    def __init__(self, graph):
        super().__init__()
        self.g, self.inner = graph, Model()

    def forward(self, feats, weights=None):
        return self.inner(self.g, feats, weights)


def test_many_targets_of_a_model_that_reads_its_graph_run_whole_and_exact():
    g, feats = heterograph(seed=5)
    model = ReadsItsGraph(g).eval()
    adapter = DGLHeteroAdapter(model, feats, graph=g, index=TARGETS[:3], ntype="user")
    assert adapter.exact_path and not adapter.passes_graph
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    for row, node in enumerate(TARGETS[:3].tolist()):
        torch.testing.assert_close(gradient[row], native_gradient(model.inner, g, feats, node, int(model(feats)["user"][node].argmax())), **TOLERANCE)
    with pytest.raises(ValueError, match="reads its graph itself"):
        EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")


class BlockSAGE(torch.nn.Module):
    """Two SAGEConv layers on sampled blocks; ``edge_weights`` per block are DGL's own edge weights."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv1, self.conv2 = SAGEConv(F, 6, "mean"), SAGEConv(6, CLASSES, "mean")
        self.double()

    def forward(self, blocks, feat, edge_weights=None):
        w1, w2 = edge_weights if edge_weights is not None else (None, None)
        h = self.conv1(blocks[0], feat, edge_weight=w1).relu()
        return self.conv2(blocks[1], h, edge_weight=w2)


def parent_and_blocks(seeds):
    g = torch.Generator().manual_seed(6)
    src, dst = torch.randint(0, 30, (90,), generator=g), torch.randint(0, 30, (90,), generator=g)
    parent = dgl.graph((src, dst), num_nodes=30)
    x = torch.randn(30, F, generator=g, dtype=torch.float64)
    input_nodes, _, blocks = dgl.dataloading.MultiLayerFullNeighborSampler(2).sample_blocks(parent, seeds)
    return parent, x, x[input_nodes], blocks


def test_many_seeds_of_sampled_blocks_equal_dgls_edge_weights_and_deletion():
    seeds = torch.tensor([4, 11, 20, 2])
    parent, x, feat, blocks = parent_and_blocks(seeds)
    model = BlockSAGE().eval()
    explained = torch.tensor([20, 4, 20])
    adapter = DGLBlockAdapter(model, blocks, feat, index=explained, parent_graph=parent)
    assert isinstance(adapter, AdapterInterface) and adapter.num_targets == 3 and adapter.ones().shape == (3, parent.num_edges())
    rows = [int((blocks[-1].dstdata[dgl.NID] == s).nonzero()) for s in explained.tolist()]
    with torch.no_grad():
        own = model(blocks, feat)
    torch.testing.assert_close(adapter(adapter.ones()), own[rows], rtol=0, atol=1e-12)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    removed = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", target=0)
    for row, seed_row in enumerate(rows):
        weight = torch.ones(parent.num_edges(), dtype=torch.float64, requires_grad=True)
        out = model(blocks, feat, [weight[b.edata[dgl.EID]] for b in blocks])[seed_row]
        (expected,) = torch.autograd.grad(out[int(out.argmax())], weight)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(gradient[row], expected, **TOLERANCE)
    with torch.no_grad():  # all neighbours sampled: deleting a parent edge is deleting it from the whole graph
        whole = model.conv2(parent, model.conv1(parent, x).relu())
        for edge in (removed[0] != 0).nonzero().view(-1)[:5].tolist():
            cut = dgl.remove_edges(parent, torch.tensor([edge]))
            torch.testing.assert_close(removed[0, edge], whole[20, 0] - model.conv2(cut, model.conv1(cut, x).relu())[20, 0], **TOLERANCE)
    masks = torch.rand(6, parent.num_edges(), dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        out = adapter(masks)
        for row in range(6):
            expected = model(blocks, feat, [masks[row][b.edata[dgl.EID]] for b in blocks])[rows[row % 3]]
            torch.testing.assert_close(out[row], expected, **TOLERANCE)
    for bad, error, message in [(torch.tensor([4, 5]), IndexError, "node 5 is not a seed"), (explained.view(1, -1), ValueError, "1-D tensor")]:
        with pytest.raises(error, match=message):
            DGLBlockAdapter(model, blocks, feat, index=bad, parent_graph=parent)
    assert dgl.core.message_passing is ORIGINAL

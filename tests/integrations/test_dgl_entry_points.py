"""explain() and DGLExplainer on DGL sampled blocks and heterographs, against the layers' own edge weights."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402

from edgeattr import explain  # noqa: E402
from edgeattr.explanation import EdgeExplanation, HeteroEdgeExplanation  # noqa: E402
from edgeattr.integrations.dgl import DGLExplainer  # noqa: E402
from tests.support.dgl_zoo import (  # noqa: E402
    RELATIONS,
    BlockSAGE,
    HeteroModel,
    dgl_graph,  # noqa: E402
    hetero_case,
    sampled,
)
from tests.support.zoo import assert_same_state, state_of  # noqa: E402

NODE, USER = 10, 3
ORIGINAL = dgl.core.message_passing


def block_case(seed=1):
    g, x, _ = dgl_graph()
    torch.manual_seed(seed)
    model = BlockSAGE().double().eval()
    input_nodes, blocks = sampled(g, torch.tensor([NODE, 2]), fanout=2)
    return g, x[input_nodes], blocks, model


def seed_row(blocks, node=NODE):
    return int((blocks[-1].dstdata[dgl.NID] == node).nonzero())


def native_block_gradients(model, blocks, feat, num_edges, target):
    """dz/dw per block through SAGEConv's own edge_weight, one weight vector over the parent edges per block: (2, E)."""
    weights = [torch.ones(num_edges, dtype=torch.float64, requires_grad=True) for _ in blocks]
    per_block = [w[b.edata[dgl.EID]] for w, b in zip(weights, blocks)]
    z = model(blocks, feat, per_block)[seed_row(blocks), target]
    return torch.stack(torch.autograd.grad(z, weights))


def native_hetero_gradients(model, g, feats, target, row=lambda out: out["user"][USER]):
    """dz/dw per canonical edge type through the relation modules' own edge_weight."""
    weights = {r: torch.ones(g.num_edges(r), dtype=torch.float64, requires_grad=True) for r in g.canonical_etypes}
    z = row(model(g, feats, weights))[target]
    return dict(zip(weights, torch.autograd.grad(z, list(weights.values()))))


def test_explain_on_blocks_attributes_parent_edges_as_the_layers_own_edge_weights():
    g, feat, blocks, model = block_case()
    model.train()
    before = state_of(model)
    explanation = explain(model, blocks, feat, method="edge_gradient", index=NODE, parent_graph=g, layerwise=True)
    assert_same_state(before, state_of(model))
    model.eval()
    with torch.no_grad():
        out = model(blocks, feat)[seed_row(blocks)]
    target = int(out.argmax())
    expected_layers = native_block_gradients(model, blocks, feat, g.num_edges(), target)

    assert type(explanation) is EdgeExplanation
    assert (explanation.target, explanation.index, explanation.task, explanation.num_nodes) == (target, NODE, "node", g.num_nodes())
    assert torch.equal(explanation.edge_index, torch.stack(g.edges(order="eid")))
    assert torch.equal(explanation.computation_edges, torch.unique(torch.cat([b.edata[dgl.EID] for b in blocks])))
    assert expected_layers.abs().sum(1).gt(0).all()
    torch.testing.assert_close(explanation.edge_mask, expected_layers.sum(0), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(explanation.layer_masks, expected_layers, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(explanation.prediction, out, rtol=0, atol=1e-12)
    assert dgl.core.message_passing is ORIGINAL


def test_bad_block_calls_name_the_fix_in_dgls_terms():
    g, feat, blocks, model = block_case()
    model.train()
    before = state_of(model)
    cases = [
        (lambda: explain(model, blocks, feat, index=NODE), ValueError, "needs parent_graph="),
        (lambda: explain(model, blocks, feat, parent_graph=g), ValueError, "pass index=, its id in the parent graph"),
        (lambda: explain(model, blocks, feat, index=NODE, parent_graph=g, task="graph"), ValueError, "DGL blocks explain a seed node"),
        (lambda: explain(model, blocks[0], feat, index=NODE), ValueError, r"pass the list of blocks.*parent_graph=g"),
        (lambda: explain(model, [blocks[0], g], feat, index=NODE), TypeError, "list of DGL blocks"),
        (lambda: explain(model, blocks, feat, index=NODE + 1, parent_graph=g), IndexError, "not a seed"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert_same_state(before, state_of(model))
    assert dgl.core.message_passing is ORIGINAL


def test_explain_on_a_heterograph_keys_masks_by_canonical_edge_type():
    g, feats, model = hetero_case()
    explanation = explain(model, g, feats, method="edge_gradient", index=USER, ntype="user")
    target = int(model(g, feats)["user"][USER].argmax())
    expected = native_hetero_gradients(model, g, feats, target)
    assert isinstance(explanation, HeteroEdgeExplanation)
    assert explanation.edge_types == g.canonical_etypes and set(explanation.edge_types) == set(RELATIONS)
    assert (explanation.node_type, explanation.index, explanation.task) == ("user", USER, "node")
    assert explanation.num_nodes_dict == {t: g.num_nodes(t) for t in g.ntypes}
    for edge_type in g.canonical_etypes:
        assert torch.equal(explanation.edge_index_dict[edge_type], torch.stack(g.edges(etype=edge_type, order="eid")))
        torch.testing.assert_close(explanation.edge_mask_dict[edge_type], expected[edge_type], rtol=1e-9, atol=1e-12)
    assert sum(m.abs().sum() for m in expected.values()) > 0
    with pytest.raises(ValueError, match="pass ntype= and index="):
        explain(model, g, feats, index=USER)
    assert dgl.core.message_passing is ORIGINAL


def test_dgl_explainer_explains_a_heterograph_node_on_dgls_khop_subgraph():
    g, feats, model = hetero_case()
    model.train()
    before = state_of(model)
    new_center, sg, edge_mask = DGLExplainer(model, num_hops=2, method="edge_gradient").explain_node(USER, g, feats, ntype="user")
    assert_same_state(before, state_of(model))
    model.eval()
    expected = native_hetero_gradients(model, g, feats, int(model(g, feats)["user"][USER].argmax()))
    expected_sg, expected_center = dgl.khop_in_subgraph(g, {"user": USER}, 2)
    assert torch.equal(new_center, expected_center["user"])
    assert set(edge_mask) == set(sg.canonical_etypes) == set(g.canonical_etypes)
    for edge_type in g.canonical_etypes:
        sg_edges = sg.edges[edge_type].data[dgl.EID]
        assert torch.equal(sg_edges, expected_sg.edges[edge_type].data[dgl.EID])
        assert edge_mask[edge_type].shape == (sg.num_edges(edge_type),)
        torch.testing.assert_close(edge_mask[edge_type], expected[edge_type][sg_edges], rtol=1e-9, atol=1e-12)
    assert any(m.abs().sum() > 0 for m in edge_mask.values())
    with pytest.raises(ValueError, match=r"pass ntype=, the type of the node to explain"):
        DGLExplainer(model).explain_node(USER, g, feats)
    with pytest.raises(ValueError, match="none of the graph's node types"):
        DGLExplainer(model).explain_node(USER, g, feats, ntype="shop")
    assert dgl.core.message_passing is ORIGINAL


def test_dgl_explainer_warns_of_attributions_outside_a_too_small_heterograph_subgraph():
    g, feats, model = hetero_case()
    explainer = DGLExplainer(model, num_hops=1, method="edge_gradient")
    with pytest.warns(UserWarning, match="outside the 1-hop in-subgraph of node 3"):
        _, sg, edge_mask = explainer.explain_node(USER, g, feats, ntype="user")
    full = explain(model, g, feats, method="edge_gradient", index=USER, ntype="user").edge_mask_dict
    for edge_type in g.canonical_etypes:
        torch.testing.assert_close(edge_mask[edge_type], full[edge_type][sg.edges[edge_type].data[dgl.EID]], rtol=0, atol=0)


class HeteroGraphClassifier(HeteroModel):
    """The two HeteroGraphConv layers, then the sum over node types of each type's mean: one row per graph."""

    def forward(self, g, feats, weights=None):
        out = super().forward(g, feats, weights)
        return sum(h.mean(0, keepdim=True) for h in out.values())


def test_dgl_explainer_explains_a_heterograph_classifier_per_edge_type():
    g, feats, _ = hetero_case()
    torch.manual_seed(0)
    model = HeteroGraphClassifier().double().eval()
    edge_mask = DGLExplainer(model, method="edge_gradient").explain_graph(g, feats)
    expected = native_hetero_gradients(model, g, feats, int(model(g, feats)[0].argmax()), row=lambda out: out[0])
    assert list(edge_mask) == g.canonical_etypes
    for edge_type in g.canonical_etypes:
        torch.testing.assert_close(edge_mask[edge_type], expected[edge_type], rtol=1e-9, atol=1e-12)
    assert all(m.abs().sum() > 0 for m in expected.values())

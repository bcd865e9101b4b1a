"""PyGHeteroAdapter and EdgeAttrExplainer on to_hetero models, against PyG's own hetero mask machinery."""

import pytest
import torch
from torch_geometric.explain import HeteroExplanation
from torch_geometric.explain.algorithm.utils import clear_masks, set_hetero_masks
from torch_geometric.nn import GINEConv, GraphConv, to_hetero

from edgeattr import EdgeGradient, EdgeOcclusion, GNNExplainer, UnsupportedLayerError
from edgeattr.adapters import PyGHeteroAdapter
from edgeattr.integrations.pyg import EdgeAttrExplainer, LayerwiseHeteroExplanation, normalized
from tests.support.hetero import (
    CLASSES,
    EDGE_TYPES,
    NODE,
    NODE_TYPE,
    F,
    GraphModel,
    NodeModel,
    WithSelfLoops,
    explainer_of,
    hetero_graph,
    reference_gradient,
)
from tests.support.zoo import assert_same_state, state_of


def test_edge_gradient_per_edge_type_equals_autograd_through_set_hetero_masks():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    target = int(model(x, edges)[NODE].argmax())
    got = adapter.split(EdgeGradient(adapter).attribute(adapter.ones())[0])
    expected = reference_gradient(model, x, edges, target, NODE)
    assert list(got) == EDGE_TYPES
    for edge_type, grad in got.items():
        assert grad.shape == (edges[edge_type].size(1),)
    assert all(g.abs().sum() > 0 for g in got.values())
    torch.testing.assert_close(adapter.join(got), expected, rtol=1e-9, atol=1e-12)


def test_layerwise_gradient_equals_per_relation_module_masks():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE, layerwise=True)
    assert [layer.name for layer in adapter.layers] == [f"gnn.conv{i}.{'__'.join(t)}" for i in (1, 2) for t in EDGE_TYPES]
    target = int(model(x, edges)[NODE].argmax())
    got = EdgeGradient(adapter).attribute(adapter.ones(), target=target)[0]
    expected = reference_gradient(model, x, edges, target, NODE, per_module=True)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_messages_along_self_loops_a_layer_adds_keep_weight_one():
    model = WithSelfLoops().eval()
    x, edges = hetero_graph()
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    target = int(model(x, edges)[NODE].argmax())
    got = EdgeGradient(adapter).attribute(adapter.ones(), target=target)[0]
    expected = reference_gradient(model, x, edges, target, NODE)
    assert adapter.split(expected)[EDGE_TYPES[2]].abs().sum() > 0
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["message", "remove"])
def test_occlusion_equals_brute_force(mode):
    model = NodeModel().eval()
    x, edges = hetero_graph()
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    target = int(model(x, edges)[NODE].argmax())
    got = adapter.split(EdgeOcclusion(adapter).attribute(adapter.ones(), target=target, mode=mode)[0])
    base = model(x, edges)[NODE, target]
    with torch.no_grad():
        for edge_type, values in got.items():
            for edge in range(values.numel()):
                if mode == "remove":
                    kept = {t: e if t != edge_type else torch.cat([e[:, :edge], e[:, edge + 1 :]], 1) for t, e in edges.items()}
                    z = model(x, kept)[NODE, target]
                else:
                    masks = {t: torch.ones(e.size(1), dtype=torch.float64) for t, e in edges.items()}
                    masks[edge_type][edge] = 0
                    set_hetero_masks(model, masks, edges, apply_sigmoid=False)
                    z = model(x, edges)[NODE, target]
                    clear_masks(model)
                torch.testing.assert_close(values[edge], base - z, rtol=1e-9, atol=1e-12)


def test_explainer_returns_masks_per_edge_type_equal_to_the_flat_adapter_split():
    model = NodeModel().train()
    x, edges = hetero_graph()
    before = state_of(model)
    explainer = explainer_of(model, EdgeAttrExplainer("edge_gradient"))
    explanation = explainer(x, edges, index=NODE)
    assert_same_state(before, state_of(model))
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    flat = EdgeGradient(adapter).attribute(adapter.ones())[0]
    assert isinstance(explanation, HeteroExplanation)
    for edge_type, expected in adapter.split(flat).items():
        torch.testing.assert_close(explanation[edge_type].edge_attribution, expected, rtol=0, atol=0)
    for edge_type, expected in adapter.split(normalized(flat, "positive")).items():
        torch.testing.assert_close(explanation[edge_type].edge_mask, expected, rtol=0, atol=0)
    subgraph = explanation.get_explanation_subgraph()
    for edge_type in EDGE_TYPES:
        kept = explanation[edge_type].edge_mask > 0
        assert torch.equal(subgraph[edge_type].edge_index, edges[edge_type][:, kept])


def test_layerwise_explanation_per_edge_type():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explainer = explainer_of(model, EdgeAttrExplainer("layerwise_gradient", normalize=None))
    explanation = explainer(x, edges, index=NODE)
    assert isinstance(explanation, LayerwiseHeteroExplanation)
    target = int(model(x, edges)[NODE].argmax())
    expected = reference_gradient(model, x, edges, target, NODE, per_module=True)
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    for edge_type, layers in adapter.split(expected).items():
        assert explanation[edge_type].layer_masks.shape == (6, edges[edge_type].size(1))
        torch.testing.assert_close(explanation[edge_type].layer_attribution, layers, rtol=1e-9, atol=1e-12)
    subgraph = explanation.get_explanation_subgraph()
    for edge_type in EDGE_TYPES:
        kept = explanation[edge_type].edge_mask > 0
        assert torch.equal(subgraph[edge_type].layer_masks, explanation[edge_type].layer_masks[:, kept])


def test_visualize_graph_draws_a_heterogeneous_explanation(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    model = NodeModel().eval()
    x, edges = hetero_graph()
    explainer = explainer_of(model, EdgeAttrExplainer("edge_occlusion"))
    path = tmp_path / "hetero.png"
    explainer(x, edges, index=NODE).visualize_graph(str(path))
    image = matplotlib.image.imread(str(path))
    assert path.stat().st_size > 2000 and image[..., :3].std() > 0.01


def test_graph_task_and_gnnexplainer_on_a_heterogeneous_model():
    model = GraphModel().eval()
    x, edges = hetero_graph()
    explainer = explainer_of(model, EdgeAttrExplainer("gnnexplainer", epochs=5), task_level="graph")
    torch.manual_seed(0)
    explanation = explainer(x, edges)
    adapter = PyGHeteroAdapter(model, x, edges)
    torch.manual_seed(0)
    flat = GNNExplainer(adapter, epochs=5).attribute(adapter.ones(), target=int(model(x, edges)[0].argmax()))[0]
    assert flat.gt(0).any()
    for edge_type, expected in adapter.split(flat).items():
        torch.testing.assert_close(explanation[edge_type].edge_mask, expected, rtol=0, atol=0)


def test_bad_heterogeneous_inputs_raise_clear_errors():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    shared = dict(edges)
    shared[EDGE_TYPES[1]] = shared[EDGE_TYPES[0]]
    with pytest.raises(ValueError, match="share one edge_index"):
        PyGHeteroAdapter(model, x, shared, index=NODE)
    with pytest.raises(ValueError, match="x_dict lacks"):
        PyGHeteroAdapter(model, {"a": x["a"]}, edges, index=NODE)
    with pytest.raises(ValueError, match="pass index="):
        PyGHeteroAdapter(model, x, edges)
    with pytest.raises(TypeError, match="x_dict"):
        PyGHeteroAdapter(model, x["a"], edges, index=NODE)


class Rebuilt(torch.nn.Module):
    """A model that propagates over a copy of an edge_index it made itself."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv((F, F), CLASSES).double()

    def forward(self, x_dict, edge_index_dict):
        return self.conv((x_dict["b"], x_dict["a"]), edge_index_dict[EDGE_TYPES[1]].clone())


def test_a_call_over_an_unknown_edge_index_is_refused():
    x, edges = hetero_graph()
    with pytest.raises(UnsupportedLayerError, match="cannot be matched to an edge type"):
        adapter = PyGHeteroAdapter(Rebuilt(), x, edges, index=NODE)
        EdgeGradient(adapter).attribute(adapter.ones())


class WithEdgeFeatures(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GINEConv(torch.nn.Linear(F, CLASSES), edge_dim=2)

    def forward(self, x, edge_index, edge_attr):
        return self.conv(x, edge_index, edge_attr)


def test_removing_an_edge_also_removes_its_edge_features():
    torch.manual_seed(2)
    gnn = to_hetero(WithEdgeFeatures(), (["a", "b"], EDGE_TYPES)).double().eval()
    x, edges = hetero_graph()
    g = torch.Generator().manual_seed(5)
    attrs = {t: torch.randn(e.size(1), 2, generator=g, dtype=torch.float64) for t, e in edges.items()}
    adapter = PyGHeteroAdapter(gnn, x, edges, index=NODE, node_type=NODE_TYPE, edge_attr=attrs)
    target = int(gnn(x, edges, attrs)[NODE_TYPE][NODE].argmax())
    got = adapter.split(EdgeOcclusion(adapter).attribute(adapter.ones(), target=target, mode="remove")[0])
    base = gnn(x, edges, attrs)[NODE_TYPE][NODE, target]
    edge_type = EDGE_TYPES[1]
    with torch.no_grad():
        for edge in range(edges[edge_type].size(1)):
            keep = torch.arange(edges[edge_type].size(1)) != edge
            cut = {**edges, edge_type: edges[edge_type][:, keep]}
            cut_attrs = {**attrs, edge_type: attrs[edge_type][keep]}
            z = gnn(x, cut, cut_attrs)[NODE_TYPE][NODE, target]
            torch.testing.assert_close(got[edge_type][edge], base - z, rtol=1e-9, atol=1e-12)
    assert got[edge_type].abs().sum() > 0

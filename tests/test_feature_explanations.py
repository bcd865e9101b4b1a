"""explain(..., features=True): node and feature attributions in an EdgeExplanation, its PyG Explanation, graph and figure."""

import matplotlib
import pytest
import torch
from matplotlib.collections import PathCollection

from edgeattr import EdgeExplanation, EdgeGradient, GNNExplainer, PyGAdapter, explain
from edgeattr.explanation import node_mask_of
from edgeattr.methods import METHODS
from tests.support.hetero import NODE_TYPE, NodeModel, hetero_graph
from tests.support.zoo import assert_same_state, model_of, random_graph, state_of
from tests.zoo.pyg_models import GAT, GCN

matplotlib.use("Agg")

NODE = 10


def gcn():
    torch.manual_seed(0)
    return GCN(5, 8, 3).double().eval()


def autograd_feature_gradient(model, x, edge_index, target):
    leaf = x.clone().requires_grad_(True)
    return torch.autograd.grad(model(leaf, edge_index)[NODE, target], leaf)[0]


@pytest.mark.parametrize("method", ["edge_gradient", "layerwise_gradient"])
def test_explain_with_features_gives_autograds_feature_gradients_and_their_node_sums(method):
    x, edge_index, _ = random_graph()
    model = gcn()
    explanation = explain(model, x, edge_index, index=NODE, method=method, features=True)
    expected = autograd_feature_gradient(model, x, edge_index, explanation.target)
    torch.testing.assert_close(explanation.feature_mask, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(explanation.node_mask, expected.sum(1), rtol=0, atol=1e-12)
    alone = explain(model, x, edge_index, index=NODE, method=method)
    assert alone.feature_mask is None and alone.node_mask is None
    torch.testing.assert_close(explanation.edge_mask, alone.edge_mask, rtol=0, atol=0)


def test_explain_with_features_is_the_class_on_an_adapter_built_with_features():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    model = GAT(5, 4, 3, heads=2).double().eval()
    adapter = PyGAdapter(model, x, edge_index, index=NODE, features=True)
    torch.manual_seed(0)
    explanation = explain(model, x, edge_index, index=NODE, method="gnnexplainer", features=True, options={"epochs": 5})
    torch.manual_seed(0)
    edges, nodes = GNNExplainer(adapter, epochs=5).attribute(adapter.inputs(), target=explanation.target)
    torch.testing.assert_close(explanation.feature_mask, nodes[0], rtol=0, atol=0)
    torch.testing.assert_close(explanation.edge_mask, edges[0], rtol=0, atol=0)
    torch.testing.assert_close(explanation.node_mask, nodes[0].sum(1), rtol=0, atol=0)


def test_a_feature_mask_shared_by_all_nodes_has_no_node_mask():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    explanation = explain(gcn(), x, edge_index, index=NODE, method="gnnexplainer", features=True,
                          options={"epochs": 5, "node_mask_type": "common_attributes"})
    assert explanation.feature_mask.shape == (1, 5) and explanation.node_mask is None
    assert explanation.to_pyg().node_mask.shape == (1, 5) and explanation.to_pyg().validate(raise_on_error=True)


def test_to_pyg_carries_the_feature_attributions_as_pygs_node_mask():
    x, edge_index, _ = random_graph()
    explanation = explain(gcn(), x, edge_index, index=NODE, method="edge_gradient", features=True)
    pyg = explanation.to_pyg()
    assert pyg.validate(raise_on_error=True)
    torch.testing.assert_close(pyg.node_mask, explanation.feature_mask, rtol=0, atol=0)
    torch.testing.assert_close(pyg.edge_mask, explanation.edge_mask, rtol=0, atol=0)
    # PyG's subgraph keeps the nodes of positive summed attribution (and their edges).
    subgraph = pyg.get_explanation_subgraph()
    assert subgraph.node_mask.size(0) == int((explanation.feature_mask.sum(1) > 0).sum())
    # An explanation holding only per-node values goes over as PyG's 'object' node mask.
    per_node = EdgeExplanation(**{**vars(explanation), "feature_mask": None})
    torch.testing.assert_close(per_node.to_pyg().node_mask, explanation.node_mask.view(-1, 1), rtol=0, atol=0)
    graph = explanation.to_networkx()
    assert [graph.nodes[v]["attribution"] for v in range(x.size(0))] == pytest.approx(explanation.node_mask.tolist(), abs=0)


def node_values_drawn(axis):
    (circles,) = [c for c in axis.collections if isinstance(c, PathCollection) and c.get_array() is not None]
    return circles.get_array().tolist()


def test_the_figure_colours_the_nodes_by_their_attribution_beside_the_edges(tmp_path):
    x, edge_index, _ = random_graph()
    explanation = explain(gcn(), x, edge_index, index=NODE, method="edge_gradient", features=True)
    figure = explanation.plot(str(tmp_path / "nodes.png"))
    panel, *bars = figure.axes
    nodes = [int(text.get_text()) for text in panel.texts]
    assert node_values_drawn(panel) == pytest.approx(explanation.node_mask[nodes].tolist(), abs=0)
    assert sorted(bar.get_ylabel() for bar in bars) == ["edge attribution (signed)", "node attribution (signed)"]
    limit = float(explanation.node_mask[nodes].abs().max())
    (node_bar,) = [bar for bar in bars if bar.get_ylabel().startswith("node")]
    assert node_bar.get_ylim() == pytest.approx((-limit, limit))
    # Colours the caller gives win over the attributions.
    figure = explanation.plot(str(tmp_path / "plain.png"), node_colors=["red"] * x.size(0))
    assert not [c for c in figure.axes[0].collections if isinstance(c, PathCollection) and c.get_array() is not None]
    assert len(figure.axes) == 2


def test_node_mask_of_sums_the_feature_attributions_per_node_or_per_feature():
    attribution = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    assert node_mask_of(attribution, "object").tolist() == [[-0.5], [2.0]]
    assert node_mask_of(attribution, "common_attributes").tolist() == [[1.0, 1.0, -0.5]]
    assert node_mask_of(attribution, "attributes") is attribution
    with pytest.raises(ValueError, match="node_mask_type must be"):
        node_mask_of(attribution, "node")


def test_the_model_is_left_as_it_was_and_wrong_requests_are_named():
    x, edge_index, _ = random_graph()
    model = model_of("SAGEConv-mean").train()
    before = state_of(model)
    explain(model, x, edge_index, index=NODE, method="gnnexplainer", features=True, layerwise=True, options={"epochs": 3})
    assert_same_state(before, state_of(model))
    with pytest.raises(ValueError, match=r"method 'edge_occlusion' attributes edges only; node features are attributed by the methods \['edge_gradient'"):
        explain(model, x, edge_index, index=NODE, method="edge_occlusion", features=True)
    with pytest.raises(ValueError, match="features_arg='x' names the node features to attribute: pass features=True too"):
        explain(model, x, edge_index, index=NODE, method="edge_gradient", features_arg="x")
    x_dict, edge_index_dict = hetero_graph()
    with pytest.raises(ValueError, match="PyGHeteroAdapter attributes edges only, not node features"):
        explain(NodeModel().eval(), x_dict, edge_index_dict, index=0, node_type=NODE_TYPE, method="edge_gradient", features=True)
    adapter = PyGAdapter(model, x, edge_index, index=NODE, features=True)
    with pytest.raises(ValueError, match="EdgeOcclusion attributes edges only"):
        METHODS["edge_occlusion"].attribute(adapter)
    assert EdgeGradient(adapter).attribute(adapter.inputs())[1].shape == (1,) + tuple(x.shape)

"""EdgeAttrExplainer with PyG's node_mask_type: node masks in PyG's shapes, against autograd and PyG's own GNNExplainer."""

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer
from torch_geometric.explain.metric import fidelity

from edgeattr.integrations.pyg import EdgeAttrExplainer, normalized
from tests.support.hetero import NodeModel, hetero_graph
from tests.support.zoo import assert_same_state, graph_batch, model_of, random_graph, state_of

NODE = 10
CONFIG = dict(mode="multiclass_classification", task_level="node", return_type="raw")
SHAPES = {"object": (14, 1), "attributes": (14, 5), "common_attributes": (1, 5)}


def explainer_for(model, algorithm, node_mask_type, edge_mask_type="object", config=CONFIG):
    return Explainer(model, algorithm=algorithm, explanation_type="model", node_mask_type=node_mask_type, edge_mask_type=edge_mask_type, model_config=config)


def feature_gradient(model, x, edge_index, row, target, **kwargs):
    """dz/dx of the model's own output, by autograd on the full graph."""
    leaf = x.clone().requires_grad_(True)
    return torch.autograd.grad(model(leaf, edge_index, **kwargs)[row, target], leaf)[0]


#: PyG's node mask of each type from the feature gradient, written out.
DERIVED = {
    "object": lambda g: g.sum(1, keepdim=True),
    "attributes": lambda g: g,
    "common_attributes": lambda g: g.sum(0, keepdim=True),
}


@pytest.mark.parametrize("node_mask_type", list(SHAPES))
@pytest.mark.parametrize("method", ["edge_gradient", "layerwise_gradient"])
def test_node_masks_of_each_type_are_derived_from_autograds_feature_gradient(method, node_mask_type):
    x, edge_index, _ = random_graph()
    model = model_of("GCN").train()  # the explainer runs it in eval mode and leaves it as it was
    before = state_of(model)
    explanation = explainer_for(model, EdgeAttrExplainer(method), node_mask_type)(x, edge_index, index=NODE)
    assert_same_state(before, state_of(model))
    model.eval()
    target = int(model(x, edge_index)[NODE].argmax())
    expected = DERIVED[node_mask_type](feature_gradient(model, x, edge_index, NODE, target))
    assert explanation.node_mask.shape == SHAPES[node_mask_type] == explanation.node_attribution.shape
    torch.testing.assert_close(explanation.node_attribution, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(explanation.node_mask, normalized(expected, "positive"), rtol=0, atol=1e-12)
    assert explanation.node_mask.max() == 1 and explanation.node_mask.min() == 0
    assert explanation.validate(raise_on_error=True) and explanation.edge_mask.shape == (edge_index.size(1),)


@pytest.mark.parametrize("node_mask_type", list(SHAPES))
def test_gnnexplainer_node_masks_are_pygs_gnnexplainers_with_the_same_seed(node_mask_type):
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    torch.manual_seed(4)
    ours = explainer_for(model, EdgeAttrExplainer("gnnexplainer", epochs=20), node_mask_type)(x, edge_index, index=NODE)
    torch.manual_seed(4)
    theirs = explainer_for(model, PyGGNNExplainer(epochs=20), node_mask_type)(x, edge_index, index=NODE)
    assert ours.node_mask.shape == SHAPES[node_mask_type]
    torch.testing.assert_close(ours.node_mask, theirs.node_mask.double(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.edge_mask, theirs.edge_mask.double(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.node_attribution, ours.node_mask, rtol=0, atol=0)  # a mask: never rescaled


def test_a_graph_task_gets_the_node_masks_of_its_graph():
    x, edge_index, _, batch = graph_batch()
    model = model_of("GCNConv", pool=True)
    config = {**CONFIG, "task_level": "graph"}
    explanation = explainer_for(model, EdgeAttrExplainer("edge_gradient", normalize=None), "attributes", config=config)(x, edge_index, index=1, batch=batch)
    target = int(model(x, edge_index, batch=batch)[1].argmax())
    expected = feature_gradient(model, x, edge_index, 1, target, batch=batch)
    torch.testing.assert_close(explanation.node_mask, expected, rtol=0, atol=1e-12)
    assert (explanation.node_mask[batch != 1] == 0).all() and (explanation.node_mask[batch == 1] != 0).any()


def test_node_masks_alone_and_pygs_fidelity_on_them():
    x, edge_index, _ = random_graph()
    model = model_of("GCN")
    explainer = explainer_for(model, EdgeAttrExplainer("edge_gradient"), "object", edge_mask_type=None)
    explanation = explainer(x, edge_index, index=NODE)
    assert "edge_mask" not in explanation and "edge_attribution" not in explanation
    assert explanation.node_mask.shape == (14, 1)
    positive, negative = fidelity(explainer, explanation)
    assert 0 <= positive <= 1 and 0 <= negative <= 1


def test_node_masks_are_refused_where_they_cannot_be_given():
    x, edge_index, _ = random_graph()
    model = model_of("GCN")
    with pytest.raises(ValueError, match=r"'gradient_sign' attributes edges only, so node_mask_type needs another method .*'edge_gradient'"):
        explainer_for(model, EdgeAttrExplainer("gradient_sign"), "attributes")
    with pytest.raises(ValueError, match="GNNExplainer learns the edge mask together with the node mask here; set edge_mask_type='object'"):
        explainer_for(model, EdgeAttrExplainer("gnnexplainer"), "object", edge_mask_type=None)
    with pytest.raises(ValueError, match="node_mask_type is a setting of PyG's Explainer"):
        EdgeAttrExplainer("gnnexplainer", node_mask_type="object")
    x_dict, edge_index_dict = hetero_graph()
    explainer = explainer_for(NodeModel().eval(), EdgeAttrExplainer("edge_gradient"), "attributes")
    with pytest.raises(ValueError, match="PyGHeteroAdapter attributes edges only, not node features.*CaptumExplainer"):
        explainer(x_dict, edge_index_dict, index=0)

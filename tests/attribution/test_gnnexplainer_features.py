"""edgeattr's GNNExplainer learns PyG's node feature masks beside the edge mask, given (mask, x) inputs."""

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer

from edgeattr import GNNExplainer, PyGAdapter
from tests.support.zoo import model_of, random_graph

NODE = 10


def pyg_masks(model, x, edge_index, node_mask_type, **coeffs):
    explainer = Explainer(
        model,
        algorithm=PyGGNNExplainer(**coeffs),
        explanation_type="model",
        node_mask_type=node_mask_type,
        edge_mask_type="object",
        model_config=dict(mode="multiclass_classification", task_level="node", return_type="raw"),
    )
    explanation = explainer(x, edge_index, index=NODE)
    return explanation.edge_mask, explanation.node_mask


@pytest.mark.parametrize("node_mask_type, shape", [("object", (14, 1)), ("attributes", (14, 5)), ("common_attributes", (1, 5))])
@pytest.mark.parametrize("name", ["GCNConv", "GATConv"])
def test_same_seed_gives_pyg_gnnexplainers_edge_and_node_masks(name, node_mask_type, shape):
    x, edge_index, _ = random_graph()
    model = model_of(name)
    adapter = PyGAdapter(model, x, edge_index, index=NODE, features=True)
    torch.manual_seed(5)
    edge_mask, feature_mask = GNNExplainer(adapter, epochs=30, node_mask_type=node_mask_type).attribute(adapter.inputs())
    torch.manual_seed(5)
    their_edges, their_nodes = pyg_masks(model, x, edge_index, node_mask_type, epochs=30)
    assert feature_mask.shape == (1,) + shape and edge_mask.shape == (1, edge_index.size(1))
    torch.testing.assert_close(feature_mask[0], their_nodes.double(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(edge_mask[0], their_edges.double(), rtol=1e-5, atol=1e-6)
    assert feature_mask.max() > 0 and edge_mask.min() == 0
    if node_mask_type != "common_attributes":  # nodes outside the computation subgraph have no gradient: 0
        assert (feature_mask[0].sum(-1) == 0).any()


def test_pygs_feature_coefficients_change_the_feature_mask_as_they_change_pygs():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE, features=True)
    coeffs = dict(node_feat_size=3.0, node_feat_ent=0.5, node_feat_reduction="sum")
    torch.manual_seed(2)
    _, ours = GNNExplainer(adapter, epochs=20, **coeffs).attribute(adapter.inputs())
    torch.manual_seed(2)
    _, theirs = pyg_masks(model, x, edge_index, "attributes", epochs=20, **coeffs)
    torch.testing.assert_close(ours[0], theirs.double(), rtol=1e-5, atol=1e-6)
    torch.manual_seed(2)
    _, default = GNNExplainer(adapter, epochs=20).attribute(adapter.inputs())
    assert not torch.allclose(ours, default)


def test_feature_masks_of_a_batch_are_optimised_independently():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=NODE, features=True)
    mask, features = adapter.inputs()
    torch.manual_seed(1)
    edges, nodes = GNNExplainer(adapter, epochs=10).attribute((mask.repeat(2, 1), features.repeat(2, 1, 1)), target=[0, 2])
    torch.manual_seed(1)
    for b, target in enumerate([0, 2]):
        single_edges, single_nodes = GNNExplainer(adapter, epochs=10).attribute((mask, features), target=target)
        torch.testing.assert_close(nodes[b : b + 1], single_nodes, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(edges[b : b + 1], single_edges, rtol=1e-6, atol=1e-8)


def test_without_features_the_mask_alone_is_learned_as_before():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=NODE, features=True)
    torch.manual_seed(3)
    alone = GNNExplainer(adapter, epochs=5).attribute(adapter.ones())
    assert isinstance(alone, torch.Tensor) and alone.shape == adapter.ones().shape
    with pytest.raises(ValueError, match="node_mask_type must be one of"):
        GNNExplainer(adapter, node_mask_type="node")
    with pytest.raises(ValueError, match="node_feat_reduction must be 'sum' or 'mean'"):
        GNNExplainer(adapter, node_feat_reduction="max")

"""Fidelity, characterization score and unfaithfulness against PyG's own functions on the same masks."""

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm import DummyExplainer
from torch_geometric.explain.metric import characterization_score as pyg_characterization_score
from torch_geometric.explain.metric import fidelity as pyg_fidelity
from torch_geometric.explain.metric import unfaithfulness as pyg_unfaithfulness

from edgeattr import PyGAdapter
from edgeattr.adapters import PyGHeteroAdapter
from edgeattr.fidelity import characterization_score, fidelity, hard_masks, unfaithfulness
from tests.support.hetero import NODE, NODE_TYPE, NodeModel, hetero_graph
from tests.support.zoo import model_of, random_graph

NODES = [0, 3, 5, 9, 12]


def explainer_for(model, explanation_type, threshold=None):
    return Explainer(
        model,
        algorithm=DummyExplainer(),
        explanation_type=explanation_type,
        edge_mask_type="object",
        model_config=dict(mode="multiclass_classification", task_level="node", return_type="raw"),
        threshold_config=threshold,
    )


@pytest.mark.parametrize("explanation_type", ["model", "phenomenon"])
@pytest.mark.parametrize("threshold", [None, dict(threshold_type="topk_hard", value=6)], ids=["soft", "topk"])
def test_fidelity_equals_pygs_on_the_same_masks(explanation_type, threshold):
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=40, seed=3)
    model = model_of("GCNConv", seed=1)
    labels = torch.arange(14) % 3
    explainer = explainer_for(model, explanation_type, threshold)
    for node in NODES:
        torch.manual_seed(node)
        target = labels if explanation_type == "phenomenon" else None
        explanation = explainer(x, edge_index, index=node, target=target)
        expected = pyg_fidelity(explainer, explanation)
        adapter = PyGAdapter(model, x, edge_index, index=node)
        ours = fidelity(adapter, explanation.edge_mask.double()[None], None if target is None else labels[node : node + 1])
        assert (float(ours[0]), float(ours[1])) == pytest.approx(expected, abs=1e-12)


def test_many_explanations_at_once_equal_each_alone():
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=40, seed=3)
    model = model_of("GCNConv", seed=1)
    masks = torch.rand(len(NODES), 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    hard = hard_masks(masks, topk=5)
    many = fidelity(PyGAdapter(model, x, edge_index, index=torch.tensor(NODES)), hard)
    for row, node in enumerate(NODES):
        alone = fidelity(PyGAdapter(model, x, edge_index, index=node), hard[row : row + 1])
        assert float(many[0][row]) == float(alone[0][0]) and float(many[1][row]) == float(alone[1][0])
    assert many[0].shape == (len(NODES),)


def test_hard_masks_keep_the_top_k_with_ties_to_the_lower_id_or_the_edges_above_a_threshold():
    masks = torch.tensor([[0.2, 0.9, 0.9, 0.1], [0.5, 0.5, 0.5, 0.6]])
    assert hard_masks(masks, topk=2).tolist() == [[0, 1, 1, 0], [1, 0, 0, 1]]
    assert hard_masks(masks, threshold=0.5).tolist() == [[0, 1, 1, 0], [0, 0, 0, 1]]
    with pytest.raises(ValueError, match="exactly one"):
        hard_masks(masks)


def test_characterization_score_equals_pygs():
    plus, minus = torch.tensor([0.2, 0.7, 0.9]), torch.tensor([0.1, 0.4, 0.3])
    torch.testing.assert_close(characterization_score(plus, minus, 0.3, 0.7), pyg_characterization_score(plus, minus, 0.3, 0.7))
    with pytest.raises(ValueError, match="sum to 1"):
        characterization_score(plus, minus, 0.6, 0.6)


def test_unfaithfulness_equals_pygs():
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=40, seed=3)
    model = model_of("GCNConv", seed=1)
    explainer = explainer_for(model, "model")
    for node in NODES:
        torch.manual_seed(node)
        explanation = explainer(x, edge_index, index=node)
        ours = unfaithfulness(PyGAdapter(model, x, edge_index, index=node), explanation.edge_mask.double()[None])
        assert float(ours[0]) == pytest.approx(pyg_unfaithfulness(explainer, explanation), abs=1e-12)


def test_fidelity_takes_masks_per_edge_type_of_a_heterogeneous_adapter():
    """PyG's fidelity fails on every HeteroExplanation; edgeattr's takes the per-type masks and equals the flat ones."""

    x_dict, edge_index_dict = hetero_graph()
    adapter = PyGHeteroAdapter(NodeModel(), x_dict, edge_index_dict, index=NODE, node_type=NODE_TYPE)
    flat = hard_masks(torch.rand(1, adapter.num_edges, generator=torch.Generator().manual_seed(1), dtype=torch.float64), topk=4)
    per_type = {edge_type: mask for edge_type, mask in adapter.split(flat).items()}
    assert [float(v) for v in fidelity(adapter, per_type)] == [float(v) for v in fidelity(adapter, flat)]


def test_fidelity_is_refused_for_a_regression_model():
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=40, seed=3)
    adapter = PyGAdapter(model_of("GCNConv", seed=1), x, edge_index, index=0, mode="regression")
    with pytest.raises(ValueError, match="regression"):
        fidelity(adapter, adapter.ones())

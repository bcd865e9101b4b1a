"""explain() against the attribution classes, and EdgeExplanation's views against brute force (PyG models)."""

import pytest
import torch
from torch_geometric.explain import Explanation

from edgeattr import (
    EdgeExplanation,
    PyGAdapter,
    explain,
)
from edgeattr.methods import METHODS
from tests.support.methods import EXPECTED, by_class
from tests.support.zoo import assert_same_state, graph_batch, model_of, random_graph, reference_gradient, state_of

NODE = 10
GRAPH = 1

def test_the_table_names_the_classes_explain_must_use():
    assert {name: (m.attribution, m.layerwise) for name, m in METHODS.items()} == {n: e[:2] for n, e in EXPECTED.items()}


@pytest.mark.parametrize("method", list(EXPECTED))
@pytest.mark.parametrize("task", ["node", "graph"])
def test_explain_equals_the_class_on_an_adapter(method, task):
    cls, layerwise_method, options = EXPECTED[method]
    if task == "node":
        x, edge_index, _ = random_graph()
        model, kwargs, index = model_of("GCNConv"), {}, NODE
    else:
        x, edge_index, _, batch = graph_batch()
        model, kwargs, index = model_of("GraphConv", pool=True), {"batch": batch}, GRAPH
    torch.manual_seed(0)
    got = explain(model, x, edge_index, method=method, index=index, layerwise=True, options=options, **kwargs)

    torch.manual_seed(0)  # GNNExplainer draws its initial masks: input level first, then layerwise
    if not layerwise_method:
        expected_edges = by_class(cls, PyGAdapter(model, x, edge_index, index=index, **kwargs), options)
    expected_layers = by_class(cls, PyGAdapter(model, x, edge_index, index=index, layerwise=True, **kwargs), options)
    if layerwise_method:
        expected_edges = expected_layers.sum(0)
    assert got.task == task and got.index == index and got.method == method
    assert got.edge_mask.shape == (edge_index.size(1),) and got.layer_masks.shape == (2, edge_index.size(1))
    torch.testing.assert_close(got.edge_mask, expected_edges, rtol=0, atol=0)
    torch.testing.assert_close(got.layer_masks, expected_layers, rtol=0, atol=0)
    assert got.edge_mask.abs().sum() > 0


def test_layerwise_gradient_sums_to_pygs_own_input_level_gradient():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    explanation = explain(model, x, edge_index, method="layerwise_gradient", index=NODE)
    expected = reference_gradient(model, (x, edge_index), {}, edge_index, NODE, explanation.target)
    torch.testing.assert_close(explanation.edge_mask, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        explanation.layer_masks,
        reference_gradient(model, (x, edge_index), {}, edge_index, NODE, explanation.target, per_module=True),
        rtol=1e-10, atol=1e-12,
    )


def test_prediction_target_and_the_computation_subgraph():
    x, edge_index, _ = random_graph()
    model = model_of("GATConv")
    explanation = explain(model, x, edge_index, method="edge_gradient", index=NODE)
    with torch.no_grad():
        output = model(x, edge_index)[NODE]
    torch.testing.assert_close(explanation.prediction, output, rtol=1e-12, atol=1e-12)
    assert explanation.target == int(output.argmax())
    assert explanation.layer_masks is None and explanation.layer_names == ["conv1", "conv2"]
    assert torch.equal(explanation.edge_index, edge_index) and explanation.num_nodes == x.size(0)
    # brute force: two layers, so the messages that reach NODE run into NODE or into its in-neighbours
    receivers = {NODE} | {u for u, v in edge_index.t().tolist() if v == NODE}
    message_edge_ids = [e for e, v in enumerate(edge_index[1].tolist()) if v in receivers]
    assert explanation.computation_edges.tolist() == message_edge_ids
    outside = torch.ones(edge_index.size(1), dtype=torch.bool)
    outside[message_edge_ids] = False
    assert (explanation.edge_mask[outside] == 0).all()

    other = (explanation.target + 1) % output.numel()
    against = explain(model, x, edge_index, method="edge_gradient", index=NODE, target=other)
    assert against.target == other
    torch.testing.assert_close(against.edge_mask, reference_gradient(model, (x, edge_index), {}, edge_index, NODE, other), rtol=1e-10, atol=1e-12)


def test_a_graph_classifier_of_a_single_graph_with_task_graph():
    x, edge_index, _ = random_graph()
    model = model_of("GINConv", pool=True)
    batch = torch.zeros(x.size(0), dtype=torch.long)
    explanation = explain(model, x, edge_index, method="edge_gradient", task="graph", batch=batch)
    expected = reference_gradient(model, (x, edge_index), {"batch": batch}, edge_index, 0, explanation.target)
    assert explanation.index == 0 and explanation.computation_edges.numel() == edge_index.size(1)
    torch.testing.assert_close(explanation.edge_mask, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["layerwise_occlusion", "gnnexplainer"])
def test_the_model_is_left_as_it_was(method):
    x, edge_index, _ = random_graph()
    model = model_of("SAGEConv-mean").train()
    before = state_of(model)
    explain(model, x, edge_index, method=method, index=NODE, layerwise=True, options={"epochs": 3} if method == "gnnexplainer" else {})
    assert_same_state(before, state_of(model))
    with pytest.raises(TypeError, match="no option 'epochs'"):
        explain(model, x, edge_index, method="edge_gradient", index=NODE, options={"epochs": 3})
    assert_same_state(before, state_of(model))


def test_bad_names_and_inputs_are_named():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    with pytest.raises(ValueError, match="unknown method 'saliency'; choose one of"):
        explain(model, x, edge_index, method="saliency", index=NODE)
    with pytest.raises(TypeError, match="GradientSign has no option 'epsilon'; its options are \\['eps'\\]"):
        explain(model, x, edge_index, index=NODE, options={"epsilon": 0.1})
    with pytest.raises(ValueError, match="pass the model's inputs"):
        explain(model, index=NODE)
    with pytest.raises(ValueError, match="index is required"):
        explain(model, x, edge_index)


# -- EdgeExplanation's views, against brute force -------------------------------------------
# ``layered``, a layerwise explanation of node 4, is the fixture of tests/conftest.py.


def test_explanations_have_parallel_and_opposite_edges(layered):
    pairs = [tuple(p) for p in layered.edge_index.t().tolist()]
    assert len(set(pairs)) < len(pairs) and any((v, u) in pairs for u, v in pairs)
    assert (layered.edge_mask > 0).any() and (layered.edge_mask < 0).any()


@pytest.mark.parametrize("absolute", [False, True])
@pytest.mark.parametrize("k", [0, 1, 5, 50])
def test_topk_is_the_brute_force_ranking(layered, k, absolute):
    values = layered.edge_mask.tolist()
    score = [abs(v) if absolute else v for v in values]
    expected = sorted(range(len(values)), key=lambda e: (-score[e], e))[:k]
    ranking = layered.topk(k, absolute=absolute)
    assert ranking.indices.tolist() == expected
    assert ranking.values.tolist() == [values[e] for e in expected]


def test_topk_rejects_k_beyond_the_edges(layered):
    with pytest.raises(ValueError, match="k must be between 0 and the number of edges \\(50\\)"):
        layered.topk(51)


def test_subgraph_is_the_positive_evidence_or_the_top_k(layered):
    values, edges = layered.edge_mask.tolist(), layered.edge_index.t().tolist()
    positive = [e for e, v in enumerate(values) if v > 0]
    sub = layered.subgraph()
    assert sub.edge_ids.tolist() == positive
    assert sub.edge_index.t().tolist() == [edges[e] for e in positive]
    assert sub.edge_mask.tolist() == [values[e] for e in positive]
    assert sub.nodes.tolist() == sorted({n for e in positive for n in edges[e]} | {4})

    strongest = sorted(sorted(range(len(values)), key=lambda e: (-abs(values[e]), e))[:3])
    assert layered.subgraph(k=3, absolute=True).edge_ids.tolist() == strongest


def test_to_networkx_keeps_every_edge_and_its_attributions(layered):
    graph = layered.to_networkx()
    assert sorted(graph.nodes) == list(range(layered.num_nodes)) and graph.number_of_edges() == layered.num_edges
    assert graph.nodes[4]["target"] and not any(data.get("target") for n, data in graph.nodes(data=True) if n != 4)
    for e, (u, v) in enumerate(layered.edge_index.t().tolist()):
        data = graph.edges[u, v, e]
        assert data["attribution"] == float(layered.edge_mask[e])
        assert data["layer_attributions"] == layered.layer_masks[:, e].tolist()
    assert graph.graph == {"method": "layerwise_gradient", "target": layered.target, "index": 4, "task": "node"}


def test_to_pyg_is_a_valid_pyg_explanation_whose_subgraph_keeps_the_layers(layered):
    explanation = layered.to_pyg()
    assert isinstance(explanation, Explanation) and explanation.validate_masks()
    assert torch.equal(explanation.edge_mask, layered.edge_mask) and torch.equal(explanation.edge_index, layered.edge_index)
    assert explanation.num_nodes == layered.num_nodes and int(explanation.target) == layered.target
    kept = layered.edge_mask > 0
    sub = explanation.get_explanation_subgraph()
    assert torch.equal(sub.edge_index, layered.edge_index[:, kept])
    assert torch.equal(sub.layer_edge_mask, layered.layer_masks.t()[kept])


def test_an_explanation_is_a_plain_record():
    e = EdgeExplanation(
        edge_mask=torch.tensor([0.5, -1.0]), layer_masks=None, edge_index=torch.tensor([[0, 1], [1, 0]]), target=0,
        prediction=torch.tensor([1.0, 0.0]), method="edge_gradient", index=1, task="node", num_nodes=2,
        computation_edges=torch.tensor([0, 1]), layer_names=["conv"], own_edge_layers=[],
    )
    assert e.topk(1, absolute=True).indices.tolist() == [1] and e.subgraph().edge_ids.tolist() == [0]


def test_an_index_given_as_a_tensor_of_one_id_is_the_explanations_int_index():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    explanation = explain(model, x, edge_index, method="edge_gradient", index=torch.tensor([NODE]))
    assert type(explanation.index) is int and explanation.index == NODE
    torch.testing.assert_close(explanation.edge_mask, explain(model, x, edge_index, method="edge_gradient", index=NODE).edge_mask)
    graph = explanation.to_networkx()  # raised a KeyError while the index was a tensor
    assert graph.graph["index"] == NODE and graph.nodes[NODE]["target"] is True


def test_the_explanation_lists_the_calls_along_edges_the_model_builds_itself():
    """AttentiveFP's molecule readout runs GATConv over node-to-graph edges built in forward: listed, not attributed."""
    from torch_geometric.nn.models import AttentiveFP

    from edgeattr.adapters.base.provenance import follows_indexing

    if not follows_indexing():
        pytest.skip("this torch's function modes do not see indexing: such calls are refused (tests/zoo)")
    x, edge_index, edge_attr, batch = graph_batch()
    torch.manual_seed(0)
    model = AttentiveFP(5, 8, 2, edge_dim=4, num_layers=2, num_timesteps=2).double().eval()
    explanation = explain(model, x, edge_index, edge_attr, batch, index=1, method="edge_gradient")
    assert explanation.own_edge_layers == ["mol_conv"] * 2
    assert set(explanation.own_edge_layers) <= set(explanation.layer_names)

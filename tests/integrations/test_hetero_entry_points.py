"""explain(), EdgeAttrExplainer and the metrics on heterogeneous PyG models, against PyG's own per-edge-type masks."""

import re

import pytest
import torch
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.explain import HeteroExplanation
from torch_geometric.explain.algorithm.utils import clear_masks, set_hetero_masks

from edgeattr import PyGAdapter, explain
from edgeattr.adapters import PyGHeteroAdapter
from edgeattr.explaining import input_route
from edgeattr.explanation import HeteroEdgeExplanation
from edgeattr.integrations.pyg import EdgeAttrExplainer
from edgeattr.metrics import cosine_similarity, sign_flips
from tests.support.hetero import EDGE_TYPES, NODE, GraphModel, NodeModel, explainer_of, hetero_graph, reference_gradient
from tests.support.zoo import assert_same_state, state_of


def per_type(flat, edges):
    """A flat (..., E) tensor keyed by edge type, sliced by hand in the order of ``edges``."""
    out, start = {}, 0
    for edge_type, edge_index in edges.items():
        out[edge_type] = flat[..., start : start + edge_index.size(1)]
        start += edge_index.size(1)
    return out


def predicted(model, x, edges, row=NODE):
    with torch.no_grad():
        return int(model(x, edges)[row].argmax())


class Rows(torch.nn.Module):
    """The outputs of one node type of a model returning a dict per node type."""

    def __init__(self, gnn, node_type):
        super().__init__()
        self.gnn, self.node_type = gnn, node_type

    def forward(self, x_dict, edge_index_dict):
        return self.gnn(x_dict, edge_index_dict)[self.node_type]


def test_explain_on_dicts_gives_masks_per_edge_type_equal_to_gradients_through_set_hetero_masks():
    model = NodeModel().train()
    x, edges = hetero_graph()
    before = state_of(model)
    explanation = explain(model, x, edges, method="edge_gradient", index=NODE, layerwise=True)
    assert_same_state(before, state_of(model))
    model.eval()
    target = predicted(model, x, edges)
    expected = per_type(reference_gradient(model, x, edges, target, NODE), edges)
    expected_layers = per_type(reference_gradient(model, x, edges, target, NODE, per_module=True), edges)

    assert isinstance(explanation, HeteroEdgeExplanation)
    assert explanation.edge_types == EDGE_TYPES and list(explanation.edge_mask_dict) == EDGE_TYPES
    assert (explanation.target, explanation.index, explanation.task, explanation.node_type) == (target, NODE, "node", None)
    assert explanation.num_nodes_dict == {"a": 6, "b": 5} and explanation.num_nodes == 11
    for edge_type in EDGE_TYPES:
        assert torch.equal(explanation.edge_index_dict[edge_type], edges[edge_type])
        assert expected[edge_type].abs().sum() > 0
        torch.testing.assert_close(explanation.edge_mask_dict[edge_type], expected[edge_type], rtol=1e-9, atol=1e-12)
        assert explanation.layer_masks_dict[edge_type].shape == (6, edges[edge_type].size(1))
        torch.testing.assert_close(explanation.layer_masks_dict[edge_type], expected_layers[edge_type], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(explanation.prediction, model(x, edges)[NODE], rtol=0, atol=1e-12)


def hetero_data(x, edges):
    data = HeteroData()
    for node_type, features in x.items():
        data[node_type].x = features
    for edge_type, edge_index in edges.items():
        data[edge_type].edge_index = edge_index
    return data


#: A model of no framework: only the inputs pick the adapter.
MODEL = torch.nn.Linear(1, 1)


def test_the_first_input_picks_the_adapter():
    x, edges = hetero_graph()
    data = Data(x=x["a"], edge_index=edges[EDGE_TYPES[2]])
    for homogeneous in (data, Batch.from_data_list([data, data]), x["a"]):
        assert input_route(MODEL, (homogeneous,), {}).adapter is PyGAdapter
    batch = Batch.from_data_list([hetero_data(x, edges)] * 2)
    for inputs in ((x, edges), (hetero_data(x, edges),), (batch,)):
        route = input_route(MODEL, inputs, {})
        assert route.adapter is PyGHeteroAdapter and list(route.inputs[1]) == EDGE_TYPES
    assert torch.equal(input_route(MODEL, (batch,), {}).inputs[0]["a"], torch.cat([x["a"], x["a"]]))


def test_a_hetero_data_is_explained_as_its_x_dict_and_edge_index_dict():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    data = hetero_data(x, edges)
    explanation = explain(model, data, method="edge_gradient", index=NODE)
    expected = per_type(reference_gradient(model, x, edges, predicted(model, x, edges), NODE), edges)
    assert list(explanation.edge_mask_dict) == list(data.edge_index_dict)
    for edge_type, values in explanation.edge_mask_dict.items():
        torch.testing.assert_close(values, expected[edge_type], rtol=1e-9, atol=1e-12)


def test_node_type_picks_the_explained_row_of_a_model_returning_outputs_per_node_type():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explanation = explain(model.gnn, x, edges, method="edge_gradient", index=2, node_type="b")
    rows = Rows(model.gnn, "b")
    expected = per_type(reference_gradient(rows, x, edges, predicted(rows, x, edges, row=2), 2), edges)
    assert explanation.node_type == "b" and explanation.index == 2
    for edge_type, values in explanation.edge_mask_dict.items():
        torch.testing.assert_close(values, expected[edge_type], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="pass node_type= and index="):
        explain(model.gnn, x, edges, index=2)


def test_a_graph_classifier_is_explained_without_index():
    model = GraphModel().eval()
    x, edges = hetero_graph()
    explanation = explain(model, x, edges, method="edge_gradient")
    expected = per_type(reference_gradient(model, x, edges, predicted(model, x, edges, row=0), 0), edges)
    assert explanation.task == "graph" and explanation.index == 0
    for edge_type, values in explanation.edge_mask_dict.items():
        torch.testing.assert_close(values, expected[edge_type], rtol=1e-9, atol=1e-12)


def test_to_pyg_is_a_hetero_explanation_whose_subgraphs_keep_the_positive_edges():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explanation = explain(model, x, edges, method="layerwise_gradient", index=NODE)
    pyg = explanation.to_pyg()
    assert isinstance(pyg, HeteroExplanation) and pyg.validate(raise_on_error=True)
    subgraph, complement = pyg.get_explanation_subgraph(), pyg.get_complement_subgraph()
    layers = per_type(reference_gradient(model, x, edges, explanation.target, NODE, per_module=True), edges)
    for edge_type in EDGE_TYPES:
        mask = layers[edge_type].sum(0)
        torch.testing.assert_close(pyg[edge_type].edge_mask, mask, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(pyg[edge_type].layer_edge_mask, layers[edge_type].t(), rtol=1e-9, atol=1e-12)
        kept = explanation.edge_mask_dict[edge_type] > 0
        assert torch.equal(subgraph[edge_type].edge_index, edges[edge_type][:, kept])
        assert torch.equal(complement[edge_type].edge_index, edges[edge_type][:, explanation.edge_mask_dict[edge_type] == 0])
        assert torch.equal(subgraph[edge_type].layer_edge_mask, pyg[edge_type].layer_edge_mask[kept])
    assert {t: pyg[t].num_nodes for t in ("a", "b")} == {"a": 6, "b": 5}
    assert int(pyg.target) == explanation.target and pyg.index == NODE


@pytest.mark.parametrize("absolute", [False, True])
def test_topk_ranks_the_edges_of_every_type_together_and_locate_names_them(absolute):
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explanation = explain(model, x, edges, method="edge_gradient", index=NODE)
    # Brute force: every (edge type, id), best score first, ties in mask order (type after type, then id).
    ranked = [(t, e, float(v)) for t in EDGE_TYPES for e, v in enumerate(explanation.edge_mask_dict[t])]
    ranked = sorted(ranked, key=lambda item: -abs(item[2]) if absolute else -item[2])[:7]
    values, positions = explanation.topk(7, absolute=absolute)
    assert explanation.locate(positions) == [(t, e) for t, e, _ in ranked]
    assert values.tolist() == [v for _, _, v in ranked]
    with pytest.raises(IndexError, match="positions must lie in"):
        explanation.locate(torch.tensor([explanation.num_edges]))


def test_flat_graph_views_are_refused_with_the_per_type_alternative(tmp_path):
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explanation = explain(model, x, edges, index=NODE)
    for call in (explanation.subgraph, explanation.to_networkx, lambda: explanation.plot(str(tmp_path / "x.png"))):
        with pytest.raises(NotImplementedError, match=r"numbers nodes per node type; use .*to_pyg\(\)"):
            call()


def test_bad_heterogeneous_calls_name_the_fix_and_leave_the_model_as_it_was():
    model = NodeModel().train()
    x, edges = hetero_graph()
    before = state_of(model)
    cases = [
        (lambda: explain(model, x), ValueError, r"explain\(model, x_dict, edge_index_dict"),
        (lambda: explain(model, x, edges, index=torch.tensor([0, 1])), ValueError, "explain them one at a time"),
        (lambda: explain(model, x, edges, index=NODE, task="edge"), ValueError, "pass the pairs as the model takes them"),
            (lambda: explain(model, x, edges, index=NODE, task="link"), ValueError, "task must be 'node', 'graph' or 'edge'"),
        (lambda: explain(model, x, edges, index=100), IndexError, "out of range"),
        (lambda: explain(model, x, {t: e.float() for t, e in edges.items()}, index=NODE), ValueError, "integer tensor"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert_same_state(before, state_of(model))


def test_pyg_explainer_gives_hetero_explanations_equal_to_gradients_through_set_hetero_masks():
    x, edges = hetero_graph()
    for model, task_level, index, row in ((NodeModel().eval(), "node", NODE, NODE), (GraphModel().eval(), "graph", None, 0)):
        explainer = explainer_of(model, EdgeAttrExplainer("edge_gradient", normalize=None), task_level=task_level)
        pyg = explainer(x, edges, index=index)
        expected = per_type(reference_gradient(model, x, edges, predicted(model, x, edges, row=row), row), edges)
        from_explain = explain(model, x, edges, method="edge_gradient", index=index).to_pyg()
        assert isinstance(pyg, HeteroExplanation)
        for edge_type in EDGE_TYPES:
            torch.testing.assert_close(pyg[edge_type].edge_attribution, expected[edge_type], rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(pyg[edge_type].edge_mask, from_explain[edge_type].edge_mask, rtol=0, atol=0)


def test_cosine_similarity_of_masks_per_edge_type_is_the_cosine_over_all_their_edges():
    g = torch.Generator().manual_seed(3)
    sizes = {EDGE_TYPES[0]: 4, EDGE_TYPES[1]: 3, EDGE_TYPES[2]: 5}
    a = {t: torch.randn(2, n, generator=g, dtype=torch.float64) for t, n in sizes.items()}
    b = {t: torch.randn(2, n, generator=g, dtype=torch.float64) for t, n in sizes.items()}
    expected = torch.nn.functional.cosine_similarity(torch.cat(list(a.values()), 1), torch.cat(list(b.values()), 1), dim=1)
    reordered = {t: b[t] for t in reversed(EDGE_TYPES)}
    torch.testing.assert_close(cosine_similarity(a, reordered), expected, rtol=1e-12, atol=0)
    entries = {EDGE_TYPES[0]: torch.tensor([0, 3]), EDGE_TYPES[2]: torch.tensor([1])}
    picked = [(a[t][:, i], b[t][:, i]) for t, i in entries.items()]
    expected_on_entries = torch.nn.functional.cosine_similarity(torch.cat([p for p, _ in picked], 1), torch.cat([q for _, q in picked], 1), dim=1)
    torch.testing.assert_close(cosine_similarity(a, b, entries=entries), expected_on_entries, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="different edge types"):
        cosine_similarity(a, {t: b[t] for t in EDGE_TYPES[:2]})
    with pytest.raises(TypeError, match="both as dicts"):
        cosine_similarity(a, torch.cat(list(b.values()), 1))
    with pytest.raises(ValueError, match=re.escape(f"masks of edge type {EDGE_TYPES[1]} have shapes (2, 3) and (2, 2)")):
        cosine_similarity(a, {**b, EDGE_TYPES[1]: b[EDGE_TYPES[1]][:, :2]})


def test_cosine_similarity_compares_two_pyg_hetero_explanations():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    explanations = [
        explainer_of(model, EdgeAttrExplainer(method, normalize=None))(x, edges, index=NODE) for method in ("edge_gradient", "edge_occlusion")
    ]
    masks = [{t: m.unsqueeze(0) for t, m in e.edge_mask_dict.items()} for e in explanations]
    flat = [torch.cat([e[t].edge_mask for t in EDGE_TYPES]).unsqueeze(0) for e in explanations]
    expected = torch.nn.functional.cosine_similarity(flat[0].double(), flat[1].double(), dim=1)
    assert 0 < float(expected) < 1
    torch.testing.assert_close(cosine_similarity(*masks), expected, rtol=1e-12, atol=0)


def test_sign_flips_on_a_hetero_adapter_count_sign_changes_of_gradients_through_set_hetero_masks():
    model = NodeModel().eval()
    x, edges = hetero_graph()
    adapter = PyGHeteroAdapter(model, x, edges, index=NODE)
    target, steps = predicted(model, x, edges), 6
    examined = {EDGE_TYPES[2]: [7, 2, 0], EDGE_TYPES[0]: [0, 1, 3]}  # edge 7 of ('a', 'near', 'a') flips
    got = sign_flips(adapter, adapter.ones(), steps=steps, edges={t: torch.tensor(ids) for t, ids in examined.items()})

    offsets = dict(zip(EDGE_TYPES, torch.tensor([0] + [edges[t].size(1) for t in EDGE_TYPES]).cumsum(0).tolist()))
    order = sorted((offsets[t] + e, t, e) for t, ids in examined.items() for e in ids)  # sign_flips examines in mask order
    gradients = []
    for _, edge_type, edge in order:
        row = []
        for weight in torch.linspace(0, 1, steps, dtype=torch.float64):
            masks = {t: torch.ones(e.size(1), dtype=torch.float64, requires_grad=True) for t, e in edges.items()}
            with torch.no_grad():
                masks[edge_type][edge] = weight
            set_hetero_masks(model, masks, edges, apply_sigmoid=False)
            try:
                z = model(x, edges)[NODE, target]
            finally:
                clear_masks(model)
            row.append(torch.autograd.grad(z, masks[edge_type])[0][edge])
        gradients.append(torch.stack(row))
    expected = torch.stack(gradients)
    signs = [[s for s in torch.sign(g).tolist() if s != 0] for g in expected]
    flips = torch.tensor([sum(a != b for a, b in zip(s, s[1:])) for s in signs])

    assert got.entries.tolist() == [position for position, _, _ in order]
    torch.testing.assert_close(got.gradients, expected, rtol=1e-9, atol=1e-12)
    assert flips.sum() > 0 and torch.equal(got.flips, flips) and got.rate == float((flips > 0).double().mean())
    with pytest.raises(ValueError, match="does not have"):
        sign_flips(adapter, adapter.ones(), edges={("a", "x", "b"): torch.tensor([0])})
    with pytest.raises(TypeError, match="need a heterogeneous adapter"):
        sign_flips(lambda m: m.sum(-1, keepdim=True), torch.ones(1, 4), edges={EDGE_TYPES[0]: torch.tensor([0])})

"""EdgeAttrExplainer on edge-level tasks (link prediction) inside PyG's Explainer."""

import pytest
import torch
from torch_geometric.explain import Explainer, Explanation

from edgeattr.integrations.pyg import EdgeAttrExplainer
from tests.support.links import GCNDot, PairScores
from tests.support.zoo import assert_same_state, random_graph, reference_gradient, reference_output, state_of


def _explainer(model, method, mode="binary_classification"):
    return Explainer(
        model,
        algorithm=EdgeAttrExplainer(method, normalize=None),
        explanation_type="model",
        edge_mask_type="object",
        model_config=dict(mode=mode, task_level="edge", return_type="raw"),
    )


@pytest.fixture(scope="module")
def case():
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=70, seed=3)
    pairs = torch.tensor([[int(edge_index[0, 5]), 2, 17], [int(edge_index[1, 5]), 28, 3]])
    torch.manual_seed(0)
    return GCNDot().double().eval(), x, edge_index, pairs


@pytest.mark.parametrize("mode", ["binary_classification", "regression"])
def test_edge_level_explanations_are_pyg_explanations_of_the_reference_gradient(case, mode):
    model, x, edge_index, pairs = case
    logits = model(x, edge_index, pairs)
    targets = [int(logit > 0) if mode == "binary_classification" else 1 for logit in logits]  # 1: the value itself
    references = [
        reference_gradient(PairScores(model), (x, edge_index, pairs[:, p : p + 1]), {}, edge_index, 0, targets[p]) for p in range(pairs.size(1))
    ]
    assert references[0].abs().max() > 1e-3
    before = state_of(model)
    for p, reference in enumerate(references):
        explanation = _explainer(model, "edge_gradient", mode)(x, edge_index, edge_label_index=pairs, index=p)
        assert isinstance(explanation, Explanation) and explanation.index == p
        torch.testing.assert_close(explanation.edge_attribution, reference, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(explanation.edge_mask, reference, rtol=1e-9, atol=1e-11)
    assert_same_state(before, state_of(model))


def test_the_gradient_sign_rule_and_pyg_subgraphs_on_a_link(case):
    model, x, edge_index, pairs = case
    explanation = _explainer(model, "gradient_sign")(x, edge_index, edge_label_index=pairs, index=1)
    target = int(model(x, edge_index, pairs)[1] > 0)
    reference = reference_gradient(PairScores(model), (x, edge_index, pairs[:, 1:2]), {}, edge_index, 0, target)
    torch.testing.assert_close(explanation.edge_mask, (reference > 0).double(), rtol=0, atol=0)
    assert explanation.get_explanation_subgraph().edge_index.size(1) == int((reference > 0).sum())


@pytest.mark.parametrize("method", ["edge_gradient", "edge_occlusion", "layerwise_gradient", "gradient_sign"])
def test_many_pairs_explain_the_sum_of_their_outputs_as_pyg_sums_its_losses(case, method):
    model, x, edge_index, pairs = case
    many = _explainer(model, method)(x, edge_index, edge_label_index=pairs, index=torch.tensor([0, 2]))
    logits = model(x, edge_index, pairs)
    signs = [1.0 if logit > 0 else -1.0 for logit in logits]  # binary: class 1 explains the logit, class 0 its negative
    ones = torch.ones(edge_index.size(1), dtype=torch.float64)
    if method == "edge_occlusion":
        def joint(mask):
            with torch.no_grad():
                out = reference_output(PairScores(model), (x, edge_index, pairs), {}, edge_index, slice(None), mask)
            return signs[0] * out[0] + signs[2] * out[2]

        reference = torch.stack([joint(ones) - joint(ones.index_fill(0, torch.tensor([e]), 0)) for e in range(edge_index.size(1))])
    else:
        mask = ones.clone().requires_grad_(True)
        out = reference_output(PairScores(model), (x, edge_index, pairs), {}, edge_index, slice(None), mask)
        reference = torch.autograd.grad(signs[0] * out[0] + signs[2] * out[2], mask)[0]
        if method == "gradient_sign":
            reference = (reference > 0).double()
    torch.testing.assert_close(many.edge_attribution, reference, rtol=1e-9, atol=1e-11)


def test_gnnexplainer_refuses_many_pairs_naming_the_fix(case):
    model, x, edge_index, pairs = case
    with pytest.raises(ValueError, match="call the explainer once per pair"):
        _explainer(model, "gnnexplainer")(x, edge_index, edge_label_index=pairs, index=torch.tensor([0, 1]))

"""edgeattr's GNNExplainer against PyG's, and the paper's negative-evidence result."""

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer

from edgeattr import GNNExplainer, GradientSign, PyGAdapter, cosine_similarity
from edgeattr.experiments.models import SumSAGE
from edgeattr.experiments.synthetic import negative_evidence_graph
from edgeattr.experiments.training import train_node_classifier
from tests.support.zoo import model_of, random_graph


def pyg_explainer(model, mode, **coeffs):
    return Explainer(
        model,
        algorithm=PyGGNNExplainer(**coeffs),
        explanation_type="model",
        edge_mask_type="object",
        model_config=dict(mode=mode, task_level="node", return_type="raw"),
    )


@pytest.mark.parametrize("name", ["GCNConv", "GATConv"])
def test_same_seed_gives_pyg_gnnexplainers_mask(name):
    x, edge_index, _ = random_graph()
    model = model_of(name)
    adapter = PyGAdapter(model, x, edge_index, index=10)
    torch.manual_seed(5)
    ours = GNNExplainer(adapter, epochs=30).attribute(adapter.ones())[0]
    torch.manual_seed(5)
    theirs = pyg_explainer(model, "multiclass_classification", epochs=30)(x, edge_index, index=10).edge_mask
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-7)
    assert ours.max() > 0 and ours.min() == 0


@pytest.mark.parametrize("kind", ["model", "phenomenon"])
def test_regression_with_the_same_seed_gives_pyg_gnnexplainers_mask(kind):
    # The GCN's three outputs per node are taken as three regressed values.
    x, edge_index, _ = random_graph()
    model = model_of("GCN")
    adapter = PyGAdapter(model, x, edge_index, index=10, mode="regression")
    values = torch.randn(x.size(0), 3, dtype=x.dtype, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(5)
    ours = GNNExplainer(adapter, epochs=30).attribute(adapter.ones(), kept_values=values[10] if kind == "phenomenon" else None)[0]
    torch.manual_seed(5)
    explainer = Explainer(
        model,
        algorithm=PyGGNNExplainer(epochs=30),
        explanation_type=kind,
        edge_mask_type="object",
        model_config=dict(mode="regression", task_level="node", return_type="raw"),
    )
    theirs = explainer(x, edge_index, index=10, target=values if kind == "phenomenon" else None).edge_mask
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-7)
    assert ours.max() > 0 and ours.min() == 0


def test_regression_values_to_keep_of_the_wrong_size_are_refused():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCN"), x, edge_index, index=10, mode="regression")
    with pytest.raises(ValueError, match="3 output values"):
        GNNExplainer(adapter, epochs=1).attribute(adapter.ones(), kept_values=torch.zeros(2))
    with pytest.raises(ValueError, match="kept_values is for regression"):
        classifier = PyGAdapter(model_of("GCN"), x, edge_index, index=10)
        GNNExplainer(classifier, epochs=1).attribute(classifier.ones(), kept_values=torch.zeros(3))


def test_masks_of_a_batch_are_optimised_independently():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=10)
    torch.manual_seed(1)
    both = GNNExplainer(adapter, epochs=20).attribute(adapter.ones().repeat(2, 1), target=[0, 2])
    for b, target in enumerate([0, 2]):
        torch.manual_seed(1)
        for _ in range(b):  # skip the initial masks drawn before this one
            torch.randn(adapter.num_edges)
        single = GNNExplainer(adapter, epochs=20).attribute(adapter.ones(), target=target)
        torch.testing.assert_close(both[b : b + 1], single, rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def negative_evidence():
    data = negative_evidence_graph(seed=0)
    torch.manual_seed(0)
    model = SumSAGE(3, 1)
    accuracy = train_node_classifier(model, data.x, data.edge_index, data.y, data.white_mask, epochs=300, lr=0.1, l1=0.01)
    assert accuracy == 1.0
    return data, model


def test_gradient_sign_matches_gnnexplainer_on_the_negative_evidence_graph(negative_evidence):
    data, model = negative_evidence
    nodes = data.white_mask.nonzero().view(-1)[:12].tolist()
    ours, theirs = [], []
    explainer = pyg_explainer(model, "binary_classification", epochs=100, lr=0.5, edge_ent=0.0, edge_size=0.001)
    for node in nodes:
        adapter = PyGAdapter(model, data.x, data.edge_index, index=node, mode=model.mode)
        sign = GradientSign(adapter, eps=0.001).attribute(adapter.ones())
        torch.manual_seed(node)
        mask = GNNExplainer(adapter, lr=0.5, edge_ent=0.0, edge_size=0.001).attribute(adapter.ones())
        torch.manual_seed(node)
        pyg_mask = explainer(data.x, data.edge_index, index=node).edge_mask.view(1, -1)
        ours.append(cosine_similarity(sign, mask))
        theirs.append(cosine_similarity(sign, pyg_mask))
        # both keep the positive evidence and drop the negative
        assert sign.sum() > 0 and (sign == 0).sum() > 0
    assert torch.cat(ours).mean() >= 0.99
    assert torch.cat(theirs).mean() >= 0.99

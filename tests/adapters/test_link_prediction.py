"""Link prediction (task='edge') on PyG models written as PyG's link-prediction examples write them.

Every method equals an independent reference through PyG's own set_masks
(or edges deleted from the model's own call), one scored pair at a time.
"""

import pytest
import torch
from torch_geometric.nn import GraphConv
from torch_geometric.utils import k_hop_subgraph

from edgeattr import EdgeGradient, EdgeOcclusion, GNNExplainer, GradientSign, LayerwiseOcclusion, PyGAdapter, explain
from tests.support.links import HIDDEN, SAGEMLP, GCNDot, PairScores
from tests.support.zoo import FEATURES, assert_same_state, random_graph, reference_gradient, reference_output, state_of


class GraphConvDot(torch.nn.Module):
    """GraphConv takes an edge_weight that multiplies each message: the layerwise reference for every layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = GraphConv(FEATURES, HIDDEN)
        self.conv2 = GraphConv(HIDDEN, HIDDEN)

    def forward(self, x, edge_index, edge_label_index, weights=None):
        first, second = (None, None) if weights is None else weights
        z = self.conv2(self.conv1(x, edge_index, first).tanh(), edge_index, second)
        return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)


def _model(cls, seed=0):
    torch.manual_seed(seed)
    return cls().double().eval()


@pytest.fixture(scope="module")
def graph():
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=70, seed=3)
    # Pairs: an edge of the graph (a training edge), a reversed edge, two pairs that are no edges, a pair of one node.
    pairs = torch.tensor([[int(edge_index[0, 5]), int(edge_index[1, 9]), 2, 17, 4], [int(edge_index[1, 5]), int(edge_index[0, 9]), 28, 3, 4]])
    return x, edge_index, pairs


MODELS = [GCNDot, SAGEMLP]


def _reference_gradient(model, x, edge_index, pairs, p, per_module=False):
    return reference_gradient(PairScores(model), (x, edge_index, pairs[:, p : p + 1]), {}, edge_index, 0, 1, per_module=per_module)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_edge_gradient_and_gradient_sign_equal_set_masks_autograd_per_pair(cls, graph):
    x, edge_index, pairs = graph
    model = _model(cls)
    fwd = PyGAdapter(model, x, edge_index, pairs, index=torch.arange(pairs.size(1)), mode="regression")
    assert fwd.task == "edge" and fwd.num_targets == pairs.size(1)
    references = torch.stack([_reference_gradient(model, x, edge_index, pairs, p) for p in range(pairs.size(1))])
    assert references.abs().max() > 1e-3
    torch.testing.assert_close(EdgeGradient(fwd).attribute(fwd.ones()), references, rtol=1e-9, atol=1e-11)
    eps = 1e-6
    torch.testing.assert_close(GradientSign(fwd, eps=eps).attribute(fwd.ones()), (references > eps).double(), rtol=0, atol=0)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_occlusion_equals_brute_force_zeroing_and_deletion(cls, graph):
    x, edge_index, pairs = graph
    model = _model(cls)
    p = 2  # a pair that is no edge of the graph
    fwd = PyGAdapter(model, x, edge_index, pairs, index=p, mode="regression")
    scores = PairScores(model)
    own = PairScores(model)(x, edge_index, pairs)[p]
    zeroed, removed = EdgeOcclusion(fwd).attribute(fwd.ones())[0], EdgeOcclusion(fwd).attribute(fwd.ones(), mode="remove")[0]
    for e in range(edge_index.size(1)):
        mask = torch.ones(edge_index.size(1), dtype=torch.float64)
        mask[e] = 0
        with torch.no_grad():
            without = reference_output(scores, (x, edge_index, pairs[:, p : p + 1]), {}, edge_index, 0, mask)
            keep = torch.arange(edge_index.size(1)) != e
            deleted = PairScores(model)(x, edge_index[:, keep], pairs)[p]
        torch.testing.assert_close(zeroed[e], own - without, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(removed[e], own - deleted, rtol=1e-9, atol=1e-11)


def test_layerwise_methods_equal_each_layers_own_edge_weight(graph):
    x, edge_index, pairs = graph
    model = _model(GraphConvDot)
    fwd = PyGAdapter(model, x, edge_index, pairs, index=torch.arange(pairs.size(1)), layerwise=True, mode="regression")
    ones = torch.ones(edge_index.size(1), dtype=torch.float64)
    for p in range(pairs.size(1)):
        weights = [ones.clone().requires_grad_(True), ones.clone().requires_grad_(True)]
        grads = torch.autograd.grad(model(x, edge_index, pairs[:, p : p + 1], weights)[0], weights)
        torch.testing.assert_close(EdgeGradient(fwd).attribute(fwd.ones())[p], torch.stack(grads), rtol=1e-9, atol=1e-11)
    p, occluded = 1, LayerwiseOcclusion(fwd).attribute(fwd.ones())
    own = model(x, edge_index, pairs)[p]
    for layer in range(2):
        for e in range(0, edge_index.size(1), 7):
            weights = [ones.clone(), ones.clone()]
            weights[layer][e] = 0
            with torch.no_grad():
                torch.testing.assert_close(occluded[p, layer, e], own - model(x, edge_index, pairs, weights)[p], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_restricted_equals_full_graph_and_batched_pairs_equal_one_at_a_time(cls, graph):
    x, edge_index, pairs = graph
    model = _model(cls)
    every = torch.arange(pairs.size(1))
    batched = PyGAdapter(model, x, edge_index, pairs, index=every, mode="regression")
    whole = PyGAdapter(model, x, edge_index, pairs, index=every, mode="regression", restrict=False)
    assert batched.edge_ids.numel() < whole.edge_ids.numel()
    methods = {
        "EdgeGradient": lambda f: EdgeGradient(f).attribute(f.ones()),
        "GradientSign": lambda f: GradientSign(f).attribute(f.ones()),
        "EdgeOcclusion": lambda f: EdgeOcclusion(f).attribute(f.ones()),
        "EdgeOcclusion-remove": lambda f: EdgeOcclusion(f).attribute(f.ones(), mode="remove"),
    }
    for name, method in methods.items():
        together = method(batched)
        torch.testing.assert_close(together, method(whole), rtol=1e-7, atol=1e-9, msg=name)
        for p in range(pairs.size(1)):
            alone = method(PyGAdapter(model, x, edge_index, pairs, index=p, mode="regression"))
            torch.testing.assert_close(together[p : p + 1], alone, rtol=1e-7, atol=1e-9, msg=name)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_attributions_are_exactly_zero_outside_both_endpoints_computation_subgraphs(cls, graph):
    x, edge_index, pairs = graph
    model = _model(cls)
    fwd = PyGAdapter(model, x, edge_index, pairs, index=torch.arange(pairs.size(1)), mode="regression")
    gradient, learned = EdgeGradient(fwd).attribute(fwd.ones()), GNNExplainer(fwd, epochs=5).attribute(fwd.ones())
    for p in range(pairs.size(1)):
        _, _, _, reaching = k_hop_subgraph(pairs[:, p].unique(), 2, edge_index, num_nodes=x.size(0))
        assert (gradient[p][~reaching] == 0).all() and (learned[p][~reaching] == 0).all()
    assert (gradient != 0).sum() > gradient.size(0) * 5 and (learned != 0).sum() > learned.size(0) * 5


def test_the_scored_edge_itself_is_attributed_like_any_other(graph):
    x, edge_index, pairs = graph
    model = _model(GCNDot)
    scored = 5  # pair 0 is edge 5 of the graph
    explanation = explain(model, x, edge_index, edge_label_index=pairs, index=0, method="edge_gradient", mode="regression")
    reference = _reference_gradient(model, x, edge_index, pairs, 0)
    assert explanation.task == "edge" and explanation.index == 0
    assert explanation.edge_mask[scored] != 0
    torch.testing.assert_close(explanation.edge_mask, reference, rtol=1e-9, atol=1e-11)


def test_the_model_is_left_as_it_was_also_after_an_error(graph):
    x, edge_index, pairs = graph
    for cls in MODELS:
        model = _model(cls)
        before = state_of(model)
        fwd = PyGAdapter(model, x, edge_index, pairs, index=torch.arange(pairs.size(1)), mode="regression")
        EdgeOcclusion(fwd).attribute(fwd.ones(), mode="remove")
        GNNExplainer(fwd, epochs=2).attribute(fwd.ones())
        with pytest.raises(IndexError, match="out of range for 5 scored node pairs"):
            PyGAdapter(model, x, edge_index, pairs, index=9, mode="regression")
        assert_same_state(before, state_of(model))


def test_pairs_named_otherwise_are_found_with_pairs_arg(graph):
    x, edge_index, pairs = graph
    model = _model(GCNDot)

    class Renamed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x, edge_index, candidates):
            return self.inner(x, edge_index, candidates)

    fwd = PyGAdapter(Renamed(), x, edge_index, candidates=pairs, pairs_arg="candidates", index=1, mode="regression")
    assert fwd.task == "edge"
    torch.testing.assert_close(EdgeGradient(fwd).attribute(fwd.ones())[0], _reference_gradient(model, x, edge_index, pairs, 1))


def test_bad_pair_input_gets_errors_naming_the_fix(graph):
    x, edge_index, pairs = graph
    model = _model(GCNDot)
    with pytest.raises(ValueError, match="index is required: the model scores 5 node pairs"):
        PyGAdapter(model, x, edge_index, pairs, mode="regression")
    with pytest.raises(ValueError, match="pairs node ids outside"):
        PyGAdapter(model, x, edge_index, pairs + 100, index=0, mode="regression")
    with pytest.raises(ValueError, match="pairs_arg='nothing' names no argument"):
        PyGAdapter(model, x, edge_index, pairs, pairs_arg="nothing", index=0, mode="regression")
    with pytest.raises(ValueError, match=r"integer tensor of shape \(2, P\)"):
        PyGAdapter(model, x, edge_index, pairs.double(), index=0, mode="regression")
    with pytest.raises(ValueError, match="pass task='edge'"):
        PyGAdapter(model, x, edge_index, pairs, task="node", index=0, mode="regression")


def test_an_edge_explanation_names_its_pair_in_subgraphs_networkx_and_the_figure(graph, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    x, edge_index, pairs = graph
    explanation = explain(_model(GCNDot), x, edge_index, edge_label_index=pairs, index=2, method="edge_gradient", mode="regression")
    u, v = pairs[:, 2].tolist()
    assert explanation.pair == (u, v) and explanation.explained_nodes == [u, v]
    assert {u, v} <= set(explanation.subgraph(k=1).nodes.tolist())
    targets = [node for node, data in explanation.to_networkx().nodes(data=True) if data.get("target")]
    assert sorted(targets) == sorted({u, v})
    figure = explanation.plot(str(tmp_path / "pair.png"))
    assert f"pair ({u}, {v})" in figure._suptitle.get_text()
    assert figure.legends[0].get_texts()[0].get_text() == f"target pair ({u}, {v})"


def test_gnnexplainer_with_the_same_seed_gives_pygs_edge_level_gnnexplainer_mask(graph):
    from torch_geometric.explain import Explainer
    from torch_geometric.explain import GNNExplainer as PyGGNNExplainer

    x, edge_index, pairs = graph
    model = _model(GCNDot)
    config = dict(mode="binary_classification", task_level="edge", return_type="raw")
    for p in range(3):
        fwd = PyGAdapter(model, x, edge_index, pairs, index=p, mode="binary_classification")
        torch.manual_seed(5)
        ours = GNNExplainer(fwd, epochs=30).attribute(fwd.ones())[0]
        torch.manual_seed(5)
        explainer = Explainer(model, algorithm=PyGGNNExplainer(epochs=30), explanation_type="model", edge_mask_type="object", model_config=config)
        theirs = explainer(x, edge_index, edge_label_index=pairs, index=p).edge_mask
        torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-7)
        assert ours.max() > 0.1


def test_feature_attributions_of_pair_scores_equal_autograd_of_the_score_in_x(graph):
    x, edge_index, pairs = graph
    model = _model(SAGEMLP)
    fwd = PyGAdapter(model, x, edge_index, pairs, index=torch.arange(pairs.size(1)), mode="regression", features=True)
    edges, features = EdgeGradient(fwd).attribute(fwd.inputs())
    assert features.shape == (pairs.size(1),) + tuple(x.shape)
    for p in range(pairs.size(1)):
        leaf = x.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(PairScores(model)(leaf, edge_index, pairs[:, p : p + 1])[0], leaf)
        torch.testing.assert_close(features[p], expected, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(edges[p], _reference_gradient(model, x, edge_index, pairs, p), rtol=1e-9, atol=1e-11)

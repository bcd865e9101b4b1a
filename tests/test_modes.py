"""Output modes are stated, never guessed: what each mode explains, against autograd through PyG's set_masks."""

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import GNNExplainer as PyGGNNExplainer
from torch_geometric.nn import GCN

from edgeattr import EdgeGradient, EdgeOcclusion, GNNExplainer, GradientSign, PyGAdapter, explain
from edgeattr.integrations.pyg import EdgeAttrExplainer
from tests.support.zoo import FEATURES, HIDDEN, random_graph, reference_output


def gcn(out_channels, seed=2):
    torch.manual_seed(seed)
    return GCN(FEATURES, HIDDEN, num_layers=2, out_channels=out_channels).double().eval()


def output_gradient(model, x, edge_index, node, column):
    """d y[node, column] / d w through PyG's own set_masks: the raw output, no sign."""
    mask = torch.ones(edge_index.size(1), dtype=torch.float64, requires_grad=True)
    return torch.autograd.grad(reference_output(model, (x, edge_index), {}, edge_index, node, mask)[column], mask)[0]


def negative_node(model, x, edge_index):
    """A node with a negative (first) output, where z = -y and z = y differ."""
    return int((model(x, edge_index)[:, 0] < 0).nonzero()[0])


def test_a_single_output_without_a_mode_is_an_error_naming_the_choices():
    x, edge_index, _ = random_graph()
    with pytest.raises(ValueError, match="mode='binary_classification'.*mode='regression'"):
        PyGAdapter(gcn(1), x, edge_index, index=3)
    with pytest.raises(ValueError, match="mode='binary_classification'.*mode='regression'"):
        EdgeGradient(lambda mask: mask.sum(-1, keepdim=True)).attribute(torch.ones(1, 4))


def test_regression_explains_the_output_itself_also_where_it_is_negative():
    x, edge_index, _ = random_graph()
    model = gcn(1)
    node = negative_node(model, x, edge_index)
    regression = PyGAdapter(model, x, edge_index, index=node, mode="regression")
    expected = output_gradient(model, x, edge_index, node, 0)
    torch.testing.assert_close(EdgeGradient(regression).attribute(regression.ones())[0], expected, rtol=1e-9, atol=1e-12)
    # The binary mode explains the predicted class, class 0 here: z = -y, the paper's sign(y) * y.
    binary = PyGAdapter(model, x, edge_index, index=node, mode="binary_classification")
    torch.testing.assert_close(EdgeGradient(binary).attribute(binary.ones())[0], -expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(GradientSign(binary).attribute(binary.ones())[0], (-expected > 0).double())


def test_multi_label_binary_explains_the_named_labels_logit():
    x, edge_index, _ = random_graph()
    model = gcn(4)
    adapter = PyGAdapter(model, x, edge_index, index=5, mode="binary_classification")
    with pytest.raises(ValueError, match="target is required for a multi-label model"):
        EdgeGradient(adapter).attribute(adapter.ones())
    with pytest.raises(ValueError, match="out of range for a multi-label model with 4 label columns"):
        EdgeGradient(adapter).attribute(adapter.ones(), target=4)
    for column in range(4):
        expected = output_gradient(model, x, edge_index, 5, column)
        torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones(), target=column)[0], expected, rtol=1e-9, atol=1e-12)


def test_regression_of_several_outputs_needs_a_column():
    x, edge_index, _ = random_graph()
    model = gcn(3)
    adapter = PyGAdapter(model, x, edge_index, index=5, mode="regression")
    with pytest.raises(ValueError, match="regression model with 3 outputs"):
        EdgeOcclusion(adapter).attribute(adapter.ones())
    expected = output_gradient(model, x, edge_index, 5, 2)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones(), target=2)[0], expected, rtol=1e-9, atol=1e-12)


def test_a_multiclass_mode_needs_two_columns_and_an_unknown_mode_is_refused():
    x, edge_index, _ = random_graph()
    with pytest.raises(ValueError, match="at least two class columns"):
        PyGAdapter(gcn(1), x, edge_index, index=3, mode="multiclass_classification")
    with pytest.raises(ValueError, match="mode must be one of"):
        PyGAdapter(gcn(3), x, edge_index, index=3, mode="classification")


def pyg_explainer(model, mode, algorithm, kind="model"):
    return Explainer(
        model, algorithm=algorithm, explanation_type=kind, edge_mask_type="object",
        model_config=dict(mode=mode, task_level="node", return_type="raw"),
    )


def test_pygs_multi_label_explainer_explains_the_column_it_is_given():
    x, edge_index, _ = random_graph()
    model = gcn(4)
    with pytest.raises(ValueError, match="column=c"):
        pyg_explainer(model, "binary_classification", EdgeAttrExplainer("edge_gradient"))(x, edge_index, index=5)
    for column in (0, 3):
        explainer = pyg_explainer(model, "binary_classification", EdgeAttrExplainer("edge_gradient", normalize=None, column=column))
        explanation = explainer(x, edge_index, index=5)
        torch.testing.assert_close(explanation.edge_attribution, output_gradient(model, x, edge_index, 5, column), rtol=1e-9, atol=1e-12)


def test_pygs_regression_explainer_explains_the_output_and_the_column_it_is_given():
    x, edge_index, _ = random_graph()
    single = gcn(1)
    node = negative_node(single, x, edge_index)
    explanation = pyg_explainer(single, "regression", EdgeAttrExplainer("edge_gradient", normalize=None))(x, edge_index, index=node)
    torch.testing.assert_close(explanation.edge_attribution, output_gradient(single, x, edge_index, node, 0), rtol=1e-9, atol=1e-12)
    several = gcn(3)
    explanation = pyg_explainer(several, "regression", EdgeAttrExplainer("edge_gradient", normalize=None, column=1))(x, edge_index, index=node)
    torch.testing.assert_close(explanation.edge_attribution, output_gradient(several, x, edge_index, node, 1), rtol=1e-9, atol=1e-12)


def test_gnnexplainer_of_a_single_logit_minimises_pygs_binary_loss():
    x, edge_index, _ = random_graph()
    model = gcn(1)
    adapter = PyGAdapter(model, x, edge_index, index=5, mode="binary_classification")
    torch.manual_seed(7)
    ours = GNNExplainer(adapter, epochs=30).attribute(adapter.ones())[0]
    torch.manual_seed(7)
    theirs = pyg_explainer(model, "binary_classification", PyGGNNExplainer(epochs=30))(x, edge_index, index=5).edge_mask
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-7)


class Column(torch.nn.Module):
    """One column of a model's output, as a single logit."""

    def __init__(self, model, column):
        super().__init__()
        self.model, self.column = model, column

    def forward(self, x, edge_index):
        return self.model(x, edge_index)[:, self.column : self.column + 1]


def test_gnnexplainer_of_a_multi_label_model_keeps_the_named_label_present():
    # PyG's binary loss on the column alone, with the label 1 as the phenomenon.
    x, edge_index, _ = random_graph()
    model = gcn(4)
    adapter = PyGAdapter(model, x, edge_index, index=5, mode="binary_classification")
    torch.manual_seed(7)
    ours = GNNExplainer(adapter, epochs=30).attribute(adapter.ones(), target=2)[0]
    torch.manual_seed(7)
    explainer = pyg_explainer(Column(model, 2), "binary_classification", PyGGNNExplainer(epochs=30), kind="phenomenon")
    theirs = explainer(x, edge_index, index=5, target=torch.ones(x.size(0), dtype=torch.long)).edge_mask
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-7)


def test_explain_takes_the_mode():
    x, edge_index, _ = random_graph()
    model = gcn(1)
    node = negative_node(model, x, edge_index)
    explanation = explain(model, x, edge_index, index=node, method="edge_gradient", mode="regression")
    torch.testing.assert_close(explanation.edge_mask, output_gradient(model, x, edge_index, node, 0), rtol=1e-9, atol=1e-12)
    assert explanation.target == 0

"""Captum members inherited by edgeattr's gradient methods follow edgeattr's targets."""

import pytest
import torch
from torch_geometric.nn import GCNConv

from edgeattr import EdgeGradient, GNNExplainer, GradientSign, PyGAdapter
from tests.support.zoo import explained, model_of, random_graph, reference_gradient, reference_output

NODE = 4


class OneLinearLayer(torch.nn.Module):
    """z is linear in the mask: one GCNConv, no non-linearity."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        return self.conv(x, edge_index)


def test_the_completeness_gap_of_a_linear_layer_is_zero():
    torch.manual_seed(0)
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(OneLinearLayer().double().eval(), x, edge_index, index=NODE)
    method = EdgeGradient(adapter)
    ones = adapter.ones()
    delta = method.compute_convergence_delta(method.attribute(ones), None, ones)
    assert delta.shape == (1,)
    torch.testing.assert_close(delta, torch.zeros(1, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("target", [None, 0, 2])
def test_the_completeness_gap_is_the_gradient_sum_minus_the_change_of_z(target):
    x, edge_index, _ = random_graph()
    model = model_of("GATConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    explained_class = int(model(x, edge_index)[NODE].argmax()) if target is None else target
    gradient = reference_gradient(model, (x, edge_index), {}, edge_index, NODE, explained_class)
    start = torch.full((edge_index.size(1),), 0.25, dtype=torch.float64)

    def z(mask):
        with torch.no_grad():
            return explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, mask), explained_class)

    expected = gradient.sum() - (z(torch.ones_like(start)) - z(start))
    for method in (EdgeGradient(adapter), GradientSign(adapter), GNNExplainer(adapter, epochs=1)):
        delta = method.compute_convergence_delta(gradient.view(1, -1), 0.25, adapter.ones(), target=target)
        torch.testing.assert_close(delta, expected.view(1))


def test_the_start_point_may_be_masks_and_shapes_must_match():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=NODE)
    method = EdgeGradient(adapter)
    ones = adapter.ones()
    attribution = method.attribute(ones)
    torch.testing.assert_close(
        method.compute_convergence_delta(attribution, torch.zeros_like(ones), ones), method.compute_convergence_delta(attribution, None, ones)
    )
    with pytest.raises(ValueError, match="start_point has shape"):
        method.compute_convergence_delta(attribution, ones[:, :3], ones)
    with pytest.raises(ValueError, match="attributions have shape"):
        method.compute_convergence_delta(attribution[:, :3], None, ones)

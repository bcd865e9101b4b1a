"""An explanation leaves the model exactly as it was, also when the model raises."""

import pytest
import torch
from torch_geometric.nn import GCNConv

from edgeattr import (
    EdgeGradient,
    PyGAdapter,
)
from tests.support.methods import STATE_METHODS
from tests.support.zoo import assert_same_state, model_of, random_graph, state_of


class Dropping(torch.nn.Module):
    """A model with dropout and a switch that makes its forward raise."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(5, 8).double(), GCNConv(8, 3).double()
        self.dropout = torch.nn.Dropout(0.5)
        self.fail = False

    def forward(self, x, edge_index):
        h = self.dropout(self.conv1(x, edge_index).relu())
        if self.fail:
            raise RuntimeError("failure inside forward")
        return self.conv2(h, edge_index)


CASES = [(method, layerwise) for method in STATE_METHODS for layerwise in (False, True) if layerwise or method != "LayerwiseOcclusion"]


@pytest.mark.parametrize("method, layerwise", CASES)
def test_model_state_is_unchanged_after_every_method(method, layerwise):
    x, edge_index, _ = random_graph()
    model = Dropping().train()
    before = state_of(model)
    adapter = PyGAdapter(model, x, edge_index, index=10, layerwise=layerwise)
    first = STATE_METHODS[method](adapter)
    assert_same_state(before, state_of(model))
    if method != "GNNExplainer":  # explained in eval mode: dropout does not make it random
        second = STATE_METHODS[method](adapter)
        pairs = zip(first, second) if isinstance(first, tuple) else [(first, second)]
        assert all(torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b for a, b in pairs)


@pytest.mark.parametrize("method", list(STATE_METHODS))
def test_model_state_is_unchanged_when_the_forward_raises(method):
    x, edge_index, _ = random_graph()
    model = Dropping().train()
    adapter = PyGAdapter(model, x, edge_index, index=10, layerwise=method == "LayerwiseOcclusion")
    before = state_of(model)
    model.fail = True
    with pytest.raises(RuntimeError, match="failure inside forward"):
        STATE_METHODS[method](adapter)
    model.fail = False
    assert_same_state(before, state_of(model))
    assert all(not module._message_forward_hooks and not module._propagate_forward_pre_hooks for module in (model.conv1, model.conv2))


def test_requires_grad_and_registered_names_are_untouched():
    x, edge_index, _ = random_graph()
    model = model_of("GINConv")
    model.conv1.nn[0].weight.requires_grad_(False)
    before = state_of(model)
    adapter = PyGAdapter(model, x, edge_index, index=10)
    EdgeGradient(adapter).attribute(adapter.ones())
    assert_same_state(before, state_of(model))
    assert not model.conv1.nn[0].weight.requires_grad

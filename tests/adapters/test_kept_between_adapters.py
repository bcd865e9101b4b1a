"""What adapters keep between builds over the same inputs (edgeattr.adapters.base.memo) is never stale.

A loop that builds one adapter per target reuses the graph's neighbourhood index and the features'
finiteness check; an input changed in place between two builds must be derived again, so that the
second adapter explains the graph and features as they are now.
"""

import warnings

import pytest
import torch
from torch_geometric.nn import GCNConv

from edgeattr import EdgeGradient, GradientSign, PyGAdapter
from edgeattr.adapters.base import memo
from edgeattr.adapters.base.memo import remembered
from tests.support.zoo import reference_gradient


class GCN(torch.nn.Module):
    """Two GCNConv layers, as in PyG's gcn.py example."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = GCNConv(6, 8), GCNConv(8, 3)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


@pytest.fixture()
def graph():
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(0, 20, (70,), generator=generator)
    dst = (src + torch.randint(1, 20, (70,), generator=generator)) % 20
    torch.manual_seed(0)
    return GCN().double().eval(), torch.randn(20, 6, dtype=torch.float64, generator=generator), torch.stack([src, dst])


def _gradient(model, x, edge_index, node):
    adapter = PyGAdapter(model, x, edge_index, index=node)
    target = int(model(x, edge_index)[node].argmax())
    return EdgeGradient(adapter).attribute(adapter.ones(), target=target)[0], target


def test_edges_rewired_in_place_are_indexed_again(graph):
    model, x, edge_index = graph
    node = int(edge_index[1, 0])
    _gradient(model, x, edge_index, node)  # indexes the graph
    edge_index[0, 0] = (edge_index[0, 0] + 7) % 20  # the first edge now comes from another node
    edge_index[0, 1] = node  # and the second into the node's neighbourhood
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stale index would fail the check and fall back to the exact path, warning
        ours, target = _gradient(model, x, edge_index, node)
    reference = reference_gradient(model, (x, edge_index), {}, edge_index, node, target)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


def test_an_equal_graph_in_another_tensor_gives_the_same_attributions(graph):
    model, x, edge_index = graph
    first, _ = _gradient(model, x, edge_index, 3)
    again, _ = _gradient(model, x, edge_index.clone(), 3)
    torch.testing.assert_close(again, first, rtol=0, atol=0)


def test_features_made_nan_in_place_are_refused_by_the_next_adapter(graph):
    model, x, edge_index = graph
    node = int(edge_index[1, 0])
    _gradient(model, x, edge_index, node)  # checks x once
    x[int(edge_index[0, 0]), 2] = float("nan")  # a neighbour's feature
    with pytest.raises(ValueError, match="'x' holds NaN or inf"):
        PyGAdapter(model, x, edge_index, index=node)


def test_masks_with_a_sum_that_overflows_are_finite_and_nan_or_inf_is_refused(graph):
    model, x, edge_index = graph
    adapter = PyGAdapter(model.float(), x.float(), edge_index, index=0)
    huge = torch.full((1, adapter.num_edges), 3e38)  # finite, but their float32 sum is inf
    assert not torch.isfinite(huge.sum())
    adapter(huge)  # accepted: no NaN or inf among its entries
    for bad in (float("nan"), float("inf"), -float("inf")):
        mask = adapter.ones()
        mask[0, -1] = bad
        with pytest.raises(ValueError, match="mask contains NaN or inf"):
            adapter(mask)
        with pytest.raises(ValueError, match="mask contains NaN or inf"):
            GradientSign(adapter).attribute(mask)


def test_a_kept_value_is_dropped_with_its_owner_and_derived_again_when_invalid():
    calls = []
    owner = torch.zeros(3)

    def derive():
        calls.append(1)
        return len(calls)

    assert remembered(owner, "n", lambda kept: True, derive) == 1
    assert remembered(owner, "n", lambda kept: True, derive) == 1  # kept
    assert remembered(owner, "n", lambda kept: False, derive) == 2  # no longer valid: derived again
    key = id(owner)
    del owner
    assert key not in memo._KEPT

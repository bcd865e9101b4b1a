"""The paper's linear theorem: for a linear GNN, layerwise gradient = layerwise occlusion."""

import pytest
import torch
from torch_geometric.utils import to_undirected

from edgeattr import EdgeGradient, EdgeOcclusion, LayerwiseOcclusion, PyGAdapter
from tests.support.zoo import FEATURES, LinearSGC


def graph():
    g = torch.Generator().manual_seed(7)
    src = torch.randint(0, 10, (16,), generator=g)
    dst = (src + torch.randint(1, 10, (16,), generator=g)) % 10  # no self-loops
    edge_index = to_undirected(torch.stack([src, dst]))  # both directions: walks can reuse an edge
    return torch.randn(10, FEATURES, generator=g, dtype=torch.float64), edge_index


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_layerwise_occlusion_equals_layerwise_gradient_entry_by_entry(depth):
    torch.manual_seed(depth)
    x, edge_index = graph()
    model = LinearSGC(depth).double()
    adapter = PyGAdapter(model, x, edge_index, index=0, layerwise=True)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())
    occlusion = LayerwiseOcclusion(adapter).attribute(adapter.ones())
    assert gradient.shape == (1, depth, edge_index.size(1)) and gradient.abs().sum() > 0
    torch.testing.assert_close(occlusion, gradient, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_input_level_equality_holds_up_to_two_layers_only(depth):
    torch.manual_seed(depth)
    x, edge_index = graph()
    model = LinearSGC(depth).double()
    adapter = PyGAdapter(model, x, edge_index, index=0)
    g = EdgeGradient(adapter).attribute(adapter.ones())
    o = EdgeOcclusion(adapter).attribute(adapter.ones())
    gap = (g - o).abs().max().item()
    if depth <= 2:
        assert gap < 1e-10
    else:  # a shared w_e enters walks that use the edge twice: z is polynomial in w_e
        assert gap > 1e-6

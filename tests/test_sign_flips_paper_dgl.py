"""sign_flips(protocol='paper') through DGLAdapter against the reference's loop with DGL's native edge_weight."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GraphConv  # noqa: E402

from edgeattr import DGLAdapter, sign_flips  # noqa: E402
from tests.support.paper_sign_flips import reference_statistic  # noqa: E402

NODES, EDGES, FEATURES, NODE = 30, 90, 6, 4


class GCN(torch.nn.Module):
    """Two GraphConv layers that take DGL's edge_weight, as DGL's GCN example writes them."""

    def __init__(self):
        super().__init__()
        self.conv1 = GraphConv(FEATURES, 8, allow_zero_in_degree=True)
        self.conv2 = GraphConv(8, 8, allow_zero_in_degree=True)
        self.conv3 = GraphConv(8, 3, allow_zero_in_degree=True)

    def forward(self, g, feat, edge_weight=None):
        h = self.conv1(g, feat, edge_weight=edge_weight).relu()
        h = self.conv2(g, h, edge_weight=edge_weight).relu()
        return self.conv3(g, h, edge_weight=edge_weight)


def test_paper_protocol_equals_the_reference_loop_through_dgl_edge_weights():
    gen = torch.Generator().manual_seed(3)
    src, dst = torch.randint(0, NODES, (2, EDGES), generator=gen)
    g = dgl.graph((src, torch.where(src == dst, (dst + 1) % NODES, dst)), num_nodes=NODES)
    x = torch.randn(NODES, FEATURES, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    model = GCN().double().eval()
    predicted = model(g, x)[NODE].argmax()

    def gradient(parameters, apply_sigmoid):
        parameters = parameters.clone().requires_grad_(True)
        weights = parameters.sigmoid() if apply_sigmoid else parameters
        (grad,) = torch.autograd.grad(model(g, x, edge_weight=weights)[NODE, predicted], parameters)
        return grad

    swept = torch.randperm(EDGES, generator=torch.Generator().manual_seed(NODE))[:12]
    adapter = DGLAdapter(model, g, x, index=NODE)
    got = sign_flips(adapter, adapter.ones(), edges=swept, protocol="paper")
    flags, rate, at_ones = reference_statistic(gradient, EDGES, swept)
    assert not flags[~torch.isin(torch.arange(EDGES), got.entries)].any()
    assert torch.equal(got.flips.bool(), flags[got.entries]) and got.flips.any()
    assert got.rate == pytest.approx(rate, abs=1e-12)
    torch.testing.assert_close(got.gradients, at_ones[got.entries], rtol=1e-10, atol=1e-13)

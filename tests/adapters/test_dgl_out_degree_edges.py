"""DGL models: computation subgraphs keep the edges that set out-degrees where the layer reads them (GraphConv's norm)."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from dgl.nn import GraphConv, SAGEConv  # noqa: E402

from edgeattr import DGLAdapter, EdgeGradient  # noqa: E402
from tests.adapters.test_many_targets import brute_force_subgraph  # noqa: E402
from tests.support.zoo import FEATURES, HIDDEN, random_graph  # noqa: E402

TARGETS = torch.tensor([0, 5, 11])


class TwoLayers(torch.nn.Module):
    def __init__(self, layer) -> None:
        super().__init__()
        self.conv1, self.conv2 = layer(FEATURES, HIDDEN), layer(HIDDEN, 3)

    def forward(self, g, x, edge_weight=None):
        return self.conv2(g, self.conv1(g, x, edge_weight=edge_weight).relu(), edge_weight=edge_weight)


@pytest.mark.parametrize(
    "layer, out_edges",
    [
        (lambda i, o: GraphConv(i, o, norm="both", allow_zero_in_degree=True), True),  # scales by the source's out-degree
        (lambda i, o: GraphConv(i, o, norm="right", allow_zero_in_degree=True), False),  # by the destination's in-degree
        (lambda i, o: SAGEConv(i, o, "mean"), False),
    ],
)
def test_subgraphs_hold_the_out_degree_edges_the_layer_reads(layer, out_edges):
    x, edge_index, _ = random_graph(num_nodes=20, num_edges=30, seed=3)
    g = dgl.graph((edge_index[0], edge_index[1]), num_nodes=20)
    torch.manual_seed(0)
    model = TwoLayers(layer).double().eval()
    adapter = DGLAdapter(model, g, x, index=TARGETS)
    grads = EdgeGradient(adapter).attribute(adapter.ones())
    out, expected = model(g, x), []
    for t, target in enumerate(TARGETS.tolist()):
        assert adapter.edge_ids[adapter.edge_segment == t].tolist() == brute_force_subgraph(edge_index[0], edge_index[1], target, 2, out_edges)[0]
        weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
        expected += torch.autograd.grad(model(g, x, edge_weight=weight)[target, out[target].argmax()], weight)
    assert torch.stack(expected).abs().sum(1).gt(0).sum() >= 2
    torch.testing.assert_close(grads, torch.stack(expected), rtol=1e-9, atol=1e-12)

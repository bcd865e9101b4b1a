"""Layerwise occlusion skips the messages that cannot reach the target at their layer, and only those.

A message at layer l travels through the calls after it only, so on a node's computation subgraph the
adapter's ``message_layers`` keeps, per layer, the messages into nodes close enough to the target;
every skipped entry must be exactly 0 in a brute-force loop over (layer, edge) through PyG's set_masks.
"""

import pytest
import torch
from torch_geometric.nn import DirGNNConv, GCNConv, SAGEConv
from torch_geometric.utils import k_hop_subgraph

from edgeattr import LayerwiseOcclusion, PyGAdapter
from tests.support.zoo import explained, random_graph, reference_output


class ThreeLayerResidual(torch.nn.Module):
    """Three GCNConv layers with a residual connection around the last two (PyG's DeepGCN style)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList([GCNConv(features, 16), GCNConv(16, 16), GCNConv(16, 3)])
        self.skip = torch.nn.Linear(16, 3)

    def forward(self, x, edge_index):
        h = self.convs[0](x, edge_index).relu()
        h = h + self.convs[1](h, edge_index).relu()
        return self.convs[2](h, edge_index) + self.skip(h)


class BothWays(torch.nn.Module):
    """Two DirGNNConv layers: messages along the edges and against them (PyG's directed-GNN example)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = DirGNNConv(SAGEConv(features, 16), alpha=0.5)
        self.conv2 = DirGNNConv(SAGEConv(16, 3), alpha=0.5)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def _brute_force(model, x, edge_index, node, target, num_layers):
    """z(1) - z(W with W[l, e] = 0) for every layer and edge, one mask per message-passing module (each called once)."""
    num_edges = edge_index.size(1)
    ones = [torch.ones(num_edges, dtype=torch.float64) for _ in range(num_layers)]
    expected = torch.zeros(num_layers, num_edges, dtype=torch.float64)
    with torch.no_grad():
        base = explained(reference_output(model, (x, edge_index), {}, edge_index, node, ones), target)
        for layer in range(num_layers):
            for edge in range(num_edges):
                masks = [m.clone() for m in ones]
                masks[layer][edge] = 0
                expected[layer, edge] = base - explained(reference_output(model, (x, edge_index), {}, edge_index, node, masks), target)
    return expected


@pytest.mark.parametrize("build", [ThreeLayerResidual, BothWays], ids=["residual GCN, 3 layers", "DirGNNConv"])
def test_pruned_layerwise_occlusion_equals_the_loop_over_every_layer_and_edge(build):
    x, edge_index, _ = random_graph(num_nodes=40, num_edges=70)
    torch.manual_seed(0)
    model = build(x.size(1)).double().eval()
    nodes = edge_index[1, :3]  # nodes with in-edges
    adapter = PyGAdapter(model, x, edge_index, index=nodes, layerwise=True)
    assert adapter.message_layers is not None
    got = LayerwiseOcclusion(adapter).attribute(adapter.ones())
    for row, node in enumerate(nodes.tolist()):
        target = int(model(x, edge_index)[node].argmax())
        expected = _brute_force(model, x, edge_index, node, target, adapter.num_layers)
        assert expected.abs().sum() > 0
        torch.testing.assert_close(got[row], expected, rtol=1e-9, atol=1e-12)


def test_the_last_layer_keeps_the_messages_into_the_target_and_the_first_every_message_edge():
    x, edge_index, _ = random_graph(num_nodes=40, num_edges=70)
    torch.manual_seed(0)
    model = ThreeLayerResidual(x.size(1)).double().eval()
    node = int(edge_index[1, 0])
    adapter = PyGAdapter(model, x, edge_index, index=node, layerwise=True)
    reach = adapter.message_layers
    into_target = edge_index[1, adapter.edge_ids] == node
    assert torch.equal(reach[2], into_target & torch.isin(torch.arange(reach.size(1)), adapter.message_edges))
    assert torch.equal(reach[0].nonzero().view(-1), adapter.message_edges)
    # The middle layer: messages into nodes within one hop of the target.
    near, _, _, _ = k_hop_subgraph(node, 1, edge_index, num_nodes=x.size(0))
    assert torch.equal(reach[1], torch.isin(edge_index[1, adapter.edge_ids], near))
    assert reach[2].sum() < reach[1].sum() < reach[0].sum()


def test_no_layer_is_pruned_on_the_exact_path_or_for_graph_targets():
    x, edge_index, _ = random_graph(num_nodes=40, num_edges=70)
    torch.manual_seed(0)
    model = ThreeLayerResidual(x.size(1)).double().eval()
    assert PyGAdapter(model, x, edge_index, index=int(edge_index[1, 0]), layerwise=True, restrict=False).message_layers is None
    assert PyGAdapter(model, x, edge_index, index=int(edge_index[1, 0]), layerwise=False).message_layers is None

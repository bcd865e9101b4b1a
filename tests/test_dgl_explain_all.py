"""explain_all on a DGL model: every node equals the gradient through DGL's own edge_weight."""

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import torch  # noqa: E402

from edgeattr import explain_all, read_attributions, read_manifest  # noqa: E402
from tests.support.dgl_zoo import dgl_case  # noqa: E402


def test_every_node_of_a_dgl_graph_equals_dgls_edge_weight_gradient(tmp_path):
    g, x, model = dgl_case("GraphConv")
    explain_all(model, g, x, method="edge_gradient", out=tmp_path, shard_size=4)
    stored = read_attributions(tmp_path).to_dense()
    classes = [c for shard in read_manifest(tmp_path).shards for c in shard.classes]
    with torch.no_grad():
        assert classes == model(g, x).argmax(-1).tolist()
    assert stored.shape == (g.num_nodes(), g.num_edges())
    for node in range(g.num_nodes()):
        weight = torch.ones(g.num_edges(), dtype=torch.float64, requires_grad=True)
        (expected,) = torch.autograd.grad(model(g, x, edge_weight=weight)[node, classes[node]], weight)
        torch.testing.assert_close(stored[node], expected, rtol=1e-9, atol=1e-12)

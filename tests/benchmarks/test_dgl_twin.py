"""Row 7's twin models: the PyG GCN given a DGL GCN's weights computes what it computes, and the rows say so."""

import re

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402  (a broken DGL must fail here in the dgl lane)
import torch  # noqa: E402
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks  # noqa: E402
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected  # noqa: E402

from edgeattr.benchmarks.dgl_cases import DGLGCN, pyg_twin, twin_rows  # noqa: E402
from tests.support.zoo import CLASSES, FEATURES, HIDDEN, random_graph  # noqa: E402


def symmetric_case():
    """A DGL GCN, float64, on a symmetric graph without self-loops (``edge_index``) and as a DGL graph with one
    self-loop per node appended."""
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=30)
    edge_index = coalesce(to_undirected(remove_self_loops(edge_index)[0]), num_nodes=x.size(0))
    graph = dgl.add_self_loop(dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0)))
    torch.manual_seed(0)
    return DGLGCN(FEATURES, HIDDEN, CLASSES).double().eval(), graph, x, edge_index


def test_the_pyg_twin_computes_the_dgl_gcn_and_its_edge_gradients():
    model, graph, x, edge_index = symmetric_case()
    twin = pyg_twin(model)
    torch.testing.assert_close(twin(x, edge_index), model(graph, x), rtol=0, atol=1e-12)
    # Autograd through weights on the messages: GraphConv's eweight on DGL's edges (the self-loops last), and
    # PyG's explain mask on edge_index's columns (GCNConv's own self-loops unweighted). GCNConv's edge_weight
    # would also enter its degrees.
    dgl_weight = torch.ones(graph.num_edges(), dtype=torch.float64, requires_grad=True)
    pyg_weight = torch.ones(edge_index.size(1), dtype=torch.float64, requires_grad=True)
    (dgl_gradient,) = torch.autograd.grad(model(graph, x, eweight=dgl_weight)[3, 1], dgl_weight)
    set_masks(twin, pyg_weight, edge_index, apply_sigmoid=False)
    try:
        (pyg_gradient,) = torch.autograd.grad(twin(x, edge_index)[3, 1], pyg_weight)
    finally:
        clear_masks(twin)
    assert pyg_gradient.abs().sum() > 0
    torch.testing.assert_close(dgl_gradient[: edge_index.size(1)], pyg_gradient, rtol=0, atol=1e-12)

def test_twin_rows_run_at_a_tiny_size_and_their_attributions_agree():
    model, graph, x, edge_index = symmetric_case()
    rows = twin_rows(model, graph, x, edge_index, torch.tensor([1, 3, 5]), torch.tensor([3]))
    assert [row.goal_max for row in rows] == [1.5] * 4
    assert all(row.ours > 0 and row.theirs > 0 for row in rows)
    for row in rows:
        assert float(re.search(r"max abs difference ([0-9.e+-]+) on", row.notes).group(1)) < 1e-9

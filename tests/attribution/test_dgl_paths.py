"""The walk searches give the same walk through DGL as through PyG for twin models."""

import pytest
import torch

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402

from edgeattr import AMPAve, BestWalk, DGLAdapter, PyGAdapter  # noqa: E402
from tests.support.twins import twins  # noqa: E402
from tests.support.zoo import random_graph  # noqa: E402


@pytest.mark.parametrize("name", ["SAGEConv-mean", "GINConv"])
@pytest.mark.parametrize("method", [BestWalk, AMPAve])
def test_same_walk_through_dgl_and_pyg(name, method):
    x, edge_index, _ = random_graph(num_nodes=10, num_edges=24, seed=3)
    pyg_model, dgl_model = twins(name)
    graph = dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0))
    for node in (0, 4):
        pyg_walk = method(PyGAdapter(pyg_model, x, edge_index, index=node, layerwise=True)).walk()
        dgl_walk = method(DGLAdapter(dgl_model, graph, x, index=node, layerwise=True)).walk()
        assert dgl_walk.nodes.tolist() == pyg_walk.nodes.tolist()
        assert dgl_walk.edges.tolist() == pyg_walk.edges.tolist()
        assert dgl_walk.score == pytest.approx(pyg_walk.score, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("method", [BestWalk, AMPAve])
def test_several_nodes_walk_together_through_dgl_as_each_alone_through_pyg(method):
    x, edge_index, _ = random_graph(num_nodes=10, num_edges=24, seed=5)
    pyg_model, dgl_model = twins("GINConv")
    graph = dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0))
    nodes = torch.tensor([4, 0, 7])
    walks = method(DGLAdapter(dgl_model, graph, x, index=nodes, layerwise=True)).walks()
    for node, dgl_walk in zip(nodes.tolist(), walks):
        pyg_walk = method(PyGAdapter(pyg_model, x, edge_index, index=node, layerwise=True)).walk()
        assert dgl_walk.nodes.tolist() == pyg_walk.nodes.tolist()
        assert dgl_walk.edges.tolist() == pyg_walk.edges.tolist()
        assert dgl_walk.score == pytest.approx(pyg_walk.score, rel=1e-9, abs=1e-12)

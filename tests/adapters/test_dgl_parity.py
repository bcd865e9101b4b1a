"""Twin PyG and DGL models with copied weights give the same attributions, edge for edge."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch_geometric.utils import coalesce, to_undirected  # noqa: E402

from edgeattr import (  # noqa: E402
    DGLAdapter,
    EdgeGradient,
    EdgeOcclusion,
    GradientSign,
    LayerwiseOcclusion,
    PyGAdapter,
)
from tests.support.strategies import graphs  # noqa: E402
from tests.support.twins import TWINS, twins  # noqa: E402
from tests.support.zoo import random_graph  # noqa: E402

NODE = 4


def symmetric_graph_with_loops():
    x, edge_index, _ = random_graph(num_nodes=12, num_edges=24, seed=2)
    loops = torch.arange(12).repeat(2, 1)
    edge_index = coalesce(torch.cat([to_undirected(edge_index), loops], 1))
    return x, edge_index, dgl.graph((edge_index[0], edge_index[1]), num_nodes=12)


METHODS = {
    "EdgeGradient": lambda f: EdgeGradient(f).attribute(f.ones()),
    "GradientSign": lambda f: GradientSign(f, eps=1e-9).attribute(f.ones()),
    "EdgeOcclusion": lambda f: EdgeOcclusion(f).attribute(f.ones()),
}


@pytest.mark.parametrize("name", list(TWINS))
def test_twins_give_the_same_outputs_and_attributions(name):
    pyg_model, dgl_model = twins(name)
    x, edge_index, g = symmetric_graph_with_loops()
    torch.testing.assert_close(pyg_model(x, edge_index), dgl_model(g, x), rtol=1e-9, atol=1e-12)
    pyg_adapter = PyGAdapter(pyg_model, x, edge_index, index=NODE)
    dgl_adapter = DGLAdapter(dgl_model, g, x, index=NODE)
    for method in METHODS.values():
        ours, theirs = method(pyg_adapter), method(dgl_adapter)
        assert ours.abs().sum() > 0
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    pyg_layers = PyGAdapter(pyg_model, x, edge_index, index=NODE, layerwise=True)
    dgl_layers = DGLAdapter(dgl_model, g, x, index=NODE, layerwise=True)
    torch.testing.assert_close(
        LayerwiseOcclusion(pyg_layers).attribute(pyg_layers.ones()),
        LayerwiseOcclusion(dgl_layers).attribute(dgl_layers.ones()),
        rtol=1e-9,
        atol=1e-12,
    )
    torch.testing.assert_close(
        EdgeGradient(pyg_layers).attribute(pyg_layers.ones()), EdgeGradient(dgl_layers).attribute(dgl_layers.ones()), rtol=1e-9, atol=1e-12
    )


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=9, max_edges=16), st.sampled_from(list(TWINS)))
def test_property_twins_agree_on_random_graphs(graph, name):
    x, edge_index, node = graph
    num_nodes = x.size(0)
    loops = torch.arange(num_nodes).repeat(2, 1)  # every node has a self-loop: no zero in-degree for DGL
    edge_index = coalesce(torch.cat([to_undirected(edge_index, num_nodes=num_nodes), loops], 1), num_nodes=num_nodes)
    g = dgl.graph((edge_index[0], edge_index[1]), num_nodes=num_nodes)
    pyg_model, dgl_model = twins(name)
    pyg_layers = PyGAdapter(pyg_model, x, edge_index, index=node, layerwise=True)
    dgl_layers = DGLAdapter(dgl_model, g, x, index=node, layerwise=True)
    torch.testing.assert_close(pyg_layers(pyg_layers.ones()), dgl_layers(dgl_layers.ones()), rtol=1e-9, atol=1e-12)
    gradient = EdgeGradient(dgl_layers).attribute(dgl_layers.ones())
    torch.testing.assert_close(EdgeGradient(pyg_layers).attribute(pyg_layers.ones()), gradient, rtol=1e-9, atol=1e-12)
    dgl_flat = DGLAdapter(dgl_model, g, x, index=node)
    torch.testing.assert_close(gradient.sum(1), EdgeGradient(dgl_flat).attribute(dgl_flat.ones()), rtol=1e-9, atol=1e-12)

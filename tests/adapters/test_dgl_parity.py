"""Twin PyG and DGL models with copied weights give the same attributions, edge for edge."""

import pytest

from tests.support.lanes import skip_unless_dgl_lane

skip_unless_dgl_lane()

import dgl  # noqa: E402
import dgl.nn as dglnn  # noqa: E402
import torch  # noqa: E402
import torch_geometric.nn as pygnn  # noqa: E402
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
from tests.attribution.test_properties import graphs  # noqa: E402
from tests.support.zoo import CLASSES, FEATURES, HIDDEN, random_graph  # noqa: E402

NODE = 4


def copy_gcn(pyg, dg):
    dg.weight.data = pyg.lin.weight.data.T.clone()
    dg.bias.data = pyg.bias.data.clone()


def copy_gin(pyg, dg):
    dg.apply_func.load_state_dict(pyg.nn.state_dict())


def copy_sage(pyg, dg):
    # PyG: lin_l(mean) + lin_r(x) with the bias in lin_l; DGL: fc_neigh(mean) + fc_self(x) with it in fc_self
    dg.fc_neigh.weight.data = pyg.lin_l.weight.data.clone()
    dg.fc_self.weight.data = pyg.lin_r.weight.data.clone()
    dg.fc_self.bias.data = pyg.lin_l.bias.data.clone()


def copy_gat(pyg, dg):
    dg.fc.weight.data = pyg.lin.weight.data.clone()
    dg.attn_l.data = pyg.att_src.data.clone()
    dg.attn_r.data = pyg.att_dst.data.clone()
    dg.bias.data = pyg.bias.data.clone()


#: name -> (PyG layer, DGL layer, weight copy)
TWINS = {
    "GCNConv/GraphConv": (lambda i, o: pygnn.GCNConv(i, o, add_self_loops=False), lambda i, o: dglnn.GraphConv(i, o, norm="both"), copy_gcn),
    "GINConv": (lambda i, o: pygnn.GINConv(torch.nn.Linear(i, o)), lambda i, o: dglnn.GINConv(torch.nn.Linear(i, o), "sum"), copy_gin),
    "SAGEConv-mean": (lambda i, o: pygnn.SAGEConv(i, o, aggr="mean"), lambda i, o: dglnn.SAGEConv(i, o, "mean"), copy_sage),
    "GATConv": (lambda i, o: pygnn.GATConv(i, o, heads=1, add_self_loops=False), lambda i, o: dglnn.GATConv(i, o, num_heads=1), copy_gat),
}


class PyGTwin(torch.nn.Module):
    def __init__(self, make):
        super().__init__()
        self.conv1, self.conv2 = make(FEATURES, HIDDEN), make(HIDDEN, CLASSES)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class DGLTwin(torch.nn.Module):
    def __init__(self, make):
        super().__init__()
        self.conv1, self.conv2 = make(FEATURES, HIDDEN), make(HIDDEN, CLASSES)

    def forward(self, g, x):
        h = self.conv1(g, x).reshape(x.size(0), -1).relu()
        return self.conv2(g, h).reshape(x.size(0), -1)


def twins(name):
    pyg_make, dgl_make, copy = TWINS[name]
    torch.manual_seed(0)
    pyg_model = PyGTwin(pyg_make).double().eval()
    dgl_model = DGLTwin(dgl_make).double().eval()
    copy(pyg_model.conv1, dgl_model.conv1)
    copy(pyg_model.conv2, dgl_model.conv2)
    return pyg_model, dgl_model


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

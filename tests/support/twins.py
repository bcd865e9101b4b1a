"""The same two-layer model in PyG and in DGL, with the same weights (imported in the dgl lane only)."""

import dgl.nn as dglnn
import torch
import torch_geometric.nn as pygnn

from tests.support.zoo import CLASSES, FEATURES, HIDDEN


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

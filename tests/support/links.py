"""Link-prediction models as PyG's examples write them, and a forward over any of them for the references."""

import torch
from torch_geometric.nn import GCNConv, SAGEConv

from tests.support.zoo import FEATURES

HIDDEN = 6


class GCNDot(torch.nn.Module):
    """A GCN encoder and a dot-product decoder in one forward, as PyG's gnn_explainer_link_pred.py writes it."""

    def __init__(self):
        super().__init__()
        self.conv1 = GCNConv(FEATURES, HIDDEN)
        self.conv2 = GCNConv(HIDDEN, HIDDEN)

    def forward(self, x, edge_index, edge_label_index):
        z = self.conv2(self.conv1(x, edge_index).relu(), edge_index)
        return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)


class SAGEMLP(torch.nn.Module):
    """A GraphSAGE encoder and an MLP decoder as encode / decode without a forward, as PyG's link_pred.py writes it."""

    def __init__(self):
        super().__init__()
        self.conv1 = SAGEConv(FEATURES, HIDDEN)
        self.conv2 = SAGEConv(HIDDEN, HIDDEN)
        self.lin1 = torch.nn.Linear(2 * HIDDEN, HIDDEN)
        self.lin2 = torch.nn.Linear(HIDDEN, 1)

    def encode(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)

    def decode(self, z, edge_label_index):
        pair = torch.cat([z[edge_label_index[0]], z[edge_label_index[1]]], dim=-1)
        return self.lin2(self.lin1(pair).relu()).view(-1)


class PairScores(torch.nn.Module):
    """The user's model called on some pairs, through its forward or its encode and decode (set_masks needs a forward)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, edge_index, pairs):
        if type(self.model).forward is torch.nn.Module.forward:
            return self.model.decode(self.model.encode(x, edge_index), pairs)
        return self.model(x, edge_index, pairs)

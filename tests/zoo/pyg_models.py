"""PyG models written the way PyG's own examples write them (``examples/`` and ``benchmark/`` of pyg-team/pytorch_geometric).

Each class names, in its docstring, the example it follows and what differs from it (only sizes,
the dataset-bound constants, and whatever the lane cannot run). The layer arguments, the order of
operations in ``forward`` and the call signature are the example's, so that each model is
explained the way a user of that example would call it. Sizes are the caller's: small, for tests.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import GRU, BatchNorm1d, Embedding, LayerNorm, Linear, ModuleList, ReLU, Sequential
from torch_geometric.nn import (
    APPNP,
    MLP,
    ARMAConv,
    AttentiveFP,
    BatchNorm,
    ChebConv,
    DeepGCNLayer,
    DirGNNConv,
    DNAConv,
    DynamicEdgeConv,
    EdgeConv,
    FastRGCNConv,
    FiLMConv,
    GATConv,
    GCN2Conv,
    GCNConv,
    GENConv,
    GINConv,
    GINEConv,
    GPSConv,
    GraphConv,
    JumpingKnowledge,
    MixHopConv,
    NNConv,
    PNAConv,
    RGATConv,
    RGCNConv,
    SAGEConv,
    SAGPooling,
    Set2Set,
    SGConv,
    SuperGATConv,
    TAGConv,
    TopKPooling,
    TransformerConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from torch_geometric.nn import global_max_pool as gmp
from torch_geometric.nn import global_mean_pool as gap
from torch_geometric.nn.models import MaskLabel


class GCN(torch.nn.Module):
    """examples/gcn.py: two GCNConv, called ``model(x, edge_index, edge_weight)`` (the example passes ``data.edge_attr``, GDC's weights)."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels, normalize=True)
        self.conv2 = GCNConv(hidden_channels, out_channels, normalize=True)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index, edge_weight).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv2(x, edge_index, edge_weight)
        return x


class GAT(torch.nn.Module):
    """examples/gat.py: GATConv with ``heads`` heads, then a one-head GATConv without concatenation.

    ``conv=GATv2Conv`` gives GATv2 (what PyG's ``GAT(v2=True)`` does; no example uses GATv2Conv).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, heads: int, conv: type = GATConv) -> None:
        super().__init__()
        self.conv1 = conv(in_channels, hidden_channels, heads, dropout=0.6)
        self.conv2 = conv(hidden_channels * heads, out_channels, heads=1, concat=False, dropout=0.6)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, p=0.6, training=self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, p=0.6, training=self.training)
        x = self.conv2(x, edge_index)
        return x


class GATWithEdgeFeatures(torch.nn.Module):
    """examples/gat.py with edge features: both GATConv take ``edge_dim``, called ``model(x, edge_index, edge_attr)``.

    GATConv's self-loops get the mean of a node's incoming edge features (``fill_value='mean'``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, heads: int, edge_dim: int) -> None:
        super().__init__()
        self.conv1 = GATConv(in_channels, hidden_channels, heads, dropout=0.6, edge_dim=edge_dim)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=1, concat=False, dropout=0.6, edge_dim=edge_dim)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        x = F.dropout(x, p=0.6, training=self.training)
        x = F.elu(self.conv1(x, edge_index, edge_attr))
        x = F.dropout(x, p=0.6, training=self.training)
        x = self.conv2(x, edge_index, edge_attr)
        return x


class GIN(torch.nn.Module):
    """examples/mutag_gin.py: GINConv over PyG MLPs (batch norm), global_add_pool, an MLP head; ``model(x, edge_index, batch)``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            mlp = MLP([in_channels, hidden_channels, hidden_channels])
            self.convs.append(GINConv(nn=mlp, train_eps=False))
            in_channels = hidden_channels
        self.mlp = MLP([hidden_channels, hidden_channels, out_channels], norm=None, dropout=0.5)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x, edge_index).relu()
        x = global_add_pool(x, batch)
        return self.mlp(x)


class SAGE(torch.nn.Module):
    """examples/reddit.py: two SAGEConv (mean), in-place ReLU and dropout between them."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList()
        self.convs.append(SAGEConv(in_channels, hidden_channels))
        self.convs.append(SAGEConv(hidden_channels, out_channels))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = x.relu_()
                x = F.dropout(x, p=0.5, training=self.training)
        return x


class PNA(torch.nn.Module):
    """examples/pna.py (ZINC): node and edge type embeddings, PNAConv with the in-degree histogram ``deg``,
    BatchNorm, global_add_pool and a regression MLP; ``model(x, edge_index, edge_attr, batch)``.

    Two layers of width ``channels`` instead of four of 75; the embedding tables are ZINC's sizes (21 atom, 4 bond types).
    """

    def __init__(self, deg: Tensor, channels: int = 16, edge_channels: int = 8, num_layers: int = 2) -> None:
        super().__init__()
        self.node_emb = Embedding(21, channels)
        self.edge_emb = Embedding(4, edge_channels)
        aggregators = ["mean", "min", "max", "std"]
        scalers = ["identity", "amplification", "attenuation"]
        self.convs = ModuleList()
        self.batch_norms = ModuleList()
        for _ in range(num_layers):
            conv = PNAConv(
                in_channels=channels,
                out_channels=channels,
                aggregators=aggregators,
                scalers=scalers,
                deg=deg,
                edge_dim=edge_channels,
                towers=4,
                pre_layers=1,
                post_layers=1,
                divide_input=False,
            )
            self.convs.append(conv)
            self.batch_norms.append(BatchNorm(channels))
        self.mlp = Sequential(Linear(channels, 8), ReLU(), Linear(8, 4), ReLU(), Linear(4, 1))

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor) -> Tensor:
        x = self.node_emb(x.squeeze())
        edge_attr = self.edge_emb(edge_attr)
        for conv, batch_norm in zip(self.convs, self.batch_norms):
            x = F.relu(batch_norm(conv(x, edge_index, edge_attr)))
        x = global_add_pool(x, batch)
        return self.mlp(x)


class APPNPNet(torch.nn.Module):
    """benchmark/citation/appnp.py: two Linear layers, then APPNP propagation; called ``model(data)``."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, K: int = 3, alpha: float = 0.1, dropout: float = 0.5) -> None:
        super().__init__()
        self.lin1 = Linear(in_channels, hidden)
        self.lin2 = Linear(hidden, out_channels)
        self.prop1 = APPNP(K, alpha)
        self.dropout = dropout

    def forward(self, data) -> Tensor:
        x, edge_index = data.x, data.edge_index
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = F.relu(self.lin1(x))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.lin2(x)
        x = self.prop1(x, edge_index)
        return F.log_softmax(x, dim=1)


class ARMA(torch.nn.Module):
    """examples/arma.py: two ARMAConv (3 stacks, 2 layers, shared weights), the second without activation; log_softmax."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ARMAConv(in_channels, hidden_channels, num_stacks=3, num_layers=2, shared_weights=True, dropout=0.25)
        self.conv2 = ARMAConv(hidden_channels, out_channels, num_stacks=3, num_layers=2, shared_weights=True, dropout=0.25, act=lambda x: x)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, training=self.training)
        x = F.relu(self.conv1(x, edge_index))
        x = F.dropout(x, training=self.training)
        x = self.conv2(x, edge_index)
        return F.log_softmax(x, dim=1)


class TAGCN(torch.nn.Module):
    """examples/tagcn.py: two TAGConv (K=3), log_softmax.

    The example's ``forward()`` reads the global ``data``; here it takes ``(x, edge_index)``, the two tensors it reads.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = TAGConv(in_channels, hidden_channels)
        self.conv2 = TAGConv(hidden_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.relu(self.conv1(x, edge_index))
        x = F.dropout(x, training=self.training)
        x = self.conv2(x, edge_index)
        return F.log_softmax(x, dim=1)


class Cheb(torch.nn.Module):
    """benchmark/citation/cheb.py: two ChebConv with ``num_hops`` = K = 3; called ``model(data)``."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_hops: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1 = ChebConv(in_channels, hidden, num_hops)
        self.conv2 = ChebConv(hidden, out_channels, num_hops)
        self.dropout = dropout

    def forward(self, data) -> Tensor:
        x, edge_index = data.x, data.edge_index
        x = F.relu(self.conv1(x, edge_index))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.conv2(x, edge_index)
        return F.log_softmax(x, dim=1)


class SGC(torch.nn.Module):
    """benchmark/citation/sgc.py: one SGConv with K=2 and ``cached=True``; called ``model(data)``."""

    def __init__(self, in_channels: int, out_channels: int, K: int = 2) -> None:
        super().__init__()
        self.conv1 = SGConv(in_channels, out_channels, K=K, cached=True)

    def forward(self, data) -> Tensor:
        x, edge_index = data.x, data.edge_index
        x = self.conv1(x, edge_index)
        return F.log_softmax(x, dim=1)


class MixHop(torch.nn.Module):
    """examples/mixhop.py: MixHopConv with powers [0, 1, 2], each followed by BatchNorm, then a Linear head.

    Two MixHop layers of 8 channels per power instead of three of 60.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = MixHopConv(in_channels, hidden, powers=[0, 1, 2])
        self.norm1 = BatchNorm(3 * hidden)
        self.conv2 = MixHopConv(3 * hidden, hidden, powers=[0, 1, 2])
        self.norm2 = BatchNorm(3 * hidden)
        self.lin = Linear(3 * hidden, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, p=0.7, training=self.training)
        x = self.conv1(x, edge_index)
        x = self.norm1(x)
        x = F.dropout(x, p=0.9, training=self.training)
        x = self.conv2(x, edge_index)
        x = self.norm2(x)
        x = F.dropout(x, p=0.9, training=self.training)
        return self.lin(x)


class DNA(torch.nn.Module):
    """examples/dna.py: a Linear layer, DNAConv layers attending over all earlier layers' outputs (``x_all``), a Linear head."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int, heads: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            self.convs.append(DNAConv(hidden_channels, heads, groups, dropout=0.8))
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.relu(self.lin1(x))
        x = F.dropout(x, p=0.5, training=self.training)
        x_all = x.view(-1, 1, self.hidden_channels)
        for conv in self.convs:
            x = F.relu(conv(x_all, edge_index))
            x = x.view(-1, 1, self.hidden_channels)
            x_all = torch.cat([x_all, x], dim=1)
        x = x_all[:, -1]
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.lin2(x)
        return torch.log_softmax(x, dim=1)


class UniMP(torch.nn.Module):
    """examples/unimp_arxiv.py: MaskLabel adds the embedded labels of the nodes in ``label_mask`` to their features;
    TransformerConv layers with ``beta=True`` and LayerNorm; ``model(x, y, edge_index, label_mask)``."""

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int, num_layers: int, heads: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.label_emb = MaskLabel(num_classes, in_channels)
        self.convs = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        for i in range(1, num_layers + 1):
            if i < num_layers:
                out_channels = hidden_channels // heads
                concat = True
            else:
                out_channels = num_classes
                concat = False
            conv = TransformerConv(in_channels, out_channels, heads, concat=concat, beta=True, dropout=dropout)
            self.convs.append(conv)
            in_channels = hidden_channels
            if i < num_layers:
                self.norms.append(torch.nn.LayerNorm(hidden_channels))

    def forward(self, x: Tensor, y: Tensor, edge_index: Tensor, label_mask: Tensor) -> Tensor:
        x = self.label_emb(x, y, label_mask)
        for conv, norm in zip(self.convs, self.norms):
            x = norm(conv(x, edge_index)).relu()
        return self.convs[-1](x, edge_index)


class GraphConvJK(torch.nn.Module):
    """examples/graph_saint.py: three GraphConv with edge weights, their outputs concatenated, a Linear head;
    ``model(x0, edge_index, edge_weight)``. The concatenation is PyG's JumpingKnowledge('cat'), as benchmark/kernel/*.py write it."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = GraphConv(in_channels, hidden_channels)
        self.conv2 = GraphConv(hidden_channels, hidden_channels)
        self.conv3 = GraphConv(hidden_channels, hidden_channels)
        self.jump = JumpingKnowledge(mode="cat")
        self.lin = torch.nn.Linear(3 * hidden_channels, out_channels)

    def forward(self, x0: Tensor, edge_index: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        x1 = F.relu(self.conv1(x0, edge_index, edge_weight))
        x1 = F.dropout(x1, p=0.2, training=self.training)
        x2 = F.relu(self.conv2(x1, edge_index, edge_weight))
        x2 = F.dropout(x2, p=0.2, training=self.training)
        x3 = F.relu(self.conv3(x2, edge_index, edge_weight))
        x3 = F.dropout(x3, p=0.2, training=self.training)
        x = self.jump([x1, x2, x3])
        x = self.lin(x)
        return x.log_softmax(dim=-1)


class NNConvSet2Set(torch.nn.Module):
    """examples/qm9_nn_conv.py: NNConv (edge network, mean) iterated three times through a GRU, Set2Set readout,
    one regression value per graph (``out.view(-1)``); called ``model(data)``."""

    def __init__(self, num_features: int, edge_dim: int, dim: int = 8) -> None:
        super().__init__()
        self.lin0 = torch.nn.Linear(num_features, dim)
        nn = Sequential(Linear(edge_dim, 16), ReLU(), Linear(16, dim * dim))
        self.conv = NNConv(dim, dim, nn, aggr="mean")
        self.gru = GRU(dim, dim)
        self.set2set = Set2Set(dim, processing_steps=3)
        self.lin1 = torch.nn.Linear(2 * dim, dim)
        self.lin2 = torch.nn.Linear(dim, 1)

    def forward(self, data) -> Tensor:
        out = F.relu(self.lin0(data.x))
        h = out.unsqueeze(0)
        for _ in range(3):
            m = F.relu(self.conv(out, data.edge_index, data.edge_attr))
            out, h = self.gru(m.unsqueeze(0), h)
            out = out.squeeze(0)
        out = self.set2set(out, data.batch)
        out = F.relu(self.lin1(out))
        out = self.lin2(out)
        return out.view(-1)


class EdgeConvNet(torch.nn.Module):
    """examples/dgcnn_classification.py with EdgeConv over the given ``edge_index`` in place of DynamicEdgeConv's
    k-NN graph (DynamicEdgeConv is EdgeConv on a graph built in forward): two EdgeConv (max), a Linear over both,
    global_max_pool, an MLP head; ``model(x, edge_index, batch)``."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = EdgeConv(MLP([2 * in_channels, hidden, hidden]), aggr="max")
        self.conv2 = EdgeConv(MLP([2 * hidden, hidden]), aggr="max")
        self.lin1 = Linear(2 * hidden, 2 * hidden)
        self.mlp = MLP([2 * hidden, hidden, out_channels], dropout=0.5, norm=None)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor) -> Tensor:
        x1 = self.conv1(x, edge_index)
        x2 = self.conv2(x1, edge_index)
        out = self.lin1(torch.cat([x1, x2], dim=1))
        out = global_max_pool(out, batch)
        out = self.mlp(out)
        return F.log_softmax(out, dim=1)


class GPS(torch.nn.Module):
    """examples/graph_gps.py (ZINC): atom and bond type embeddings, a BatchNorm'd random-walk positional encoding ``pe``,
    GPSConv layers (GINEConv + multi-head attention within each graph), global_add_pool, a regression MLP;
    ``model(x, pe, edge_index, edge_attr, batch)``. Multi-head attention only, so no RedrawProjection (Performer's)."""

    def __init__(self, channels: int, pe_dim: int, walk_length: int, num_layers: int, attn_type: str = "multihead", attn_kwargs: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.node_emb = Embedding(28, channels - pe_dim)
        self.pe_lin = Linear(walk_length, pe_dim)
        self.pe_norm = BatchNorm1d(walk_length)
        self.edge_emb = Embedding(4, channels)
        self.convs = ModuleList()
        for _ in range(num_layers):
            nn = Sequential(Linear(channels, channels), ReLU(), Linear(channels, channels))
            conv = GPSConv(channels, GINEConv(nn), heads=4, attn_type=attn_type, attn_kwargs=attn_kwargs or {})
            self.convs.append(conv)
        self.mlp = Sequential(
            Linear(channels, channels // 2),
            ReLU(),
            Linear(channels // 2, channels // 4),
            ReLU(),
            Linear(channels // 4, 1),
        )

    def forward(self, x: Tensor, pe: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor) -> Tensor:
        x_pe = self.pe_norm(pe)
        x = torch.cat((self.node_emb(x.squeeze(-1)), self.pe_lin(x_pe)), 1)
        edge_attr = self.edge_emb(edge_attr)
        for conv in self.convs:
            x = conv(x, edge_index, batch, edge_attr=edge_attr)
        x = global_add_pool(x, batch)
        return self.mlp(x)


class GCN2(torch.nn.Module):
    """examples/gcn2_cora.py: Linear, GCN2Conv layers with initial residual ``x_0`` and identity mapping, Linear; log_softmax.

    The example passes ``data.adj_t``, a torch_sparse SparseTensor normalised by ``T.GCNNorm()``, to layers with
    ``normalize=False``; this lane has no torch_sparse, so ``adj_t`` is a ``(2, E)`` edge_index here and the layers
    normalise it themselves (``normalize=True``, the same symmetric normalisation with self-loops).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int, num_layers: int, alpha: float, theta: float, shared_weights: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.lins = torch.nn.ModuleList()
        self.lins.append(Linear(in_channels, hidden_channels))
        self.lins.append(Linear(hidden_channels, out_channels))
        self.convs = torch.nn.ModuleList()
        for layer in range(num_layers):
            self.convs.append(GCN2Conv(hidden_channels, alpha, theta, layer + 1, shared_weights, normalize=True))
        self.dropout = dropout

    def forward(self, x: Tensor, adj_t: Tensor) -> Tensor:
        x = F.dropout(x, self.dropout, training=self.training)
        x = x_0 = self.lins[0](x).relu()
        for conv in self.convs:
            x = F.dropout(x, self.dropout, training=self.training)
            x = conv(x, x_0, adj_t)
            x = x.relu()
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.lins[1](x)
        return x.log_softmax(dim=-1)


class FiLM(torch.nn.Module):
    """examples/film.py (PPI): FiLMConv layers with BatchNorm1d between them, the last without activation."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = dropout
        self.convs = torch.nn.ModuleList()
        self.convs.append(FiLMConv(in_channels, hidden_channels))
        for _ in range(num_layers - 2):
            self.convs.append(FiLMConv(hidden_channels, hidden_channels))
        self.convs.append(FiLMConv(hidden_channels, out_channels, act=None))
        self.norms = torch.nn.ModuleList()
        for _ in range(num_layers - 1):
            self.norms.append(BatchNorm1d(hidden_channels))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for conv, norm in zip(self.convs[:-1], self.norms):
            x = norm(conv(x, edge_index))
            x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.convs[-1](x, edge_index)
        return x


class RGCN(torch.nn.Module):
    """examples/rgcn.py with ``Conv = RGCNConv``: featureless (the first layer embeds node ids), basis decomposition;
    called ``model(edge_index, edge_type)``."""

    conv_class = RGCNConv

    def __init__(self, num_nodes: int, hidden: int, num_classes: int, num_relations: int, num_bases: int) -> None:
        super().__init__()
        self.conv1 = self.conv_class(num_nodes, hidden, num_relations, num_bases=num_bases)
        self.conv2 = self.conv_class(hidden, num_classes, num_relations, num_bases=num_bases)

    def forward(self, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        x = F.relu(self.conv1(None, edge_index, edge_type))
        x = self.conv2(x, edge_index, edge_type)
        return F.log_softmax(x, dim=1)


class FastRGCN(RGCN):
    """examples/rgcn.py with ``Conv = FastRGCNConv`` (the example's choice for AIFB and MUTAG); ``model(edge_index, edge_type)``."""

    conv_class = FastRGCNConv


class RGAT(torch.nn.Module):
    """examples/rgat.py: two RGATConv (across-relation attention), ReLU, a Linear head; ``model(x, edge_index, edge_type)``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_relations: int) -> None:
        super().__init__()
        self.conv1 = RGATConv(in_channels, hidden_channels, num_relations)
        self.conv2 = RGATConv(hidden_channels, hidden_channels, num_relations)
        self.lin = torch.nn.Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        x = self.conv1(x, edge_index, edge_type).relu()
        x = self.conv2(x, edge_index, edge_type).relu()
        x = self.lin(x)
        return F.log_softmax(x, dim=-1)


class DirGNN(torch.nn.Module):
    """examples/dir_gnn.py: each GCNConv (the example's default ``--conv gcn``; ``Conv=SAGEConv`` is ``--conv sage``)
    wrapped in DirGNNConv, which runs a copy of it on the reversed edges and mixes both directions by ``alpha``."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, alpha: float, Conv=GCNConv) -> None:
        super().__init__()
        self.conv1 = Conv(in_channels, hidden_channels)
        self.conv1 = DirGNNConv(self.conv1, alpha, root_weight=False)
        self.conv2 = Conv(hidden_channels, out_channels)
        self.conv2 = DirGNNConv(self.conv2, alpha, root_weight=False)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = self.conv1(x, edge_index).relu()
        x = self.conv2(x, edge_index)
        return x


class TopKPool(torch.nn.Module):
    """examples/proteins_topk_pool.py: GraphConv and TopKPooling (ratio 0.8) three times, max and mean readouts summed
    over the three levels, an MLP head; called ``model(data)``."""

    def __init__(self, num_features: int, num_classes: int, hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = GraphConv(num_features, hidden)
        self.pool1 = TopKPooling(hidden, ratio=0.8)
        self.conv2 = GraphConv(hidden, hidden)
        self.pool2 = TopKPooling(hidden, ratio=0.8)
        self.conv3 = GraphConv(hidden, hidden)
        self.pool3 = TopKPooling(hidden, ratio=0.8)
        self.lin1 = torch.nn.Linear(2 * hidden, hidden)
        self.lin2 = torch.nn.Linear(hidden, hidden // 2)
        self.lin3 = torch.nn.Linear(hidden // 2, num_classes)

    def forward(self, data) -> Tensor:
        x, edge_index, batch = data.x, data.edge_index, data.batch
        x = F.relu(self.conv1(x, edge_index))
        x, edge_index, _, batch, _, _ = self.pool1(x, edge_index, None, batch)
        x1 = torch.cat([gmp(x, batch), gap(x, batch)], dim=1)
        x = F.relu(self.conv2(x, edge_index))
        x, edge_index, _, batch, _, _ = self.pool2(x, edge_index, None, batch)
        x2 = torch.cat([gmp(x, batch), gap(x, batch)], dim=1)
        x = F.relu(self.conv3(x, edge_index))
        x, edge_index, _, batch, _, _ = self.pool3(x, edge_index, None, batch)
        x3 = torch.cat([gmp(x, batch), gap(x, batch)], dim=1)
        x = x1 + x2 + x3
        x = F.relu(self.lin1(x))
        x = F.dropout(x, p=0.5, training=self.training)
        x = F.relu(self.lin2(x))
        x = F.log_softmax(self.lin3(x), dim=-1)
        return x


class SAGPool(torch.nn.Module):
    """benchmark/kernel/sag_pool.py: GraphConv (mean) layers, SAGPooling (its own GraphConv scores the nodes) after
    every other layer, mean readouts of every layer through JumpingKnowledge('cat'), an MLP head; ``model(data)``.

    (examples/triangles_sag_pool.py, the other SAGPooling example, returns ``(x, attn_loss, ratio)`` and needs the
    TRIANGLES dataset's node attention ``data.attn``.)
    """

    def __init__(self, num_features: int, num_classes: int, num_layers: int = 4, hidden: int = 8, ratio: float = 0.8) -> None:
        super().__init__()
        self.conv1 = GraphConv(num_features, hidden, aggr="mean")
        self.convs = torch.nn.ModuleList()
        self.pools = torch.nn.ModuleList()
        self.convs.extend([GraphConv(hidden, hidden, aggr="mean") for i in range(num_layers - 1)])
        self.pools.extend([SAGPooling(hidden, ratio) for i in range((num_layers) // 2)])
        self.jump = JumpingKnowledge(mode="cat")
        self.lin1 = Linear(num_layers * hidden, hidden)
        self.lin2 = Linear(hidden, num_classes)

    def forward(self, data) -> Tensor:
        x, edge_index, batch = data.x, data.edge_index, data.batch
        x = F.relu(self.conv1(x, edge_index))
        xs = [global_mean_pool(x, batch)]
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x, edge_index))
            xs += [global_mean_pool(x, batch)]
            if i % 2 == 0 and i < len(self.convs) - 1:
                pool = self.pools[i // 2]
                x, edge_index, _, batch, _, _ = pool(x, edge_index, batch=batch)
        x = self.jump(xs)
        x = F.relu(self.lin1(x))
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.lin2(x)
        return F.log_softmax(x, dim=-1)


class AttentiveFPNet(AttentiveFP):
    """examples/attentive_fp.py: PyG's AttentiveFP (GATEConv, atom-level GATConv + GRU, a molecule-level GATConv over
    the node-to-graph edges it builds in forward, with ``explain=False``), one regression value per molecule;
    ``model(x, edge_index, edge_attr, batch)``. Sizes are the caller's instead of (39, 200, 1, 10)."""

    def __init__(self, in_channels: int, hidden_channels: int, edge_dim: int) -> None:
        super().__init__(in_channels=in_channels, hidden_channels=hidden_channels, out_channels=1, edge_dim=edge_dim, num_layers=2, num_timesteps=2, dropout=0.2)


class SuperGAT(torch.nn.Module):
    """examples/super_gat.py: two SuperGATConv ('MX' attention); returns ``(log_softmax, att_loss)``.

    The example's second layer reads the global ``data.edge_index``; here it is the ``edge_index`` argument, the same tensor.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.conv1 = SuperGATConv(in_channels, hidden, heads=heads, dropout=0.6, attention_type="MX", edge_sample_ratio=0.8, is_undirected=True)
        self.conv2 = SuperGATConv(hidden * heads, out_channels, heads=heads, concat=False, dropout=0.6, attention_type="MX", edge_sample_ratio=0.8, is_undirected=True)

    def forward(self, x: Tensor, edge_index: Tensor):
        x = F.dropout(x, p=0.6, training=self.training)
        x = F.elu(self.conv1(x, edge_index))
        att_loss = self.conv1.get_attention_loss()
        x = F.dropout(x, p=0.6, training=self.training)
        x = self.conv2(x, edge_index)
        att_loss += self.conv2.get_attention_loss()
        return F.log_softmax(x, dim=-1), att_loss


class DeeperGCN(torch.nn.Module):
    """examples/ogbn_proteins_deepgcn.py: node and edge encoders, DeepGCNLayer('res+') over GENConv (softmax aggregation,
    learnable temperature, LayerNorm'd MLP) with gradient checkpointing, a Linear head; ``model(x, edge_index, edge_attr)``.

    ``ckpt_grad=True`` on every layer (the example checkpoints layers with ``i % 3 != 0``).
    """

    def __init__(self, in_channels: int, edge_channels: int, hidden_channels: int, out_channels: int, num_layers: int) -> None:
        super().__init__()
        self.node_encoder = Linear(in_channels, hidden_channels)
        self.edge_encoder = Linear(edge_channels, hidden_channels)
        self.layers = torch.nn.ModuleList()
        for i in range(1, num_layers + 1):
            conv = GENConv(hidden_channels, hidden_channels, aggr="softmax", t=1.0, learn_t=True, num_layers=2, norm="layer")
            norm = LayerNorm(hidden_channels, elementwise_affine=True)
            act = ReLU(inplace=True)
            layer = DeepGCNLayer(conv, norm, act, block="res+", dropout=0.1, ckpt_grad=True)
            self.layers.append(layer)
        self.lin = Linear(hidden_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        x = self.node_encoder(x)
        edge_attr = self.edge_encoder(edge_attr)
        x = self.layers[0].conv(x, edge_index, edge_attr)
        for layer in self.layers[1:]:
            x = layer(x, edge_index, edge_attr)
        x = self.layers[0].act(self.layers[0].norm(x))
        x = F.dropout(x, p=0.1, training=self.training)
        return self.lin(x)


class DGCNN(torch.nn.Module):
    """examples/dgcnn_classification.py: two DynamicEdgeConv, each building a k-NN graph of its input inside forward,
    a Linear over both, global_max_pool and an MLP head; called ``model(data)`` with ``data.pos`` and ``data.batch``."""

    def __init__(self, out_channels: int, k: int = 4, aggr: str = "max", hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = DynamicEdgeConv(MLP([2 * 3, hidden, hidden]), k, aggr)
        self.conv2 = DynamicEdgeConv(MLP([2 * hidden, 2 * hidden]), k, aggr)
        self.lin1 = Linear(3 * hidden, 4 * hidden)
        self.mlp = MLP([4 * hidden, 2 * hidden, hidden, out_channels], dropout=0.5, norm=None)

    def forward(self, data) -> Tensor:
        pos, batch = data.pos, data.batch
        x1 = self.conv1(pos, batch)
        x2 = self.conv2(x1, batch)
        out = self.lin1(torch.cat([x1, x2], dim=1))
        out = global_max_pool(out, batch)
        out = self.mlp(out)
        return F.log_softmax(out, dim=1)


from torch_geometric.nn import HGTConv  # noqa: E402
from torch_geometric.nn import Linear as LazyLinear  # noqa: E402


class HGT(torch.nn.Module):
    """examples/hetero/hgt_dblp.py: a lazy Linear per node type (ReLU), ``num_layers`` HGTConv over the graph's metadata,
    a Linear on the 'author' rows; called ``model(data.x_dict, data.edge_index_dict)``. The example reads the node types
    and metadata off its global ``data``; here they are constructor arguments, and ``out_type`` names the explained type."""

    def __init__(self, hidden_channels: int, out_channels: int, num_heads: int, num_layers: int, metadata: Any, out_type: str = "author") -> None:
        super().__init__()
        self.out_type = out_type
        self.lin_dict = torch.nn.ModuleDict()
        for node_type in metadata[0]:
            self.lin_dict[node_type] = LazyLinear(-1, hidden_channels)
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            conv = HGTConv(hidden_channels, hidden_channels, metadata, num_heads)
            self.convs.append(conv)
        self.lin = Linear(hidden_channels, out_channels)

    def forward(self, x_dict: Dict[str, Tensor], edge_index_dict: Dict[Any, Tensor]) -> Tensor:
        x_dict = {node_type: self.lin_dict[node_type](x).relu_() for node_type, x in x_dict.items()}
        for conv in self.convs:
            x_dict = conv(x_dict, edge_index_dict)
        return self.lin(x_dict[self.out_type])

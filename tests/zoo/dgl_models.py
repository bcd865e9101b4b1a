"""DGL models written as DGL's official examples write them (examples/pytorch/ of dmlc/dgl), shrunk to test size.

Each class keeps its example's structure, parameter names and call, ``model(g, features)``,
``model(features)`` with ``self.g``, ``model(blocks, x)``, ``model()``; only sizes, dataset code and
training loops are left out. The references they are checked against live in ``dgl_cases.py``.
"""

import dgl
import dgl.function as fn
import dgl.nn as dglnn
import torch
import torch.nn as nn
import torch.nn.functional as F
from dgl.nn.pytorch import EdgeConv, KNNGraph, RelGraphConv
from dgl.nn.pytorch.conv import APPNPConv, ChebConv, GINConv, TAGConv
from dgl.nn.pytorch.glob import SumPooling


class GCN(nn.Module):
    """examples/pytorch/gcn/train.py: two GraphConv layers, ``model(g, features)``."""

    def __init__(self, in_size, hid_size, out_size):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(dglnn.GraphConv(in_size, hid_size, activation=F.relu))
        self.layers.append(dglnn.GraphConv(hid_size, out_size))
        self.dropout = nn.Dropout(0.5)

    def forward(self, g, features):
        h = features
        for i, layer in enumerate(self.layers):
            if i != 0:
                h = self.dropout(h)
            h = layer(g, h)
        return h


class GAT(nn.Module):
    """examples/pytorch/gat/train.py: two GATConv layers, heads flattened then averaged, ``model(g, inputs)``."""

    def __init__(self, in_size, hid_size, out_size, heads):
        super().__init__()
        self.gat_layers = nn.ModuleList()
        self.gat_layers.append(dglnn.GATConv(in_size, hid_size, heads[0], feat_drop=0.6, attn_drop=0.6, activation=F.elu))
        self.gat_layers.append(dglnn.GATConv(hid_size * heads[0], out_size, heads[1], feat_drop=0.6, attn_drop=0.6, activation=None))

    def forward(self, g, inputs):
        h = inputs
        for i, layer in enumerate(self.gat_layers):
            h = layer(g, h)
            if i == 1:  # last layer
                h = h.mean(1)
            else:  # other layer(s)
                h = h.flatten(1)
        return h


class GATv2(nn.Module):
    """examples/pytorch/gatv2/gatv2.py: GATv2Conv layers with shared weights, residuals and no bias."""

    def __init__(self, num_layers, in_dim, num_hidden, num_classes, heads, activation, feat_drop, attn_drop, negative_slope, residual):
        super().__init__()
        self.num_layers = num_layers
        self.gatv2_layers = nn.ModuleList()
        self.activation = activation
        self.gatv2_layers.append(
            dglnn.GATv2Conv(in_dim, num_hidden, heads[0], feat_drop, attn_drop, negative_slope, False, self.activation, bias=False, share_weights=True)
        )
        for layer in range(1, num_layers):
            self.gatv2_layers.append(
                dglnn.GATv2Conv(
                    num_hidden * heads[layer - 1], num_hidden, heads[layer], feat_drop, attn_drop, negative_slope, residual,
                    self.activation, bias=False, share_weights=True,
                )
            )
        self.gatv2_layers.append(
            dglnn.GATv2Conv(
                num_hidden * heads[-2], num_classes, heads[-1], feat_drop, attn_drop, negative_slope, residual, None,
                bias=False, share_weights=True,
            )
        )

    def forward(self, g, inputs):
        h = inputs
        for layer in range(self.num_layers):
            h = self.gatv2_layers[layer](g, h).flatten(1)
        return self.gatv2_layers[-1](g, h).mean(1)


class MLP(nn.Module):
    """examples/pytorch/gin/train.py: GIN's two-layer MLP aggregator with batch norm."""

    def __init__(self, input_dim, hidden_dim, output_dim):
        super().__init__()
        self.linears = nn.ModuleList()
        self.linears.append(nn.Linear(input_dim, hidden_dim, bias=False))
        self.linears.append(nn.Linear(hidden_dim, output_dim, bias=False))
        self.batch_norm = nn.BatchNorm1d(hidden_dim)

    def forward(self, x):
        h = x
        h = F.relu(self.batch_norm(self.linears[0](h)))
        return self.linears[1](h)


class GIN(nn.Module):
    """examples/pytorch/gin/train.py: GINConv layers, sum pooling of every layer's output, graph classification of a dgl.batch."""

    def __init__(self, input_dim, hidden_dim, output_dim, num_layers=3):
        super().__init__()
        self.ginlayers = nn.ModuleList()
        self.batch_norms = nn.ModuleList()
        for layer in range(num_layers - 1):  # excluding the input layer
            mlp = MLP(input_dim, hidden_dim, hidden_dim) if layer == 0 else MLP(hidden_dim, hidden_dim, hidden_dim)
            self.ginlayers.append(GINConv(mlp, learn_eps=False))
            self.batch_norms.append(nn.BatchNorm1d(hidden_dim))
        self.linear_prediction = nn.ModuleList()
        for layer in range(num_layers):
            self.linear_prediction.append(nn.Linear(input_dim if layer == 0 else hidden_dim, output_dim))
        self.drop = nn.Dropout(0.5)
        self.pool = SumPooling()

    def forward(self, g, h):
        hidden_rep = [h]
        for i, layer in enumerate(self.ginlayers):
            h = layer(g, h)
            h = self.batch_norms[i](h)
            h = F.relu(h)
            hidden_rep.append(h)
        score_over_layer = 0
        for i, h in enumerate(hidden_rep):
            pooled_h = self.pool(g, h)
            score_over_layer += self.drop(self.linear_prediction[i](pooled_h))
        return score_over_layer


class SAGE(nn.Module):
    """examples/pytorch/graphsage/train_full.py: two SAGEConv('gcn') layers on the full graph, ``model(graph, x)``."""

    def __init__(self, in_size, hid_size, out_size):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(dglnn.SAGEConv(in_size, hid_size, "gcn"))
        self.layers.append(dglnn.SAGEConv(hid_size, out_size, "gcn"))
        self.dropout = nn.Dropout(0.5)

    def forward(self, graph, x):
        h = self.dropout(x)
        for layer_index, layer in enumerate(self.layers):
            h = layer(graph, h)
            if layer_index != len(self.layers) - 1:
                h = F.relu(h)
                h = self.dropout(h)
        return h


class SampledSAGE(nn.Module):
    """examples/pytorch/graphsage/node_classification.py: SAGEConv('mean') layers on sampled blocks, ``model(blocks, x)``."""

    def __init__(self, in_size, hid_size, out_size):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(dglnn.SAGEConv(in_size, hid_size, "mean"))
        self.layers.append(dglnn.SAGEConv(hid_size, hid_size, "mean"))
        self.layers.append(dglnn.SAGEConv(hid_size, out_size, "mean"))
        self.dropout = nn.Dropout(0.5)
        self.hid_size = hid_size
        self.out_size = out_size

    def forward(self, blocks, x):
        h = x
        for layer_index, (layer, block) in enumerate(zip(self.layers, blocks)):
            h = layer(block, h)
            if layer_index != len(self.layers) - 1:
                h = F.relu(h)
                h = self.dropout(h)
        return h


class APPNP(nn.Module):
    """examples/pytorch/appnp/appnp.py: an MLP, then APPNPConv propagation over ``self.g``; ``model(features)``."""

    def __init__(self, g, in_feats, hiddens, n_classes, activation, feat_drop, edge_drop, alpha, k):
        super().__init__()
        self.g = g
        self.layers = nn.ModuleList()
        self.layers.append(nn.Linear(in_feats, hiddens[0]))
        for i in range(1, len(hiddens)):
            self.layers.append(nn.Linear(hiddens[i - 1], hiddens[i]))
        self.layers.append(nn.Linear(hiddens[-1], n_classes))
        self.activation = activation
        self.feat_drop = nn.Dropout(feat_drop)
        self.propagate = APPNPConv(k, alpha, edge_drop)

    def forward(self, features):
        h = features
        h = self.feat_drop(h)
        h = self.activation(self.layers[0](h))
        for layer in self.layers[1:-1]:
            h = self.activation(layer(h))
        h = self.layers[-1](self.feat_drop(h))
        return self.propagate(self.g, h)


class TAGCN(nn.Module):
    """examples/pytorch/tagcn/tagcn.py: TAGConv layers over ``self.g``; ``model(features)``."""

    def __init__(self, g, in_feats, n_hidden, n_classes, n_layers, activation, dropout):
        super().__init__()
        self.g = g
        self.layers = nn.ModuleList()
        self.layers.append(TAGConv(in_feats, n_hidden, activation=activation))
        for _ in range(n_layers - 1):
            self.layers.append(TAGConv(n_hidden, n_hidden, activation=activation))
        self.layers.append(TAGConv(n_hidden, n_classes))
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, features):
        h = features
        for i, layer in enumerate(self.layers):
            if i != 0:
                h = self.dropout(h)
            h = layer(self.g, h)
        return h


def SGC(in_feats, n_classes, bias=True):
    """examples/pytorch/sgc/sgc.py: the model is DGL's SGConv itself, ``k=2, cached=True``; ``model(g, features)``."""
    return dglnn.SGConv(in_feats, n_classes, k=2, cached=True, bias=bias)


class ChebNet(nn.Module):
    """examples/pytorch/model_zoo/citation_network/models.py: ChebConv layers over ``self.g`` with ``lambda_max=[2]``."""

    def __init__(self, g, in_feats, n_classes, n_hidden, n_layers, k, bias):
        super().__init__()
        self.g = g
        self.layers = nn.ModuleList()
        self.layers.append(ChebConv(in_feats, n_hidden, k, bias=bias))
        for _ in range(n_layers - 1):
            self.layers.append(ChebConv(n_hidden, n_hidden, k, bias=bias))
        self.layers.append(ChebConv(n_hidden, n_classes, k, bias=bias))

    def forward(self, features):
        h = features
        for layer in self.layers:
            h = layer(self.g, h, [2])
        return h


class PointEdgeConv(nn.Module):
    """examples/pytorch/pointcloud/edgeconv/model.py's EdgeConv stack, per point, on a k-NN graph built outside the model.

    The example builds ``KNNGraph(k)`` inside forward (see :class:`DGCNN`); here the caller builds it
    once and passes it, ``model(g, x)``, and each point gets a label (as in part segmentation).
    """

    def __init__(self, feature_dims, output_classes, input_dims=3):
        super().__init__()
        self.conv = nn.ModuleList()
        self.num_layers = len(feature_dims)
        for i in range(self.num_layers):
            self.conv.append(EdgeConv(feature_dims[i - 1] if i > 0 else input_dims, feature_dims[i], batch_norm=True))
        self.proj_output = nn.Linear(sum(feature_dims), output_classes)

    def forward(self, g, x):
        hs = []
        h = x
        for i in range(self.num_layers):
            h = self.conv[i](g, h)
            h = F.leaky_relu(h, 0.2)
            hs.append(h)
        return self.proj_output(torch.cat(hs, 1))


class DGCNN(nn.Module):
    """examples/pytorch/pointcloud/edgeconv/model.py as it is: a KNNGraph of each layer's features built inside forward; ``model(x)``."""

    def __init__(self, k, feature_dims, emb_dims, output_classes, input_dims=3):
        super().__init__()
        self.nng = KNNGraph(k)
        self.conv = nn.ModuleList()
        self.num_layers = len(feature_dims)
        for i in range(self.num_layers):
            self.conv.append(EdgeConv(feature_dims[i - 1] if i > 0 else input_dims, feature_dims[i], batch_norm=True))
        self.proj = nn.Linear(sum(feature_dims), emb_dims[0])
        self.proj_output = nn.Linear(emb_dims[0] * 2, output_classes)

    def forward(self, x):
        hs = []
        batch_size, n_points, x_dims = x.shape
        h = x
        for i in range(self.num_layers):
            g = self.nng(h).to(h.device)
            h = h.view(batch_size * n_points, -1)
            h = self.conv[i](g, h)
            h = F.leaky_relu(h, 0.2)
            h = h.view(batch_size, n_points, -1)
            hs.append(h)
        h = self.proj(torch.cat(hs, 2))
        h_max, _ = torch.max(h, 1)
        h_avg = torch.mean(h, 1)
        return self.proj_output(torch.cat([h_max, h_avg], 1))


class RGCN(nn.Module):
    """examples/pytorch/rgcn/model.py: featureless entity classification with RelGraphConv; ``model(g, nids)``.

    The nodes have no features: their ids select rows of an embedding; the edge types and the
    per-edge normalisation come from ``g.edata`` of a ``dgl.to_homogeneous`` graph.
    """

    def __init__(self, num_nodes, h_dim, out_dim, num_rels, regularizer="basis", num_bases=-1, dropout=0.0, self_loop=False):
        super().__init__()
        if num_bases == -1:
            num_bases = num_rels
        self.emb = nn.Embedding(num_nodes, h_dim)
        self.conv1 = RelGraphConv(h_dim, h_dim, num_rels, regularizer, num_bases, self_loop=self_loop)
        self.conv2 = RelGraphConv(h_dim, out_dim, num_rels, regularizer, num_bases, self_loop=self_loop)
        self.dropout = nn.Dropout(dropout)

    def forward(self, g, nids=None):
        x = self.emb.weight if nids is None else self.emb(nids)
        h = self.conv1(g, x, g.edata[dgl.ETYPE], g.edata["norm"])
        h = self.dropout(F.relu(h))
        return self.conv2(g, h, g.edata[dgl.ETYPE], g.edata["norm"])


class RelGraphConvLayerHeteroAPI(nn.Module):
    """examples/pytorch/rgcn-hetero/model.py: one update_all over every edge type of the heterograph at once."""

    def __init__(self, in_feat, out_feat, rel_names, num_bases, *, weight=True, bias=True, activation=None, self_loop=False, dropout=0.0):
        super().__init__()
        self.in_feat = in_feat
        self.out_feat = out_feat
        self.rel_names = rel_names
        self.num_bases = num_bases
        self.bias = bias
        self.activation = activation
        self.self_loop = self_loop
        self.use_weight = weight
        self.use_basis = num_bases < len(self.rel_names) and weight
        if self.use_weight:
            if self.use_basis:
                self.basis = dglnn.WeightBasis((in_feat, out_feat), num_bases, len(self.rel_names))
            else:
                self.weight = nn.Parameter(torch.Tensor(len(self.rel_names), in_feat, out_feat))
                nn.init.xavier_uniform_(self.weight, gain=nn.init.calculate_gain("relu"))
        if bias:
            self.h_bias = nn.Parameter(torch.Tensor(out_feat))
            nn.init.uniform_(self.h_bias, -0.1, 0.1)  # the example starts at zeros
        if self.self_loop:
            self.loop_weight = nn.Parameter(torch.Tensor(in_feat, out_feat))
            nn.init.xavier_uniform_(self.loop_weight, gain=nn.init.calculate_gain("relu"))
        self.dropout = nn.Dropout(dropout)

    def forward(self, g, inputs):
        g = g.local_var()
        if self.use_weight:
            weight = self.basis() if self.use_basis else self.weight
            wdict = {self.rel_names[i]: {"weight": w.squeeze(0)} for i, w in enumerate(torch.split(weight, 1, dim=0))}
        else:
            wdict = {}
        inputs_dst = inputs
        for srctype, _, _ in g.canonical_etypes:
            g.nodes[srctype].data["h"] = inputs[srctype]
        if self.use_weight:
            g.apply_edges(fn.copy_u("h", "m"))
            m = g.edata["m"]
            for rel in g.canonical_etypes:
                _, etype, _ = rel
                g.edges[rel].data["h*w_r"] = torch.matmul(m[rel], wdict[etype]["weight"])
        else:
            g.apply_edges(fn.copy_u("h", "h*w_r"))
        g.update_all(fn.copy_e("h*w_r", "m"), fn.sum("m", "h"))

        def _apply(ntype):
            h = g.nodes[ntype].data["h"]
            if self.self_loop:
                h = h + torch.matmul(inputs_dst[ntype], self.loop_weight)
            if self.bias:
                h = h + self.h_bias
            if self.activation:
                h = self.activation(h)
            return self.dropout(h)

        return {ntype: _apply(ntype) for ntype in g.dsttypes}


class RelGraphEmbed(nn.Module):
    """examples/pytorch/rgcn-hetero/model.py: one learnt embedding per node of every node type (featureless)."""

    def __init__(self, g, embed_size):
        super().__init__()
        self.g = g
        self.embed_size = embed_size
        self.embeds = nn.ParameterDict()
        for ntype in g.ntypes:
            embed = nn.Parameter(torch.Tensor(g.num_nodes(ntype), self.embed_size))
            nn.init.xavier_uniform_(embed, gain=nn.init.calculate_gain("relu"))
            self.embeds[ntype] = embed

    def forward(self, block=None):
        return self.embeds


class EntityClassify_HeteroAPI(nn.Module):
    """examples/pytorch/rgcn-hetero/model.py: the hetero API of RGCN over ``self.g``; ``model()`` returns outputs per node type."""

    def __init__(self, g, h_dim, out_dim, num_bases, num_hidden_layers=1, dropout=0, use_self_loop=False):
        super().__init__()
        self.g = g
        self.h_dim = h_dim
        self.out_dim = out_dim
        self.rel_names = sorted(set(g.etypes))
        self.num_bases = len(self.rel_names) if num_bases < 0 or num_bases > len(self.rel_names) else num_bases
        self.num_hidden_layers = num_hidden_layers
        self.embed_layer = RelGraphEmbed(g, self.h_dim)
        self.layers = nn.ModuleList()
        self.layers.append(
            RelGraphConvLayerHeteroAPI(self.h_dim, self.h_dim, self.rel_names, self.num_bases, activation=F.relu, self_loop=use_self_loop, dropout=dropout, weight=False)
        )
        for _ in range(self.num_hidden_layers):
            self.layers.append(
                RelGraphConvLayerHeteroAPI(self.h_dim, self.h_dim, self.rel_names, self.num_bases, activation=F.relu, self_loop=use_self_loop, dropout=dropout)
            )
        self.layers.append(RelGraphConvLayerHeteroAPI(self.h_dim, self.out_dim, self.rel_names, self.num_bases, activation=None, self_loop=use_self_loop))

    def forward(self, h=None, blocks=None):
        if h is None:
            h = self.embed_layer()
        if blocks is None:
            for layer in self.layers:
                h = layer(self.g, h)
        else:
            for layer, block in zip(self.layers, blocks):
                h = layer(block, h)
        return h

"""DGL models of every supported layer and graphs for them (imported in the dgl lane only)."""

import dgl
import dgl.function as fn
import torch
from dgl.nn import (
    APPNPConv,
    EdgeConv,
    GATConv,
    GATv2Conv,
    GINConv,
    GraphConv,
    SAGEConv,
    SGConv,
    TAGConv,
)

from tests.support.zoo import CLASSES, FEATURES, HIDDEN, random_graph


class UpdateAllBuiltin(torch.nn.Module):
    """A hand-written layer: builtin message and reduce functions."""

    def __init__(self, i, o):
        super().__init__()
        self.lin = torch.nn.Linear(i, o)

    def forward(self, g, h):
        with g.local_scope():
            g.ndata["h"] = self.lin(h)
            g.update_all(fn.copy_u("h", "m"), fn.sum("m", "out"))
            return g.ndata["out"] + h.sum(-1, keepdim=True)


class UpdateAllUDF(torch.nn.Module):
    """A hand-written layer: user-defined message and reduce functions."""

    def __init__(self, i, o):
        super().__init__()
        self.lin = torch.nn.Linear(2 * i, o)

    def forward(self, g, h):
        with g.local_scope():
            g.ndata["h"] = h
            g.update_all(
                lambda edges: {"m": self.lin(torch.cat([edges.src["h"], edges.dst["h"]], -1)).tanh()},
                lambda nodes: {"out": nodes.mailbox["m"].sum(1)},
            )
            return g.ndata["out"]


class SendAndRecv(torch.nn.Module):
    """A hand-written layer sending along explicit edge ids (a compute graph with dgl.EID)."""

    def __init__(self, i, o):
        super().__init__()
        self.lin = torch.nn.Linear(i, o)

    def forward(self, g, h):
        with g.local_scope():
            g.ndata["h"] = self.lin(h)
            g.send_and_recv(torch.arange(g.num_edges()), fn.copy_u("h", "m"), fn.sum("m", "out"))
            return g.ndata["out"]


class Pull(torch.nn.Module):
    """A hand-written layer pulling into every node with a user-defined message function."""

    def __init__(self, i, o):
        super().__init__()
        self.lin = torch.nn.Linear(i, o)

    def forward(self, g, h):
        with g.local_scope():
            g.ndata["h"] = self.lin(h)
            g.pull(g.nodes(), lambda edges: {"m": edges.src["h"] * edges.dst["h"]}, fn.sum("m", "out"))
            return g.ndata["out"]


LAYERS = {
    "GraphConv": lambda i, o: GraphConv(i, o, allow_zero_in_degree=True),
    "SAGEConv-mean": lambda i, o: SAGEConv(i, o, "mean"),
    "SAGEConv-gcn": lambda i, o: SAGEConv(i, o, "gcn"),
    "SAGEConv-pool": lambda i, o: SAGEConv(i, o, "pool"),
    "GINConv": lambda i, o: GINConv(torch.nn.Linear(i, o), "sum", learn_eps=True),
    "GATConv": lambda i, o: GATConv(i, o, num_heads=2, allow_zero_in_degree=True),
    "GATv2Conv": lambda i, o: GATv2Conv(i, o, num_heads=2, allow_zero_in_degree=True),
    "SGConv": lambda i, o: SGConv(i, o, k=2, allow_zero_in_degree=True),
    "APPNPConv": None,
    "TAGConv": lambda i, o: TAGConv(i, o, k=2),
    "EdgeConv": lambda i, o: EdgeConv(i, o, allow_zero_in_degree=True),
    "update_all-builtin": UpdateAllBuiltin,
    "update_all-udf": UpdateAllUDF,
    "send_and_recv": SendAndRecv,
    "pull-udf": Pull,
}

#: Layers whose forward takes DGL's own edge_weight with the meaning of a message weight.
NATIVE_EDGE_WEIGHT = ["GraphConv", "SAGEConv-mean", "GINConv", "GATConv"]

#: Message-passing calls per layer module.
CALLS = {"SGConv": 2, "TAGConv": 2, "APPNPConv": 3}


class TwoLayerDGL(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        self.name = name
        if name == "APPNPConv":
            self.lin = torch.nn.Linear(FEATURES, CLASSES)
            self.prop = APPNPConv(k=3, alpha=0.2)
        else:
            self.conv1 = LAYERS[name](FEATURES, HIDDEN)
            self.conv2 = LAYERS[name](HIDDEN, CLASSES)

    def forward(self, g, feat, edge_weight=None):
        if self.name == "APPNPConv":
            return self.prop(g, self.lin(feat))
        extra = {} if edge_weight is None else {"edge_weight": edge_weight}
        h = self.conv1(g, feat, **extra)
        h = h.mean(1) if h.dim() == 3 else h
        h = self.conv2(g, h.relu(), **extra)
        return h.mean(1) if h.dim() == 3 else h


#: DGL's APPNPConv builds float32 edge weights itself, so it runs in float32 only.
FLOAT32_ONLY = {"APPNPConv"}


def dgl_graph(seed=0, dtype=torch.float64, **kwargs):
    x, edge_index, _ = random_graph(seed=seed, **kwargs)
    g = dgl.graph((edge_index[0], edge_index[1]), num_nodes=x.size(0))
    return g, x.to(dtype), edge_index


def dgl_case(name, seed=0):
    """(graph, features, model) in the precision the layer supports."""
    dtype = torch.float32 if name in FLOAT32_ONLY else torch.float64
    g, x, _ = dgl_graph(seed, dtype)
    torch.manual_seed(seed)
    return g, x, TwoLayerDGL(name).to(dtype).eval()


def tolerance(x):
    """assert_close tolerances for a precision."""
    return dict(rtol=0, atol=1e-12) if x.dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)


def dgl_model(name, seed=0):
    return dgl_case(name, seed)[2]


class BlockSAGE(torch.nn.Module):
    """Two SAGEConv layers written for sampled blocks, the DGL minibatch idiom."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = dgl.nn.SAGEConv(FEATURES, 6, "mean"), dgl.nn.SAGEConv(6, CLASSES, "mean")

    def forward(self, blocks, feat, edge_weights=None):
        w1, w2 = edge_weights if edge_weights is not None else (None, None)
        h = self.conv1(blocks[0], feat, edge_weight=w1).relu()
        return self.conv2(blocks[1], h, edge_weight=w2)


def sampled(g, seeds, fanout=None):
    sampler = dgl.dataloading.MultiLayerFullNeighborSampler(2) if fanout is None else dgl.dataloading.NeighborSampler([fanout, fanout])
    input_nodes, _, blocks = sampler.sample_blocks(g, seeds)
    return input_nodes, blocks


RELATIONS = [("user", "follows", "user"), ("user", "buys", "item"), ("item", "bought_by", "user")]


def hetero_case():
    gen = torch.Generator().manual_seed(4)
    follows = torch.randint(0, 8, (2, 20), generator=gen)
    buys = torch.stack([torch.randint(0, 8, (12,), generator=gen), torch.randint(0, 5, (12,), generator=gen)])
    g = dgl.heterograph({RELATIONS[0]: tuple(follows), RELATIONS[1]: tuple(buys), RELATIONS[2]: (buys[1], buys[0])})
    feats = {"user": torch.randn(8, FEATURES, generator=gen, dtype=torch.float64), "item": torch.randn(5, FEATURES, generator=gen, dtype=torch.float64)}
    torch.manual_seed(0)
    return g, feats, HeteroModel().double().eval()


class HeteroModel(torch.nn.Module):
    """Two HeteroGraphConv layers, one module per relation."""

    def __init__(self):
        super().__init__()

        def layer(i, o):
            return dgl.nn.HeteroGraphConv(
                {"follows": GraphConv(i, o, allow_zero_in_degree=True), "buys": dgl.nn.SAGEConv(i, o, "mean"), "bought_by": GraphConv(i, o, allow_zero_in_degree=True)},
                aggregate="sum",
            )

        self.conv1, self.conv2 = layer(FEATURES, 6), layer(6, CLASSES)

    def forward(self, g, feats, weights=None):
        kwargs = {} if weights is None else {"mod_kwargs": {r[1]: {"edge_weight": w} for r, w in weights.items()}}
        h = {k: v.relu() for k, v in self.conv1(g, feats, **kwargs).items()}
        return self.conv2(g, h, **kwargs)

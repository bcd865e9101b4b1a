"""The DGL zoo: every model of ``dgl_models.py`` as its example calls it, with references computed without edgeattr.

``reference_gradient`` is autograd through a layer's own message weight (``edge_weight`` of GraphConv,
GATConv, GINConv and SAGEConv, ``norm`` of RelGraphConv) or, where DGL's layers normalise their
``edge_weight`` or have none, through a closed form of the layer written here with torch alone,
in which edge ``e``'s message is multiplied by ``w[e]`` and the degrees stay those of the graph.
``without`` deletes edges with ``dgl.remove_edges`` (edge data cut alongside) or rebuilds the
sampled blocks without them, and reruns the model.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import dgl
import torch
import torch.nn.functional as F
from dgl.nn.pytorch import KNNGraph
from torch import Tensor

from tests.support.dgl_zoo import dgl_graph
from tests.zoo import Example, ZooCase
from tests.zoo import dgl_models as models

FEATURES, CLASSES = 5, 3
NODE = 10
EXAMPLES = "https://github.com/dmlc/dgl/tree/master/examples/pytorch/"


def seeded(model: torch.nn.Module, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.nn.Module:
    """The model in ``dtype`` and eval mode, with every batch norm's running statistics drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.to(dtype).eval()


def _gradient(score: Callable[[Tensor], Tensor], num_edges: int, dtype: torch.dtype = torch.float64) -> Tensor:
    r""":math:`\partial\, \mathrm{score}(w) / \partial w` at :math:`w = 1`, ``(E,)``."""
    weight = torch.ones(num_edges, dtype=dtype, requires_grad=True)
    (gradient,) = torch.autograd.grad(score(weight), weight)
    return gradient


def _predicted(out: Tensor, row: int) -> int:
    """The class the model predicts for ``row``."""
    return int(out[row].argmax())


def _removed(g: dgl.DGLGraph, keep: Tensor) -> dgl.DGLGraph:
    """``g`` without the edges ``keep`` drops, with their data (``dgl.remove_edges`` keeps a batch's graphs)."""
    return dgl.remove_edges(g, (~keep).nonzero().view(-1))


def ringed_graph(seed: int = 0, dtype: torch.dtype = torch.float64, num_nodes: int = 14, num_edges: int = 40) -> Tuple[dgl.DGLGraph, Tensor]:
    """A random graph with a ring through all nodes, so that deleting any one edge leaves every node an in-edge, and its features."""
    g, x, _ = dgl_graph(seed, dtype, num_nodes=num_nodes, num_edges=num_edges)
    ring = torch.arange(num_nodes)
    return dgl.add_edges(g, ring, (ring + 1) % num_nodes), x


def self_looped(seed: int = 0, dtype: torch.dtype = torch.float64) -> Tuple[dgl.DGLGraph, Tensor]:
    """:func:`ringed_graph` with self-loops, as the examples' ``AddSelfLoop`` adds them."""
    g, x = ringed_graph(seed, dtype)
    return dgl.add_self_loop(dgl.remove_self_loop(g)), x


# -- closed forms of layers whose own edge_weight is normalised, or which have none: w[e] scales message e --


def aggregate(g: dgl.DGLGraph, h: Tensor, w: Tensor) -> Tensor:
    r""":math:`\sum_{e = (u, v)} w_e\, h_u` at every node :math:`v`: a sum of weighted messages, in torch alone."""
    src, dst = g.edges(order="eid")
    weight = w.view((-1,) + (1,) * (h.dim() - 1)).to(h.dtype)
    return h.new_zeros((g.num_nodes(),) + h.shape[1:]).index_add(0, dst, h[src] * weight)


def _inverse_sqrt(degrees: Tensor, like: Tensor) -> Tensor:
    return degrees.to(like).clamp(min=1).pow(-0.5).unsqueeze(-1)


def appnpconv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    """APPNPConv: K steps of symmetric-normalised propagation (degrees unweighted), teleport ``alpha``."""
    src_norm, dst_norm = _inverse_sqrt(g.out_degrees(), feat), _inverse_sqrt(g.in_degrees(), feat)
    feat_0 = feat
    for _ in range(conv._k):
        feat = aggregate(g, feat * src_norm, w) * dst_norm
        feat = (1 - conv._alpha) * feat + conv._alpha * feat_0
    return feat


def tagconv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    """TAGConv: ``lin`` of the features propagated 0..K times by ``D^-1/2 A_w D^-1/2``."""
    norm = _inverse_sqrt(g.in_degrees(), feat)
    stack = [feat]
    for _ in range(conv._k):
        stack.append(aggregate(g, stack[-1] * norm, w) * norm)
    out = conv.lin(torch.cat(stack, -1))
    return conv._activation(out) if conv._activation is not None else out


def sgconv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    """SGConv: ``fc`` of the features propagated K times by ``D^-1/2 A_w D^-1/2`` (never its cache)."""
    norm = _inverse_sqrt(g.in_degrees(), feat)
    for _ in range(conv._k):
        feat = aggregate(g, feat * norm, w) * norm
    if conv.norm is not None:
        feat = conv.norm(feat)
    return conv.fc(feat)


def chebconv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    r"""ChebConv with ``lambda_max = 2``: :math:`X_1 = -\hat A X_0`, :math:`X_i = -2 \hat A X_{i-1} - X_{i-2}`."""
    norm = _inverse_sqrt(g.in_degrees(), feat)

    def propagated(h: Tensor) -> Tensor:
        return aggregate(g, h * norm, w) * norm

    stack, previous, current = [feat], feat, feat
    for order in range(1, conv._k):
        previous, current = current, (-propagated(current) if order == 1 else -2 * propagated(current) - previous)
        stack.append(current)
    out = conv.linear(torch.cat(stack, 1))
    return conv.activation(out) if conv.activation else out


def _softmax_by_destination(values: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """The softmax of ``values`` ``(E, H)`` over each destination's in-edges."""
    index = dst.view(-1, 1).expand_as(values)
    top = values.new_full((num_nodes,) + values.shape[1:], float("-inf")).scatter_reduce(0, index, values, "amax")
    exp = (values - top[dst]).exp()
    return exp / exp.new_zeros(top.shape).index_add(0, dst, exp)[dst]


def gatv2conv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    """GATv2Conv: attention ``a^T LeakyReLU(W h_u + W h_v)``, softmax per destination, messages ``w_e a_e W h_u``."""
    heads, width = conv._num_heads, conv._out_feats
    src, dst = g.edges(order="eid")
    feat_src = conv.fc_src(feat).view(-1, heads, width)
    feat_dst = feat_src if conv.share_weights else conv.fc_dst(feat).view(-1, heads, width)
    scores = (conv.leaky_relu(feat_src[src] + feat_dst[dst]) * conv.attn).sum(-1)
    attention = _softmax_by_destination(scores, dst, g.num_nodes()) * w.view(-1, 1).to(feat)
    out = feat_src.new_zeros((g.num_nodes(), heads, width)).index_add(0, dst, feat_src[src] * attention.unsqueeze(-1))
    if getattr(conv, "res_fc", None) is not None:
        out = out + conv.res_fc(feat).view(feat.shape[0], -1, width)
    return conv.activation(out) if conv.activation else out


def edgeconv_reference(conv: torch.nn.Module, g: dgl.DGLGraph, feat: Tensor, w: Tensor) -> Tensor:
    r"""EdgeConv: :math:`\max_{e = (u, v)} w_e\, \mathrm{BN}(\Theta(x_v - x_u) + \Phi x_v)`, 0 without in-edges."""
    src, dst = g.edges(order="eid")
    messages = conv.theta(feat[dst] - feat[src]) + conv.phi(feat)[dst]
    if conv.batch_norm:
        messages = conv.bn(messages)
    messages = messages * w.view(-1, 1).to(feat)
    index = dst.view(-1, 1).expand_as(messages)
    return messages.new_zeros((g.num_nodes(), messages.size(1))).scatter_reduce(0, index, messages, "amax", include_self=False)


# -- the cases --------------------------------------------------------------------------------------


def gcn() -> Example:
    """GCN on a self-looped graph; reference: GraphConv's own edge_weight."""
    g, x = self_looped()
    torch.manual_seed(0)
    model = seeded(models.GCN(FEATURES, 8, CLASSES))
    target = _predicted(model(g, x), NODE)

    def score(w: Tensor) -> Tensor:
        h = x
        for layer in model.layers:
            h = layer(g, h, edge_weight=w)
        return h[NODE, target]

    return Example(
        model, (g, x), {}, NODE, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[NODE, target],
    )


def gat() -> Example:
    """GAT (two heads, then one); reference: GATConv's own edge_weight, which scales the attention."""
    g, x = self_looped()
    torch.manual_seed(0)
    model = seeded(models.GAT(FEATURES, 4, CLASSES, heads=[2, 1]))
    target = _predicted(model(g, x), NODE)

    def score(w: Tensor) -> Tensor:
        first, last = model.gat_layers
        return last(g, first(g, x, edge_weight=w).flatten(1), edge_weight=w).mean(1)[NODE, target]

    return Example(
        model, (g, x), {}, NODE, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[NODE, target],
    )


def gatv2() -> Example:
    """GATv2 with shared weights and a residual; reference: the closed form of GATv2Conv."""
    g, x = self_looped()
    torch.manual_seed(0)
    model = seeded(models.GATv2(1, FEATURES, 4, CLASSES, [2, 2], F.elu, 0.0, 0.0, 0.2, True))
    target = _predicted(model(g, x), NODE)

    def score(w: Tensor) -> Tensor:
        first, last = model.gatv2_layers
        return gatv2conv_reference(last, g, gatv2conv_reference(first, g, x, w).flatten(1), w).mean(1)[NODE, target]

    return Example(
        model, (g, x), {}, NODE, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[NODE, target],
    )


def gin() -> Example:
    """GIN classifying graph 1 of a dgl.batch of three; reference: GINConv's own edge_weight."""
    graphs = [ringed_graph(seed, num_nodes=n, num_edges=2 * n) for seed, n in ((1, 6), (2, 8), (3, 7))]
    g = dgl.batch([graph for graph, _ in graphs])
    x = torch.cat([features for _, features in graphs])
    torch.manual_seed(0)
    model = seeded(models.GIN(FEATURES, 6, CLASSES))
    index = 1
    target = _predicted(model(g, x), index)

    def score(w: Tensor) -> Tensor:
        hidden, h = [x], x
        for layer, norm in zip(model.ginlayers, model.batch_norms):
            h = F.relu(norm(layer(g, h, edge_weight=w)))
            hidden.append(h)
        return sum(linear(model.pool(g, h)) for linear, h in zip(model.linear_prediction, hidden))[index, target]

    return Example(
        model, (g, x), {}, index, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[index, target],
    )


def graphsage() -> Example:
    """GraphSAGE ('gcn' aggregator) on the full graph; reference: SAGEConv's own edge_weight."""
    g, x = ringed_graph()
    torch.manual_seed(0)
    model = seeded(models.SAGE(FEATURES, 6, CLASSES))
    target = _predicted(model(g, x), NODE)

    def score(w: Tensor) -> Tensor:
        first, last = model.layers
        return last(g, F.relu(first(g, x, edge_weight=w)), edge_weight=w)[NODE, target]

    return Example(
        model, (g, x), {}, NODE, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[NODE, target],
    )


def _blocks_without(blocks: List[dgl.DGLGraph], keep: Tensor) -> List[dgl.DGLGraph]:
    """The blocks without the edges whose parent edge ``keep`` drops, node and edge ids kept."""
    cut = []
    for block in blocks:
        kept = keep[block.edata[dgl.EID]]
        src, dst = block.edges(order="eid")
        new = dgl.create_block((src[kept], dst[kept]), num_src_nodes=block.num_src_nodes(), num_dst_nodes=block.num_dst_nodes())
        new.srcdata[dgl.NID] = block.srcdata[dgl.NID]
        new.dstdata[dgl.NID] = block.dstdata[dgl.NID]
        new.edata[dgl.EID] = block.edata[dgl.EID][kept]
        cut.append(new)
    return cut


def sampled_graphsage() -> Example:
    """GraphSAGE on blocks sampled for three seeds; reference: SAGEConv's edge_weight at each block's parent edges."""
    g, features = ringed_graph(num_nodes=30, num_edges=100)
    dgl.seed(0)
    torch.manual_seed(0)
    seeds = torch.tensor([NODE, 3, 17])
    input_nodes, _, blocks = dgl.dataloading.NeighborSampler([4, 4, 4]).sample_blocks(g, seeds)
    x = features[input_nodes]
    model = seeded(models.SampledSAGE(FEATURES, 6, CLASSES))
    row = int((blocks[-1].dstdata[dgl.NID] == NODE).nonzero())
    target = _predicted(model(blocks, x), row)

    def score(w: Tensor) -> Tensor:
        h = x
        for i, (layer, block) in enumerate(zip(model.layers, blocks)):
            h = layer(block, h, edge_weight=w[block.edata[dgl.EID]])
            h = F.relu(h) if i != len(blocks) - 1 else h
        return h[row, target]

    return Example(
        model, (blocks, x), {}, NODE, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_blocks_without(blocks, keep), x)[row, target],
        options={"parent_graph": g},
    )


def appnp() -> Example:
    """APPNP reading self.g (graph=); reference: the closed form of APPNPConv."""
    g, x = self_looped(dtype=torch.float32)  # APPNPConv builds float32 edge weights of its own
    torch.manual_seed(0)
    model = seeded(models.APPNP(g, FEATURES, [8], CLASSES, F.relu, 0.5, 0.5, 0.1, 3), torch.float32)
    target = _predicted(model(x), NODE)

    def score(w: Tensor) -> Tensor:
        h = F.relu(model.layers[0](x))
        return appnpconv_reference(model.propagate, g, model.layers[-1](h), w)[NODE, target]

    return Example(model, (x,), {}, NODE, lambda: _gradient(score, g.num_edges(), torch.float32), options={"graph": g})


def tagcn() -> Example:
    """TAGCN reading self.g (graph=); reference: the closed form of TAGConv."""
    g, x = ringed_graph()
    torch.manual_seed(0)
    model = seeded(models.TAGCN(g, FEATURES, 6, CLASSES, 1, F.relu, 0.5))
    target = _predicted(model(x), NODE)

    def score(w: Tensor) -> Tensor:
        h = x
        for layer in model.layers:
            h = tagconv_reference(layer, g, h, w)
        return h[NODE, target]

    return Example(model, (x,), {}, NODE, lambda: _gradient(score, g.num_edges()), options={"graph": g})


def sgc() -> Example:
    """SGC (the SGConv itself, its cache filled); references: the closed form of SGConv, on the graph and with edges deleted."""
    g, x = self_looped()
    torch.manual_seed(0)
    model = seeded(models.SGC(FEATURES, CLASSES))
    target = _predicted(model(g, x), NODE)  # as training does, this fills the layer's cache with the full graph's features

    def score_on(graph: dgl.DGLGraph, w: Tensor) -> Tensor:
        return sgconv_reference(model, graph, x, w)[NODE, target]

    return Example(
        model, (g, x), {}, NODE, lambda: _gradient(lambda w: score_on(g, w), g.num_edges()),
        without=lambda keep: score_on(_removed(g, keep), torch.ones(int(keep.sum()), dtype=torch.float64)),
    )


def chebnet() -> Example:
    """ChebNet reading self.g (graph=); reference: the closed form of ChebConv with lambda_max 2."""
    g, x = ringed_graph()
    torch.manual_seed(0)
    model = seeded(models.ChebNet(g, FEATURES, CLASSES, 6, 1, 3, True))
    index = 9  # ChebConv ends in a ReLU: a node with a logit above zero
    target = _predicted(model(x), index)

    def score(w: Tensor) -> Tensor:
        h = x
        for layer in model.layers:
            h = chebconv_reference(layer, g, h, w)
        return h[index, target]

    return Example(model, (x,), {}, index, lambda: _gradient(score, g.num_edges()), options={"graph": g})


def point_clouds(seed: int = 0, clouds: int = 2, points: int = 8) -> Tensor:
    return torch.randn(clouds, points, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def edgeconv() -> Example:
    """EdgeConv on k-NN graphs of two point clouds built outside the model; reference: the closed form of EdgeConv."""
    points = point_clouds()
    g = KNNGraph(4)(points)  # built outside the model, once
    x = points.view(-1, 3)
    torch.manual_seed(0)
    model = seeded(models.PointEdgeConv([6, 6], CLASSES))
    index = 5
    target = _predicted(model(g, x), index)

    def score(w: Tensor) -> Tensor:
        hs, h = [], x
        for layer in model.conv:
            h = F.leaky_relu(edgeconv_reference(layer, g, h, w), 0.2)
            hs.append(h)
        return model.proj_output(torch.cat(hs, 1))[index, target]

    return Example(
        model, (g, x), {}, index, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), x)[index, target],
        options={"task": "node"},  # a k-NN graph per cloud is a batch of graphs: the points are explained
    )


def dgcnn() -> Example:
    """DGCNN as its example writes it, building its k-NN graphs inside forward: refused."""
    torch.manual_seed(0)
    model = seeded(models.DGCNN(4, [6, 6], [8], CLASSES))
    return Example(model, (point_clouds(),), {}, 0, lambda: torch.zeros(0), options={"task": "graph"})


def entity_graph(seed: int = 1) -> dgl.DGLGraph:
    """A small heterograph of two node types and three relations, every node type a destination."""
    generator = torch.Generator().manual_seed(seed)

    def edges(count: int, sources: int, destinations: int) -> Tuple[Tensor, Tensor]:
        return torch.randint(0, sources, (count,), generator=generator), torch.randint(0, destinations, (count,), generator=generator)

    return dgl.heterograph(
        {("paper", "cites", "paper"): edges(18, 8, 8), ("author", "writes", "paper"): edges(14, 6, 8), ("paper", "written_by", "author"): edges(14, 8, 6)}
    )


def rgcn() -> Example:
    """Featureless RGCN on a dgl.to_homogeneous graph; reference: RelGraphConv's own norm scaled by w."""
    hetero = entity_graph()
    for etype in hetero.canonical_etypes:
        hetero.edges[etype].data["norm"] = dgl.norm_by_dst(hetero, etype).unsqueeze(1).double()
    g = dgl.to_homogeneous(hetero, edata=["norm"])
    nids = torch.arange(g.num_nodes())
    torch.manual_seed(0)
    model = seeded(models.RGCN(g.num_nodes(), 6, CLASSES, len(hetero.canonical_etypes)))
    index = int((g.ndata[dgl.NTYPE] == hetero.ntypes.index("paper")).nonzero()[2])
    target = _predicted(model(g, nids), index)

    def score(w: Tensor) -> Tensor:
        etypes, norm = g.edata[dgl.ETYPE], g.edata["norm"] * w.view(-1, 1)
        h = F.relu(model.conv1(g, model.emb(nids), etypes, norm))
        return model.conv2(g, h, etypes, norm)[index, target]

    return Example(
        model, (g, nids), {}, index, lambda: _gradient(score, g.num_edges()),
        without=lambda keep: model(_removed(g, keep), nids)[index, target],
    )


def hetero_rgcn_reference(model: torch.nn.Module, g: dgl.DGLGraph, w: Dict[tuple, Tensor]) -> Dict[str, Tensor]:
    """EntityClassify_HeteroAPI: per layer, every relation's weighted messages ``h_u W_r`` summed at each destination."""
    h = dict(model.embed_layer())
    for layer in model.layers:
        weight = (layer.basis() if layer.use_basis else layer.weight) if layer.use_weight else None
        summed = {ntype: h[ntype] for ntype in g.ntypes}  # a node type no relation points to keeps its input
        for ntype in {etype[2] for etype in g.canonical_etypes}:
            summed[ntype] = h[ntype].new_zeros((g.num_nodes(ntype), layer.out_feat))
        for etype in g.canonical_etypes:
            src, dst = g.edges(etype=etype, order="eid")
            messages = h[etype[0]][src]
            if weight is not None:
                messages = messages @ weight[layer.rel_names.index(etype[1])]
            summed[etype[2]] = summed[etype[2]].index_add(0, dst, messages * w[etype].view(-1, 1))
        h = {}
        for ntype, out in summed.items():
            out = out + layer.h_bias if layer.bias else out
            h[ntype] = layer.activation(out) if layer.activation else out
    return h


def hetero_rgcn() -> Example:
    """The hetero API of RGCN reading its heterograph (graph=, ntype=); reference: its closed form."""
    g = entity_graph()
    torch.manual_seed(0)
    model = seeded(models.EntityClassify_HeteroAPI(g, 6, CLASSES, num_bases=2, num_hidden_layers=1))
    index = 2
    target = _predicted(model()["paper"], index)
    counts = [g.num_edges(etype) for etype in g.canonical_etypes]

    def score(w: Tensor) -> Tensor:
        return hetero_rgcn_reference(model, g, dict(zip(g.canonical_etypes, w.split(counts))))["paper"][index, target]

    return Example(model, (), {}, index, lambda: _gradient(score, g.num_edges()), options={"graph": g, "ntype": "paper"})


def _case(name: str, layers: str, source: str, call: str, build: Callable[[], Example], refused: Optional[str] = None, notes: str = "") -> ZooCase:
    return ZooCase(f"dgl/{name}", "DGL", layers, EXAMPLES + source, call, build, refused, notes)


#: One case per model class of ``dgl_models.py``.
DGL_CASES: List[ZooCase] = [
    _case("GCN", "GraphConv", "gcn/train.py", "model(g, features)", gcn),
    _case("GAT", "GATConv", "gat/train.py", "model(g, inputs)", gat),
    _case("GATv2", "GATv2Conv", "gatv2/gatv2.py", "model(g, inputs)", gatv2, notes="share_weights=True, residual"),
    _case("GIN", "GINConv, SumPooling, BatchNorm1d", "gin/train.py", "model(batched_graph, feat)", gin, notes="graph classification of a dgl.batch"),
    _case("GraphSAGE", "SAGEConv", "graphsage/train_full.py", "model(graph, x)", graphsage, notes="aggregator 'gcn', full graph"),
    _case(
        "GraphSAGE-blocks", "SAGEConv", "graphsage/node_classification.py", "model(blocks, x)", sampled_graphsage,
        notes="sampled blocks; attributions over the parent graph's edges (parent_graph=)",
    ),
    _case("APPNP", "APPNPConv", "appnp/appnp.py", "model(features)", appnp, notes="reads self.g: graph=g; float32; mode='remove' refused"),
    _case("TAGCN", "TAGConv", "tagcn/tagcn.py", "model(features)", tagcn, notes="reads self.g: graph=g; mode='remove' refused"),
    _case("SGC", "SGConv", "sgc/sgc.py", "model(g, features)", sgc, notes="cached=True, its cache filled before the explanation"),
    _case("ChebNet", "ChebConv", "model_zoo/citation_network/models.py", "model(features)", chebnet, notes="reads self.g: graph=g; lambda_max=[2]"),
    _case("EdgeConv", "EdgeConv", "pointcloud/edgeconv/model.py", "model(g, x)", edgeconv, notes="the k-NN graph built outside the model, per-point output"),
    _case(
        "DGCNN", "EdgeConv, KNNGraph", "pointcloud/edgeconv/model.py", "model(x)", dgcnn,
        refused="there is no input edge to attribute", notes="the k-NN graph is built inside forward",
    ),
    _case("RGCN", "RelGraphConv", "rgcn/model.py", "model(g, nids)", rgcn, notes="featureless: node ids select embeddings; etypes and norm per edge"),
    _case(
        "RGCN-hetero", "WeightBasis, DGLGraph.update_all over all edge types", "rgcn-hetero/model.py", "model()", hetero_rgcn,
        notes="EntityClassify_HeteroAPI reads self.g (a heterograph): graph=g, ntype=",
    ),
]

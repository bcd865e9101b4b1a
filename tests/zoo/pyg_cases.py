r"""The PyG half of the zoo: one :class:`~tests.zoo.ZooCase` per model class of :mod:`tests.zoo.pyg_models`.

Every case builds a small seeded float64 graph, its model in eval mode, the call as the model's example
makes it, and two references computed without edgeattr:

* ``reference_gradient``: :math:`\partial z / \partial w` at :math:`w = 1`, with :math:`w` multiplied into
  every message of every message-passing call over the input edges. Where each call passes one message
  per edge (plus self-loops it adds, weight 1), :math:`w` goes in through PyG's own
  ``set_masks(model, w, edge_index, apply_sigmoid=False)``; where a call runs on a part of the edges
  (relations, pooled graphs), the layers are re-run by hand with each call's share of :math:`w`
  (through ``set_masks`` on that call's edges, or a closed form of the layer from its own parameters).
* ``without(keep)``: :math:`z` with the edges where ``keep`` is ``False`` deleted from the input (their
  weights, features and types cut alongside), by calling the model as its example does.

:math:`z` is the output of row ``index`` (a node, or a graph of the batch) in the class the model predicts
at :math:`w = 1` (the single value, for regression models).
"""

from __future__ import annotations

import copy
import unittest.mock
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torch_geometric.typing
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import GATv2Conv, MessagePassing
from torch_geometric.nn import global_max_pool as gmp
from torch_geometric.nn import global_mean_pool as gap
from torch_geometric.utils import degree

from tests.zoo import Example, ZooCase
from tests.zoo import pyg_models as zoo

FEATURES, HIDDEN, CLASSES, EDGE_DIM, RELATIONS = 6, 8, 3, 4, 3
DTYPE = torch.float64

# ----------------------------------------------------------------------------------------------------------------
# Graphs


def edges(num_nodes: int, num_edges: int, generator: torch.Generator) -> Tensor:
    """A directed edge_index of distinct (src, dst) pairs, no self-loops, in random order."""
    src, dst = torch.meshgrid(torch.arange(num_nodes), torch.arange(num_nodes), indexing="ij")
    pairs = torch.stack([src.reshape(-1), dst.reshape(-1)])
    pairs = pairs[:, pairs[0] != pairs[1]]
    assert num_edges <= pairs.size(1)
    return pairs[:, torch.randperm(pairs.size(1), generator=generator)[:num_edges]]


def node_graph(seed: int, num_nodes: int = 18, num_edges: int = 54, features: int = FEATURES) -> Tuple[Tensor, Tensor, int, torch.Generator]:
    """x (N, F) float64, edge_index (2, E), the explained node (the one with most in-edges), the generator."""
    g = torch.Generator().manual_seed(seed)
    edge_index = edges(num_nodes, num_edges, g)
    x = torch.randn(num_nodes, features, generator=g, dtype=DTYPE)
    index = int(degree(edge_index[1], num_nodes).argmax())
    return x, edge_index, index, g


def graph_batch(seed: int, sizes: Sequence[int] = (8, 7, 9), num_edges: Sequence[int] = (16, 14, 18), **fields: Callable) -> Batch:
    """A Batch of small random graphs, as a DataLoader gives it; ``fields`` maps a name to ``(n, e, generator) -> tensor``."""
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for n, e in zip(sizes, num_edges):
        data = Data(edge_index=edges(n, e, g), num_nodes=n)
        for name, make in fields.items():
            data[name] = make(n, e, g)
        graphs.append(data)
    return Batch.from_data_list(graphs)


def node_features(n: int, e: int, g: torch.Generator) -> Tensor:
    return torch.randn(n, FEATURES, generator=g, dtype=DTYPE)


def edge_features(n: int, e: int, g: torch.Generator) -> Tensor:
    return torch.randn(e, EDGE_DIM, generator=g, dtype=DTYPE)


def positive_weights(num_edges: int, g: torch.Generator) -> Tensor:
    return torch.rand(num_edges, generator=g, dtype=DTYPE) + 0.5


def seeded(make: Callable[[], torch.nn.Module], seed: int = 0) -> torch.nn.Module:
    """The model, seeded, in float64 and eval mode."""
    torch.manual_seed(seed)
    return make().double().eval()


# ----------------------------------------------------------------------------------------------------------------
# References


class _Masks:
    """PyG's own edge masks (``set_masks``, no sigmoid) on ``modules`` while inside; cleared afterwards, and the
    instance attributes that ``explain = True`` leaves behind (a bound ``propagate``) removed, so the model is as before."""

    def __init__(self, modules: Iterable[torch.nn.Module], mask: Tensor, edge_index: Tensor) -> None:
        self.modules = list(modules)
        self.mask, self.edge_index = mask, edge_index

    def __enter__(self) -> None:
        self.keys = {id(m): set(vars(m)) for module in self.modules for m in module.modules()}
        for module in self.modules:
            set_masks(module, self.mask, self.edge_index, apply_sigmoid=False)

    def __exit__(self, *exc: Any) -> None:
        for module in self.modules:
            clear_masks(module)
            for m in module.modules():
                for key in set(vars(m)) - self.keys[id(m)]:
                    delattr(m, key)


def gradient(model: torch.nn.Module, num_edges: int, z_of: Callable[[Tensor], Tensor], masks: Optional[Callable[[Tensor], _Masks]] = None) -> Tensor:
    r""":math:`\partial z / \partial w` at :math:`w = 1`, ``z_of(w)`` the score; ``masks(w)`` is held over the forward *and*
    the backward pass (checkpointed layers re-run their forward in the backward pass). ``backward()``, not
    ``autograd.grad``: reentrant checkpoints refuse the latter. The parameters' ``.grad`` are reset to ``None``."""
    assert all(p.grad is None for p in model.parameters())
    w = torch.ones(num_edges, dtype=DTYPE, requires_grad=True)
    try:
        if masks is None:
            z_of(w).backward()
        else:
            with masks(w):
                z_of(w).backward()
    finally:
        for p in model.parameters():
            p.grad = None
    assert w.grad is not None
    return w.grad.detach()


def masked_call(conv: MessagePassing, w: Tensor, edge_index: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """One call of ``conv`` on ``edge_index`` with PyG's mask ``w`` (one entry per column) on its messages."""
    with _Masks([conv], w, edge_index):
        return conv(*args, **kwargs)


def uncached(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of the model whose ``cached=True`` layers have no cache and compute afresh."""
    fresh = copy.deepcopy(model)
    for module in fresh.modules():
        if getattr(module, "cached", False):
            module.cached = False
            for name in ("_cached_x", "_cached_edge_index", "_cached_adj_t"):
                if hasattr(module, name):
                    setattr(module, name, None)
    return fresh


def cut(value: Any, keep: Tensor, edge_index: Tensor, edge_tensors: Sequence[Tensor]) -> Any:
    """``value`` with the deleted edges cut: the edge_index and each of ``edge_tensors`` (by identity), or a Data/Batch's edge fields."""
    if isinstance(value, Data):
        reduced = copy.copy(value)
        for key in ("edge_index", "edge_attr", "edge_weight", "edge_type"):
            if key in value:
                reduced[key] = value[key][:, keep] if key == "edge_index" else value[key][keep]
        return reduced
    if value is edge_index:
        return edge_index[:, keep]
    if any(value is t for t in edge_tensors):
        return value[keep]
    return value


class Scored:
    """The explained score of a model call: row ``index`` of ``select(output)``, in the column predicted at w = 1."""

    def __init__(self, model: torch.nn.Module, args: tuple, index: int, select: Callable[[Any], Tensor] = lambda out: out) -> None:
        self.model, self.args, self.index, self.select = model, args, index, select
        with torch.no_grad():
            row = select(model(*args))[index].reshape(-1)
        assert torch.isfinite(row).all()
        self.column = int(row.argmax()) if row.numel() > 1 else 0

    def __call__(self, output: Any) -> Tensor:
        return self.select(output)[self.index].reshape(-1)[self.column]

    def of(self, *args: Any, model: Optional[torch.nn.Module] = None) -> Tensor:
        return self((model or self.model)(*args))


def example(
    model: torch.nn.Module,
    args: tuple,
    index: int,
    edge_index: Tensor,
    *,
    edge_tensors: Sequence[Tensor] = (),
    select: Callable[[Any], Tensor] = lambda out: out,
    options: Optional[Dict[str, Any]] = None,
    by_hand: Optional[Callable[[Scored, Tensor], Tensor]] = None,
    masked: Optional[Callable[[torch.nn.Module], List[torch.nn.Module]]] = None,
    reference_model: Optional[torch.nn.Module] = None,
    deletable: bool = True,
) -> Example:
    """An Example with both references.

    The gradient goes through PyG's ``set_masks`` on the whole model (or on ``masked(model)``), unless ``by_hand(score, w)``
    re-runs the model with the weights ``w`` itself. ``reference_model`` (an uncached copy) runs the references instead of
    the model. ``without`` cuts ``edge_index``, ``edge_tensors`` and any Data's edge fields.
    """
    score = Scored(model, args, index, select)
    runner = reference_model if reference_model is not None else model
    num_edges = edge_index.size(1)

    def reference_gradient() -> Tensor:
        if by_hand is not None:
            with torch.no_grad():  # the re-run by hand is the model: at w = 1 it gives the model's own score
                torch.testing.assert_close(by_hand(score, torch.ones(num_edges, dtype=DTYPE)), score.of(*args, model=runner), rtol=1e-10, atol=1e-12)
            return gradient(runner, num_edges, lambda w: by_hand(score, w))
        modules = [runner] if masked is None else masked(runner)
        return gradient(runner, num_edges, lambda w: score.of(*args, model=runner), masks=lambda w: _Masks(modules, w, edge_index))

    def without(keep: Tensor) -> Tensor:
        assert keep.dtype == torch.bool and keep.numel() == num_edges
        with torch.no_grad():
            return score.of(*(cut(a, keep, edge_index, edge_tensors) for a in args), model=runner)

    return Example(
        model=model,
        args=args,
        kwargs={},
        index=index,
        reference_gradient=reference_gradient,
        without=without if deletable else None,
        options=dict(options or {}),
    )


# ----------------------------------------------------------------------------------------------------------------
# Node tasks


def build_gcn() -> Example:
    x, edge_index, index, g = node_graph(seed=1)
    edge_weight = positive_weights(edge_index.size(1), g)
    model = seeded(lambda: zoo.GCN(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index, edge_weight), index, edge_index, edge_tensors=[edge_weight])


def build_gat() -> Example:
    x, edge_index, index, _ = node_graph(seed=2)
    model = seeded(lambda: zoo.GAT(FEATURES, HIDDEN, CLASSES, heads=2))
    return example(model, (x, edge_index), index, edge_index)


def build_gat_edge_attr() -> Example:
    x, edge_index, index, g = node_graph(seed=3)
    edge_attr = torch.randn(edge_index.size(1), EDGE_DIM, generator=g, dtype=DTYPE)
    model = seeded(lambda: zoo.GATWithEdgeFeatures(FEATURES, HIDDEN, CLASSES, heads=2, edge_dim=EDGE_DIM))
    return example(model, (x, edge_index, edge_attr), index, edge_index, edge_tensors=[edge_attr])


def build_gatv2() -> Example:
    x, edge_index, index, _ = node_graph(seed=4)
    model = seeded(lambda: zoo.GAT(FEATURES, HIDDEN, CLASSES, heads=2, conv=GATv2Conv))
    return example(model, (x, edge_index), index, edge_index)


def build_sage() -> Example:
    x, edge_index, index, _ = node_graph(seed=5)
    model = seeded(lambda: zoo.SAGE(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index), index, edge_index)


def build_appnp() -> Example:
    x, edge_index, index, _ = node_graph(seed=6)
    model = seeded(lambda: zoo.APPNPNet(FEATURES, HIDDEN, CLASSES, K=3, alpha=0.1))
    return example(model, (Data(x=x, edge_index=edge_index),), index, edge_index)


def build_arma() -> Example:
    x, edge_index, index, _ = node_graph(seed=7)
    model = seeded(lambda: zoo.ARMA(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index), index, edge_index)


def build_tagcn() -> Example:
    x, edge_index, index, _ = node_graph(seed=8)
    model = seeded(lambda: zoo.TAGCN(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index), index, edge_index)


def build_cheb() -> Example:
    x, edge_index, index, _ = node_graph(seed=9)
    model = seeded(lambda: zoo.Cheb(FEATURES, HIDDEN, CLASSES, num_hops=3))
    return example(model, (Data(x=x, edge_index=edge_index),), index, edge_index)


def build_sgc() -> Example:
    x, edge_index, index, _ = node_graph(seed=10)
    model = seeded(lambda: zoo.SGC(FEATURES, CLASSES, K=2))
    data = Data(x=x, edge_index=edge_index)
    with torch.no_grad():
        model(data)  # as after training: the layer holds its cache of the propagated features
    assert model.conv1._cached_x is not None
    return example(model, (data,), index, edge_index, reference_model=uncached(model))


def build_mixhop() -> Example:
    x, edge_index, index, _ = node_graph(seed=11)
    model = seeded(lambda: zoo.MixHop(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index), index, edge_index)


def build_dna() -> Example:
    x, edge_index, index, _ = node_graph(seed=12)
    model = seeded(lambda: zoo.DNA(FEATURES, HIDDEN, CLASSES, num_layers=2, heads=2, groups=2))
    return example(model, (x, edge_index), index, edge_index)


def build_unimp() -> Example:
    x, edge_index, index, g = node_graph(seed=13)
    num_nodes = x.size(0)
    y = torch.randint(0, CLASSES, (num_nodes,), generator=g)
    label_mask = torch.rand(num_nodes, generator=g) < 0.5
    label_mask[index] = False  # the explained node's own label is not propagated
    model = seeded(lambda: zoo.UniMP(FEATURES, CLASSES, hidden_channels=HIDDEN, num_layers=2, heads=2))
    return example(model, (x, y, edge_index, label_mask), index, edge_index)


def build_graphconv_jk() -> Example:
    x, edge_index, index, g = node_graph(seed=14)
    edge_weight = positive_weights(edge_index.size(1), g)
    model = seeded(lambda: zoo.GraphConvJK(FEATURES, HIDDEN, CLASSES))
    return example(model, (x, edge_index, edge_weight), index, edge_index, edge_tensors=[edge_weight])


def build_gcn2() -> Example:
    x, edge_index, index, _ = node_graph(seed=15)
    model = seeded(lambda: zoo.GCN2(FEATURES, CLASSES, hidden_channels=HIDDEN, num_layers=4, alpha=0.1, theta=0.5, dropout=0.6))
    return example(model, (x, edge_index), index, edge_index)


def build_film() -> Example:
    x, edge_index, index, _ = node_graph(seed=16)
    model = seeded(lambda: zoo.FiLM(FEATURES, HIDDEN, CLASSES, num_layers=3, dropout=0.1))
    return example(model, (x, edge_index), index, edge_index)


def relational_graph(seed: int) -> Tuple[Tensor, Tensor, int, torch.Generator]:
    """A node graph with a relation type per edge, every relation present."""
    _, edge_index, index, g = node_graph(seed=seed)
    edge_type = torch.randint(0, RELATIONS, (edge_index.size(1),), generator=g)
    edge_type[:RELATIONS] = torch.arange(RELATIONS)
    return edge_index, edge_type, index, g


def rgcn_layer(conv, x: Optional[Tensor], edge_index: Tensor, edge_type: Tensor, w: Tensor, num_nodes: int) -> Tensor:
    r"""RGCNConv in closed form from its own parameters, messages weighted by ``w``:
    :math:`h_i = x_i W_\mathrm{root} + \sum_r \frac{1}{|N_r(i)|} \sum_{e = (j \to i) \in N_r(i)} w_e\, x_j W_r + b`,
    node ids standing for one-hot features where ``x`` is ``None``."""
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, conv.in_channels_l, conv.out_channels)
    src, dst = edge_index
    if x is None:
        messages = weight[edge_type, src]
        root = conv.root
    else:
        messages = torch.einsum("ec,eco->eo", x[src], weight[edge_type])
        root = x @ conv.root
    count = torch.zeros(num_nodes, conv.num_relations, dtype=DTYPE).index_put((dst, edge_type), torch.ones_like(w), accumulate=True)
    messages = messages * (w / count[dst, edge_type]).unsqueeze(-1)
    out = torch.zeros(num_nodes, conv.out_channels, dtype=DTYPE).index_add(0, dst, messages)
    return out + root + conv.bias


def rgcn_example(model_class, seed: int) -> Example:
    edge_index, edge_type, index, _ = relational_graph(seed=seed)
    num_nodes = 18
    model = seeded(lambda: model_class(num_nodes, HIDDEN, CLASSES, RELATIONS, num_bases=2))

    def by_hand(score: Scored, w: Tensor) -> Tensor:
        h = F.relu(rgcn_layer(model.conv1, None, edge_index, edge_type, w, num_nodes))
        h = rgcn_layer(model.conv2, h, edge_index, edge_type, w, num_nodes)
        return score(F.log_softmax(h, dim=1))

    return example(model, (edge_index, edge_type), index, edge_index, edge_tensors=[edge_type], by_hand=by_hand)


def build_rgcn() -> Example:
    return rgcn_example(zoo.RGCN, seed=17)


def build_fast_rgcn() -> Example:
    # FastRGCNConv passes one message per edge, but PyG's set_masks cannot reach it: with explain=True its propagate
    # becomes RGCNConv's, which takes no edge_type (TypeError in PyG 2.8). Same parameters, same closed form as RGCNConv.
    return rgcn_example(zoo.FastRGCN, seed=18)


def build_rgat() -> Example:
    edge_index, edge_type, index, g = relational_graph(seed=19)
    x = torch.randn(18, FEATURES, generator=g, dtype=DTYPE)
    model = seeded(lambda: zoo.RGAT(FEATURES, HIDDEN, CLASSES, RELATIONS))
    # RGATConv passes one message per edge through a single propagate (across-relation attention): PyG's masks apply.
    return example(model, (x, edge_index, edge_type), index, edge_index, edge_tensors=[edge_type])


def build_dir_gnn() -> Example:
    x, edge_index, index, _ = node_graph(seed=20)
    model = seeded(lambda: zoo.DirGNN(FEATURES, HIDDEN, CLASSES, alpha=0.5))
    # conv_in and conv_out each send one message per column of edge_index (conv_out on edge_index.flip([0]), the same
    # columns reversed): one mask entry weights edge e's message in both directions.
    return example(model, (x, edge_index), index, edge_index)


def build_super_gat() -> Example:
    x, edge_index, index, _ = node_graph(seed=21)
    model = seeded(lambda: zoo.SuperGAT(FEATURES, CLASSES))
    return example(model, (x, edge_index), index, edge_index, select=lambda out: out[0], options={"output": 0})


def build_deeper_gcn() -> Example:
    x, edge_index, index, g = node_graph(seed=22)
    edge_attr = torch.randn(edge_index.size(1), EDGE_DIM, generator=g, dtype=DTYPE)
    model = seeded(lambda: zoo.DeeperGCN(FEATURES, EDGE_DIM, HIDDEN, CLASSES, num_layers=3))
    return example(model, (x, edge_index, edge_attr), index, edge_index, edge_tensors=[edge_attr])


# ----------------------------------------------------------------------------------------------------------------
# Graph tasks: a batch of three graphs, the middle one explained


GRAPH = 1


def build_gin() -> Example:
    data = graph_batch(seed=30, x=node_features)
    model = seeded(lambda: zoo.GIN(FEATURES, HIDDEN, CLASSES, num_layers=3))
    return example(model, (data.x, data.edge_index, data.batch), GRAPH, data.edge_index)


def build_pna() -> Example:
    data = graph_batch(
        seed=31,
        x=lambda n, e, g: torch.randint(0, 21, (n, 1), generator=g),
        edge_attr=lambda n, e, g: torch.randint(0, 4, (e,), generator=g),
    )
    # examples/pna.py: the histogram of in-degrees over the training graphs (here: the batch).
    in_degree = degree(data.edge_index[1], data.num_nodes, dtype=torch.long)
    deg = torch.bincount(in_degree, minlength=int(in_degree.max()) + 1)
    model = seeded(lambda: zoo.PNA(deg))
    return example(model, (data.x, data.edge_index, data.edge_attr, data.batch), GRAPH, data.edge_index, edge_tensors=[data.edge_attr], options={"mode": "regression"})


def build_nnconv() -> Example:
    data = graph_batch(seed=32, x=node_features, edge_attr=edge_features)
    model = seeded(lambda: zoo.NNConvSet2Set(FEATURES, EDGE_DIM, dim=16), seed=1)  # a seed whose gradients are well above the tolerance
    return example(model, (data,), GRAPH, data.edge_index, options={"mode": "regression", "task": "graph"})


def build_edge_conv() -> Example:
    data = graph_batch(seed=33, x=node_features)
    model = seeded(lambda: zoo.EdgeConvNet(FEATURES, CLASSES))
    return example(model, (data.x, data.edge_index, data.batch), GRAPH, data.edge_index)


def build_gps() -> Example:
    walk_length = 8
    data = graph_batch(
        seed=34,
        x=lambda n, e, g: torch.randint(0, 28, (n, 1), generator=g),
        pe=lambda n, e, g: torch.rand(n, walk_length, generator=g, dtype=DTYPE),
        edge_attr=lambda n, e, g: torch.randint(0, 4, (e,), generator=g),
    )
    model = seeded(lambda: zoo.GPS(channels=16, pe_dim=4, walk_length=walk_length, num_layers=2, attn_kwargs={"dropout": 0.5}))
    # The positional encoding is the dataset's (a transform's) and stays as it is when edges are deleted.
    return example(
        model, (data.x, data.pe, data.edge_index, data.edge_attr, data.batch), GRAPH, data.edge_index, edge_tensors=[data.edge_attr], options={"mode": "regression"}
    )


def build_attentive_fp() -> Example:
    data = graph_batch(seed=35, x=node_features, edge_attr=edge_features)
    model = seeded(lambda: zoo.AttentiveFPNet(FEATURES, HIDDEN, EDGE_DIM))
    # set_masks skips mol_conv (AttentiveFP sets its explain=False): its edges (node -> molecule) are built in forward.
    return example(model, (data.x, data.edge_index, data.edge_attr, data.batch), GRAPH, data.edge_index, edge_tensors=[data.edge_attr], options={"mode": "regression"})


def build_topk_pool() -> Example:
    data = graph_batch(seed=36, x=node_features)
    model = seeded(lambda: zoo.TopKPool(FEATURES, CLASSES))

    def by_hand(score: Scored, w: Tensor) -> Tensor:
        # proteins_topk_pool.py's forward, each GraphConv weighted by its own edges' share of w: passing the input
        # columns' ids as the pooling's edge_attr tells which input edges each pooled edge_index keeps.
        x, edge_index, batch = data.x, data.edge_index, data.batch
        ids = torch.arange(edge_index.size(1))
        readouts = []
        for conv, pool in ((model.conv1, model.pool1), (model.conv2, model.pool2), (model.conv3, model.pool3)):
            x = F.relu(masked_call(conv, w[ids], edge_index, x, edge_index))
            x, edge_index, ids, batch, _, _ = pool(x, edge_index, ids, batch)
            readouts.append(torch.cat([gmp(x, batch), gap(x, batch)], dim=1))
        x = F.relu(model.lin1(sum(readouts)))
        x = F.relu(model.lin2(x))
        return score(F.log_softmax(model.lin3(x), dim=-1))

    return example(model, (data,), GRAPH, data.edge_index, by_hand=by_hand, options={"task": "graph"})


def build_sag_pool() -> Example:
    data = graph_batch(seed=37, x=node_features)
    model = seeded(lambda: zoo.SAGPool(FEATURES, CLASSES))

    def sag_pooling(pool, x: Tensor, edge_index: Tensor, ids: Tensor, batch: Tensor, w: Tensor):
        # SAGPooling.forward, its scoring GNN weighted by w: score, select, scale, keep the edges between kept nodes.
        attn = masked_call(pool.gnn, w[ids], edge_index, x, edge_index)
        selected = pool.select(attn, batch)
        x = x[selected.node_index] * selected.weight.view(-1, 1)
        kept = pool.connect(selected, edge_index, ids, batch)
        return x, kept.edge_index, kept.edge_attr, kept.batch

    def by_hand(score: Scored, w: Tensor) -> Tensor:
        x, edge_index, batch = data.x, data.edge_index, data.batch
        ids = torch.arange(edge_index.size(1))
        x = F.relu(masked_call(model.conv1, w[ids], edge_index, x, edge_index))
        xs = [gap(x, batch)]
        for i, conv in enumerate(model.convs):
            x = F.relu(masked_call(conv, w[ids], edge_index, x, edge_index))
            xs += [gap(x, batch)]
            if i % 2 == 0 and i < len(model.convs) - 1:
                x, edge_index, ids, batch = sag_pooling(model.pools[i // 2], x, edge_index, ids, batch, w)
        x = F.relu(model.lin1(model.jump(xs)))
        return score(F.log_softmax(model.lin2(x), dim=-1))

    return example(model, (data,), GRAPH, data.edge_index, by_hand=by_hand, options={"task": "graph"})


def build_dgcnn() -> Example:
    # Point clouds: no edge_index; DynamicEdgeConv builds its k-NN graph from pos inside forward.
    g = torch.Generator().manual_seed(38)
    data = Batch.from_data_list([Data(pos=torch.randn(n, 3, generator=g, dtype=DTYPE)) for n in (8, 7, 9)])
    if torch_geometric.typing.WITH_KNN:
        model = seeded(lambda: zoo.DGCNN(CLASSES, k=4))
    else:
        # No pyg-lib in this lane: the model is built, but its forward (torch.ops.pyg.knn) cannot run here, so the
        # refusal must come from the layer before the model runs.
        with unittest.mock.patch.object(torch_geometric.typing, "WITH_KNN", True):
            model = seeded(lambda: zoo.DGCNN(CLASSES, k=4))

    def no_reference() -> Tensor:
        raise AssertionError("DynamicEdgeConv has no input edges: there is nothing to attribute, only a refusal to check")

    # without=None: the input has no edges to delete.
    return Example(model=model, args=(data,), kwargs={}, index=GRAPH, reference_gradient=no_reference, without=None, options={"task": "graph"})


# ----------------------------------------------------------------------------------------------------------------
# The cases

EXAMPLES = "examples/"
CITATION = "benchmark/citation/"


PYG_CASES: List[ZooCase] = [
    ZooCase("pyg/GCN", "PyG", "GCNConv", EXAMPLES + "gcn.py", "model(data.x, data.edge_index, data.edge_attr)", build_gcn),
    ZooCase("pyg/GAT", "PyG", "GATConv", EXAMPLES + "gat.py", "model(data.x, data.edge_index)", build_gat),
    ZooCase(
        "pyg/GAT-edge_attr",
        "PyG",
        "GATConv (edge_dim)",
        EXAMPLES + "gat.py",
        "model(data.x, data.edge_index, data.edge_attr)",
        build_gat_edge_attr,
        notes="edge features through edge_dim; self-loops get the mean feature",
    ),
    ZooCase("pyg/GATv2", "PyG", "GATv2Conv", EXAMPLES + "gat.py", "model(data.x, data.edge_index)", build_gatv2, notes="gat.py with GATv2Conv"),
    ZooCase("pyg/GIN", "PyG", "GINConv, MLP, global_add_pool", EXAMPLES + "mutag_gin.py", "model(data.x, data.edge_index, data.batch)", build_gin),
    ZooCase("pyg/GraphSAGE", "PyG", "SAGEConv", EXAMPLES + "reddit.py", "model(data.x, data.edge_index)", build_sage),
    ZooCase(
        "pyg/PNA",
        "PyG",
        "PNAConv, BatchNorm, global_add_pool",
        EXAMPLES + "pna.py",
        "model(data.x, data.edge_index, data.edge_attr, data.batch)",
        build_pna,
        notes="degree histogram, edge embeddings; regression",
    ),
    ZooCase("pyg/APPNP", "PyG", "APPNP", CITATION + "appnp.py", "model(data)", build_appnp),
    ZooCase("pyg/ARMA", "PyG", "ARMAConv", EXAMPLES + "arma.py", "model(data.x, data.edge_index)", build_arma),
    ZooCase("pyg/TAGCN", "PyG", "TAGConv", EXAMPLES + "tagcn.py", "model(data.x, data.edge_index)", build_tagcn, notes="the example's forward() reads the global data"),
    ZooCase("pyg/ChebNet", "PyG", "ChebConv", CITATION + "cheb.py", "model(data)", build_cheb),
    ZooCase("pyg/SGC", "PyG", "SGConv (cached=True)", CITATION + "sgc.py", "model(data)", build_sgc, notes="explained with its cache already filled"),
    ZooCase("pyg/MixHop", "PyG", "MixHopConv, BatchNorm", EXAMPLES + "mixhop.py", "model(data.x, data.edge_index)", build_mixhop),
    ZooCase("pyg/DNA", "PyG", "DNAConv", EXAMPLES + "dna.py", "model(data.x, data.edge_index)", build_dna),
    ZooCase(
        "pyg/UniMP",
        "PyG",
        "TransformerConv (beta=True), MaskLabel",
        EXAMPLES + "unimp_arxiv.py",
        "model(data.x, data.y, data.edge_index, propagation_mask)",
        build_unimp,
    ),
    ZooCase(
        "pyg/GraphConv-JK",
        "PyG",
        "GraphConv, JumpingKnowledge",
        EXAMPLES + "graph_saint.py",
        "model(data.x, data.edge_index, edge_weight)",
        build_graphconv_jk,
        notes="edge weights",
    ),
    ZooCase("pyg/NNConv-Set2Set", "PyG", "NNConv, Set2Set, GRU", EXAMPLES + "qm9_nn_conv.py", "model(data)", build_nnconv, notes="regression, one value per graph"),
    ZooCase("pyg/EdgeConv", "PyG", "EdgeConv, global_max_pool", EXAMPLES + "dgcnn_classification.py", "model(data.x, data.edge_index, data.batch)", build_edge_conv),
    ZooCase(
        "pyg/GPS",
        "PyG",
        "GPSConv, GINEConv, MultiheadAttention",
        EXAMPLES + "graph_gps.py",
        "model(data.x, data.pe, data.edge_index, data.edge_attr, data.batch)",
        build_gps,
        notes="attention within each graph; regression",
    ),
    ZooCase("pyg/GCNII", "PyG", "GCN2Conv", EXAMPLES + "gcn2_cora.py", "model(data.x, data.adj_t)", build_gcn2, notes="an edge_index in place of the SparseTensor adj_t"),
    ZooCase("pyg/FiLM", "PyG", "FiLMConv, BatchNorm1d", EXAMPLES + "film.py", "model(data.x, data.edge_index)", build_film),
    ZooCase("pyg/RGCN", "PyG", "RGCNConv", EXAMPLES + "rgcn.py", "model(data.edge_index, data.edge_type)", build_rgcn, notes="featureless, basis decomposition"),
    ZooCase("pyg/FastRGCN", "PyG", "FastRGCNConv", EXAMPLES + "rgcn.py", "model(data.edge_index, data.edge_type)", build_fast_rgcn, notes="featureless, basis decomposition"),
    ZooCase("pyg/RGAT", "PyG", "RGATConv", EXAMPLES + "rgat.py", "model(data.x, data.edge_index, data.edge_type)", build_rgat),
    ZooCase("pyg/DirGNN", "PyG", "DirGNNConv, GCNConv", EXAMPLES + "dir_gnn.py", "model(data.x, data.edge_index)", build_dir_gnn, notes="both directions of each edge weighted by its entry"),
    ZooCase("pyg/TopKPool", "PyG", "TopKPooling, GraphConv", EXAMPLES + "proteins_topk_pool.py", "model(data)", build_topk_pool, notes="pooled edges keep their input edge's weight"),
    ZooCase("pyg/SAGPool", "PyG", "SAGPooling, GraphConv, JumpingKnowledge", "benchmark/kernel/sag_pool.py", "model(data)", build_sag_pool, notes="pooled edges keep their input edge's weight"),
    ZooCase(
        "pyg/AttentiveFP",
        "PyG",
        "AttentiveFP (GATEConv, GATConv, GRUCell)",
        EXAMPLES + "attentive_fp.py",
        "model(data.x, data.edge_index, data.edge_attr, data.batch)",
        build_attentive_fp,
        notes="the molecule-level GATConv runs on edges built in forward, which keep weight 1 (refused on torch 2.2, whose modes do not see indexing); regression",
        own_edges=True,
    ),
    ZooCase(
        "pyg/SuperGAT",
        "PyG",
        "SuperGATConv",
        EXAMPLES + "super_gat.py",
        "model(data.x, data.edge_index)",
        build_super_gat,
        notes="returns (log_softmax, att_loss): explained with output=0",
    ),
    ZooCase(
        "pyg/DeeperGCN",
        "PyG",
        "GENConv, DeepGCNLayer (ckpt_grad=True)",
        EXAMPLES + "ogbn_proteins_deepgcn.py",
        "model(data.x, data.edge_index, data.edge_attr)",
        build_deeper_gcn,
        notes="under torch.utils.checkpoint",
    ),
    ZooCase(
        "pyg/DGCNN",
        "PyG",
        "DynamicEdgeConv, MLP, global_max_pool",
        EXAMPLES + "dgcnn_classification.py",
        "model(data)",
        build_dgcnn,
        refused="builds its graph inside forward",
        notes="its k-NN graph is built inside forward: there is no input edge to attribute",
    ),
]

__all__ = ["PYG_CASES"]


# ----------------------------------------------------------------------------------------------------------------
# Heterogeneous graphs

from torch_geometric.explain.algorithm.utils import set_hetero_masks  # noqa: E402
from torch_geometric.nn import HGTConv  # noqa: E402

#: A small DBLP: node types and counts, and each relation with its edge count (reverse relations follow their own).
DBLP_NODES = {"author": 14, "paper": 16, "term": 6, "conference": 3}
DBLP_RELATIONS = {("author", "to", "paper"): 30, ("paper", "to", "term"): 24, ("paper", "to", "conference"): 16}


def dblp_graph(seed: int) -> Tuple[Dict[str, Tensor], Dict[Tuple[str, str, str], Tensor]]:
    """x_dict (float64 features per node type) and edge_index_dict as ``HeteroData`` gives them for DBLP after ``ToUndirected``:
    each relation of distinct (src, dst) pairs, followed by its reverse relation."""
    g = torch.Generator().manual_seed(seed)
    x_dict = {node_type: torch.randn(n, FEATURES, generator=g, dtype=DTYPE) for node_type, n in DBLP_NODES.items()}
    edge_index_dict: Dict[Tuple[str, str, str], Tensor] = {}
    for (src, rel, dst), count in DBLP_RELATIONS.items():
        pairs = torch.stack(torch.meshgrid(torch.arange(DBLP_NODES[src]), torch.arange(DBLP_NODES[dst]), indexing="ij")).view(2, -1)
        chosen = pairs[:, torch.randperm(pairs.size(1), generator=g)[:count]]
        edge_index_dict[src, rel, dst] = chosen
        edge_index_dict[dst, "rev_" + rel, src] = chosen.flip(0).clone()
    return x_dict, edge_index_dict


def build_hgt() -> Example:
    x_dict, edge_index_dict = dblp_graph(seed=40)
    metadata = (list(x_dict), list(edge_index_dict))
    model = seeded(lambda: zoo.HGT(HIDDEN, CLASSES, num_heads=2, num_layers=2, metadata=metadata))
    with torch.no_grad():  # as hgt_dblp.py does: one pass initialises the lazy Linear layers
        model(x_dict, edge_index_dict)
    args = (x_dict, edge_index_dict)
    counts = [e.size(1) for e in edge_index_dict.values()]
    reaching = degree(edge_index_dict["paper", "rev_to", "author"][1], DBLP_NODES["author"])
    index = int(reaching.argmax())
    score = Scored(model, args, index)
    convs = [conv for conv in model.modules() if isinstance(conv, HGTConv)]

    def reference_gradient() -> Tensor:
        # PyG's set_hetero_masks reaches only relation modules of a ModuleDict keyed by edge type (to_hetero,
        # HeteroConv); HGTConv is one module over all types, and its mask is left unset:
        set_hetero_masks(model, {t: torch.ones(c, dtype=DTYPE) for t, c in zip(edge_index_dict, counts)}, edge_index_dict, apply_sigmoid=False)
        try:
            assert not any(conv.explain for conv in convs), "set_hetero_masks reached HGTConv: use it as the reference"
        finally:
            clear_masks(model)
        # So w goes in through PyG's set_masks on each HGTConv, over the edge_index it propagates: the types in the
        # order of edge_index_dict (construct_bipartite_edge_index iterates the source offsets HGTConv builds from
        # edge_index_dict.keys()), one entry per column of each type; no self-loops, so the loop mask is unused.
        for conv in convs:
            heads = {t: torch.zeros(n, conv.heads, conv.out_channels // conv.heads, dtype=DTYPE) for t, n in DBLP_NODES.items()}
            assert list(conv._construct_src_node_feat(heads, heads, edge_index_dict)[2]) == list(edge_index_dict)
        flat = torch.cat(list(edge_index_dict.values()), 1)
        return gradient(model, flat.size(1), lambda w: score.of(*args), masks=lambda w: _Masks(convs, w, flat))

    def without(keep: Tensor) -> Tensor:
        kept = dict(zip(edge_index_dict, keep.split(counts)))
        with torch.no_grad():
            return score.of(x_dict, {t: e[:, kept[t]] for t, e in edge_index_dict.items()})

    return Example(model=model, args=args, kwargs={}, index=index, reference_gradient=reference_gradient, without=without)


PYG_CASES += [
    ZooCase(
        "pyg/HGT",
        "PyG",
        "HGTConv, Linear (lazy)",
        EXAMPLES + "hetero/hgt_dblp.py",
        "model(data.x_dict, data.edge_index_dict)",
        build_hgt,
        notes="one propagate over every edge type concatenated with node offsets; masks per edge type",
    ),
]

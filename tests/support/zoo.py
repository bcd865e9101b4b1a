"""Small graphs, models of every supported layer, and independent reference computations."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import torch
from torch import Tensor
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import (
    APPNP,
    GAT,
    GCN,
    GIN,
    GATConv,
    GATv2Conv,
    GCNConv,
    GINConv,
    GINEConv,
    GraphConv,
    GraphSAGE,
    MessagePassing,
    SAGEConv,
    SGConv,
    TransformerConv,
    global_mean_pool,
)

FEATURES, HIDDEN, CLASSES, EDGE_DIM = 5, 6, 3, 4


def mlp(i: int, o: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(i, o), torch.nn.ReLU(), torch.nn.Linear(o, o))


#: name -> (conv factory (in, out), whether it takes edge_attr)
CONVS: Dict[str, Tuple[Callable[[int, int], MessagePassing], bool]] = {
    "GCNConv": (lambda i, o: GCNConv(i, o), False),
    "GATConv": (lambda i, o: GATConv(i, o, heads=2, concat=False), False),
    "GATv2Conv": (lambda i, o: GATv2Conv(i, o, heads=2, concat=False), False),
    "GINConv": (lambda i, o: GINConv(mlp(i, o), train_eps=True), False),
    "GINEConv": (lambda i, o: GINEConv(mlp(i, o), edge_dim=EDGE_DIM), True),
    "SAGEConv-mean": (lambda i, o: SAGEConv(i, o, aggr="mean"), False),
    "SAGEConv-sum": (lambda i, o: SAGEConv(i, o, aggr="sum"), False),
    "GraphConv": (lambda i, o: GraphConv(i, o), False),
    "SGConv": (lambda i, o: SGConv(i, o, K=2), False),
    "TransformerConv": (lambda i, o: TransformerConv(i, o, heads=2, concat=False), False),
}

#: Layers whose module is called once per forward (so a per-module mask is a per-layer mask).
SINGLE_CALL = [name for name in CONVS if name != "SGConv"]


class TwoLayer(torch.nn.Module):
    """conv -> relu -> conv, optionally pooled per graph."""

    def __init__(self, name: str, pool: bool = False) -> None:
        super().__init__()
        factory, self.uses_edge_attr = CONVS[name]
        self.conv1 = factory(FEATURES, HIDDEN)
        self.conv2 = factory(HIDDEN, HIDDEN if pool else CLASSES)
        self.head = torch.nn.Linear(HIDDEN, CLASSES) if pool else None

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor = None, batch: Tensor = None) -> Tensor:
        extra = (edge_attr,) if self.uses_edge_attr else ()
        h = self.conv1(x, edge_index, *extra).relu()
        h = self.conv2(h, edge_index, *extra)
        if self.head is None:
            return h
        return self.head(global_mean_pool(h, batch))


class APPNPNet(torch.nn.Module):
    def __init__(self, K: int = 3) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(FEATURES, CLASSES)
        self.prop = APPNP(K=K, alpha=0.2)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return self.prop(self.lin(x), edge_index)


class BipartiteTwoLayer(torch.nn.Module):
    """SAGEConv then GraphConv over (source, target) feature pairs: the homogeneous model PyG's to_hetero converts."""

    def __init__(self):
        super().__init__()
        self.conv1 = SAGEConv((FEATURES, FEATURES), FEATURES)
        self.conv2 = GraphConv((FEATURES, FEATURES), CLASSES)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class LinearSGC(torch.nn.Module):
    """Stacked SGConv (K = 1) with identity activation: z is affine in every W[l, e]."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        sizes = [FEATURES] + [4] * (depth - 1) + [3]
        self.convs = torch.nn.ModuleList(SGConv(i, o, K=1) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, x, edge_index):
        for conv in self.convs:
            x = conv(x, edge_index)
        return x


BASIC_GNNS = {
    "GCN": lambda: GCN(FEATURES, HIDDEN, num_layers=2, out_channels=CLASSES),
    "GAT": lambda: GAT(FEATURES, HIDDEN, num_layers=2, out_channels=CLASSES, heads=2),
    "GIN": lambda: GIN(FEATURES, HIDDEN, num_layers=2, out_channels=CLASSES),
    "GraphSAGE": lambda: GraphSAGE(FEATURES, HIDDEN, num_layers=2, out_channels=CLASSES),
}


def random_graph(num_nodes: int = 14, num_edges: int = 40, seed: int = 0, self_loops: bool = False):
    """Node features, a directed edge_index (no self-loops unless asked) and edge features, float64."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=g)
    dst = torch.randint(0, num_nodes, (num_edges,), generator=g)
    if not self_loops:
        dst = torch.where(src == dst, (dst + 1) % num_nodes, dst)
    x = torch.randn(num_nodes, FEATURES, generator=g, dtype=torch.float64)
    edge_attr = torch.randn(num_edges, EDGE_DIM, generator=g, dtype=torch.float64)
    return x, torch.stack([src, dst]), edge_attr


def graph_batch(sizes=(6, 8, 7), edges_per_graph: int = 14, seed: int = 1):
    """Several random graphs as one disjoint batch: x, edge_index, edge_attr, batch."""
    xs, eis, eas, batch, offset = [], [], [], [], 0
    for gid, n in enumerate(sizes):
        x, ei, ea = random_graph(n, edges_per_graph, seed=seed + gid)
        xs.append(x)
        eis.append(ei + offset)
        eas.append(ea)
        batch.append(torch.full((n,), gid))
        offset += n
    return torch.cat(xs), torch.cat(eis, 1), torch.cat(eas), torch.cat(batch)


def model_of(name: str, pool: bool = False, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if name == "APPNP":
        return APPNPNet().double().eval()
    if name in BASIC_GNNS:
        return BASIC_GNNS[name]().double().eval()
    return TwoLayer(name, pool=pool).double().eval()


def reference_output(model, args, kwargs, edge_index, row, masks) -> Tensor:
    """The output row with PyG's own set_masks: one (E,) mask for all layers, or a list, one per module."""
    convs = [m for m in model.modules() if isinstance(m, MessagePassing)]
    if isinstance(masks, Tensor):
        set_masks(model, masks, edge_index, apply_sigmoid=False)
    else:
        assert len(masks) == len(convs)
        for conv, mask in zip(convs, masks):
            set_masks(conv, mask, edge_index, apply_sigmoid=False)
    try:
        return model(*args, **kwargs)[row]
    finally:
        clear_masks(model)


def explained(row: Tensor, target: int) -> Tensor:
    row = row.reshape(-1)
    return row[0] * (1 if target == 1 else -1) if row.numel() == 1 else row[target]


def reference_gradient(model, args, kwargs, edge_index, row, target, per_module=False, at=None) -> Tensor:
    """dz/dw through PyG's own explain machinery (set_masks), independent of edgeattr.

    per_module=True gives each MessagePassing module its own mask: the layerwise
    gradient, shape (L, E), for models whose modules are each called once.
    ``at`` is the mask value (default all ones), shape (E,) or (L, E).
    """
    convs = [m for m in model.modules() if isinstance(m, MessagePassing)]
    num_edges = edge_index.size(1)
    count = len(convs) if per_module else 1
    start = torch.ones(count, num_edges, dtype=torch.float64) if at is None else at.detach().reshape(count, num_edges)
    masks = [m.clone().requires_grad_(True) for m in start]
    z = explained(reference_output(model, args, kwargs, edge_index, row, masks if per_module else masks[0]), target)
    grads = torch.autograd.grad(z, masks)
    return torch.stack(grads) if per_module else grads[0]


def assert_float64_masks_give_float32_values(adapter) -> None:
    """A float64 mask on a float32 adapter is cast: the float32 mask's outputs and attributions, in float64."""
    from edgeattr import EdgeGradient, EdgeOcclusion

    single = adapter.ones()
    assert single.dtype == torch.float32
    torch.testing.assert_close(adapter(single.double()), adapter(single), rtol=0, atol=0)
    for method in (EdgeGradient, EdgeOcclusion):
        attribution = method(adapter).attribute(single.double())
        assert attribution.dtype == torch.float64
        torch.testing.assert_close(attribution.float(), method(adapter).attribute(single), rtol=0, atol=0)


def state_of(model: torch.nn.Module) -> dict:
    """Everything about a model an explanation must leave untouched."""
    state = {}
    for name, module in model.named_modules():
        hooks = {
            attr: list(getattr(module, attr).keys())
            for attr in vars(module)
            if attr.endswith("_hooks") and isinstance(getattr(module, attr), dict)
        }
        state[name] = dict(
            training=module.training,
            parameter_names=list(module._parameters.keys()),
            buffer_names=list(module._buffers.keys()),
            hooks=hooks,
            explain=getattr(module, "_explain", None),
            attributes=sorted(vars(module)),
        )
    state["parameters"] = {n: (p.detach().clone(), p.requires_grad, p.grad) for n, p in model.named_parameters()}
    state["buffers"] = {n: b.clone() for n, b in model.named_buffers()}
    return state


def assert_same_state(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key in before:
        if key in ("parameters", "buffers"):
            assert before[key].keys() == after[key].keys()
            for name in before[key]:
                b, a = before[key][name], after[key][name]
                if key == "parameters":
                    assert _identical(b[0], a[0]) and b[1] == a[1] and b[2] is None and a[2] is None, name
                else:
                    assert _identical(b, a), name
        else:
            assert before[key] == after[key], key


def _identical(before: Tensor, after: Tensor) -> bool:
    """Equal values, NaN where NaN was: a parameter left uninitialised (PyG's RGATConv.l2, torch.empty) may hold NaN."""
    return torch.equal(before.isnan(), after.isnan()) and torch.equal(before.nan_to_num(), after.nan_to_num())

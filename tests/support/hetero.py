"""Heterogeneous PyG graphs and models shared by the hetero tests, with PyG's own hetero masks as the reference."""

import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm.utils import clear_masks, set_hetero_masks, set_masks
from torch_geometric.nn import GCNConv, HeteroConv, MessagePassing, SAGEConv, global_mean_pool, to_hetero

from tests.support.zoo import BipartiteTwoLayer

F, CLASSES = 5, 3
NODE_TYPE, NODE = "a", 0  # node a0 is reached by edges of every type
EDGE_TYPES = [("a", "to", "b"), ("b", "to", "a"), ("a", "near", "a")]


class NodeModel(torch.nn.Module):
    """A to_hetero model whose output is the rows of node type 'a' (what PyG's Explainer needs)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.gnn = to_hetero(BipartiteTwoLayer(), (["a", "b"], EDGE_TYPES)).double()

    def forward(self, x_dict, edge_index_dict):
        return self.gnn(x_dict, edge_index_dict)[NODE_TYPE]


class GraphModel(NodeModel):
    """The same, pooled over the nodes of both types: one row per graph."""

    def forward(self, x_dict, edge_index_dict):
        out = self.gnn(x_dict, edge_index_dict)
        return sum(global_mean_pool(h, None) for h in out.values())


class WithSelfLoops(torch.nn.Module):
    """PyG's HeteroConv with a GCNConv, which adds self-loops, on the relation between 'a' nodes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        convs = lambda out: {  # noqa: E731
            EDGE_TYPES[0]: SAGEConv((F, F), out),
            EDGE_TYPES[1]: SAGEConv((F, F), out),
            EDGE_TYPES[2]: GCNConv(F, out),
        }
        self.conv1, self.conv2 = HeteroConv(convs(F)).double(), HeteroConv(convs(CLASSES)).double()

    def forward(self, x_dict, edge_index_dict):
        h = {t: v.relu() for t, v in self.conv1(x_dict, edge_index_dict).items()}
        return self.conv2(h, edge_index_dict)[NODE_TYPE]


def hetero_graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = {"a": 6, "b": 5}
    x = {t: torch.randn(n, F, generator=g, dtype=torch.float64) for t, n in sizes.items()}
    counts = {EDGE_TYPES[0]: 12, EDGE_TYPES[1]: 10, EDGE_TYPES[2]: 9}
    edges = {}
    for (src, rel, dst), count in counts.items():
        s = torch.randint(0, sizes[src], (count,), generator=g)
        d = torch.randint(0, sizes[dst], (count,), generator=g)
        if src == dst:
            d = torch.where(s == d, (d + 1) % sizes[dst], d)
        edges[src, rel, dst] = torch.stack([s, d])
    return x, edges


def reference_gradient(model, x, edges, target, row, per_module=False):
    """dz/dw through PyG's set_hetero_masks (one mask per edge type) or set_masks per relation module."""
    ones = {t: torch.ones(e.size(1), dtype=torch.float64, requires_grad=True) for t, e in edges.items()}
    if not per_module:
        set_hetero_masks(model, ones, edges, apply_sigmoid=False)
        try:
            z = model(x, edges)[row, target]
        finally:
            clear_masks(model)
        grads = torch.autograd.grad(z, list(ones.values()), allow_unused=True)
        return torch.cat([torch.zeros_like(m) if g is None else g for m, g in zip(ones.values(), grads)])
    # One mask per relation module, in call order: the layerwise gradient, (L, E).
    calls = [(name, m) for name, m in model.named_modules() if isinstance(m, MessagePassing)]
    masks, offsets, start = [], {}, 0
    for t, e in edges.items():
        offsets[t], start = start, start + e.size(1)
    for name, module in calls:
        edge_type = next(t for t in edges if name.endswith("__".join(t)))
        mask = torch.ones(edges[edge_type].size(1), dtype=torch.float64, requires_grad=True)
        set_masks(module, mask, edges[edge_type], apply_sigmoid=False)
        masks.append((edge_type, mask))
    try:
        z = model(x, edges)[row, target]
    finally:
        clear_masks(model)
    grads = torch.autograd.grad(z, [m for _, m in masks], allow_unused=True)  # layer 2 into 'b' cannot reach 'a'
    out = torch.zeros(len(calls), start, dtype=torch.float64)
    for layer, ((edge_type, mask), grad) in enumerate(zip(masks, grads)):
        if grad is not None:
            out[layer, offsets[edge_type] : offsets[edge_type] + mask.numel()] = grad
    return out


def explainer_of(model, algorithm, task_level="node"):
    """PyG's Explainer of a multiclass model's raw outputs, with an object-level edge mask."""
    return Explainer(
        model,
        algorithm=algorithm,
        explanation_type="model",
        edge_mask_type="object",
        model_config=dict(mode="multiclass_classification", task_level=task_level, return_type="raw"),
    )

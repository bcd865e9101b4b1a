r"""Models of the paper's experiments, written the way PyG users write them."""

from __future__ import annotations

from typing import Any, Dict, Final, Optional

import torch
from torch import Tensor
from torch_geometric.nn import GAT, GCN, GIN, MLP, GINEConv, MessagePassing, SAGEConv, SGConv, global_mean_pool
from torch_geometric.nn.models.basic_gnn import BasicGNN


class SumSAGE(torch.nn.Module):
    r"""One sum-aggregating GraphSAGE layer without bias and root weight.

    .. math:: z_i = W \sum_{j \to i} x_j

    The paper's model for the negative-evidence graph: each neighbour's
    message is linear in its features, so an edge's gradient has one sign.

    Args:
        in_channels (int): Node feature size.
        out_channels (int): 1 (one logit, binary) or the number of classes.
    """

    def __init__(self, in_channels: int, out_channels: int = 1) -> None:
        super().__init__()
        self.conv = SAGEConv(in_channels, out_channels, aggr="sum", bias=False, root_weight=False)

    @property
    def mode(self) -> str:
        r"""What the output means (:mod:`edgeattr.modes`): one binary logit, or one logit per class."""
        return "binary_classification" if self.conv.out_channels == 1 else "multiclass_classification"

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns logits of shape ``(N, out_channels)``."""
        return self.conv(x, edge_index)


#: Architectures of the paper's grid: GCN, GATv2 with 4 heads, GIN (GINE where edges have features).
ARCHITECTURES = ("GCN", "GAT", "GIN")
#: The paper's model sizes.
HIDDEN, DROPOUT, HEADS = 32, 0.5, 4


class GINE(BasicGNN):
    r"""GIN over edge features: :class:`~torch_geometric.nn.GINEConv` layers with a 2-layer MLP each.

    .. math:: h_i' = \mathrm{MLP}\big((1 + \epsilon) h_i + \textstyle\sum_{j \to i} \mathrm{ReLU}(h_j + W e_{ji})\big)

    Takes the arguments of :class:`~torch_geometric.nn.models.GIN`, plus
    ``edge_dim`` (the edge feature size).
    """

    supports_edge_weight: Final[bool] = False
    supports_edge_attr: Final[bool] = True
    supports_norm_batch: Final[bool]  # type: ignore[misc]  # set in BasicGNN.__init__, declared Final as PyG's GIN does

    def init_conv(self, in_channels: int, out_channels: int, **kwargs: Any) -> MessagePassing:
        mlp = MLP([in_channels, out_channels, out_channels], act=self.act, act_first=self.act_first,
                  norm=self.norm, norm_kwargs=self.norm_kwargs)
        return GINEConv(mlp, **kwargs)


class SGC(BasicGNN):
    r"""A linear GNN: stacked :class:`~torch_geometric.nn.SGConv` layers (``K = 1``), identity activation.

    .. math:: H^{(l+1)} = \hat{A} H^{(l)} \Theta^{(l)} + b^{(l)}, \quad \hat{A} = D^{-1/2}(A + I)D^{-1/2}

    so the output is affine in every single layerwise edge weight (the paper's linear check).
    """

    supports_edge_weight: Final[bool] = True
    supports_edge_attr: Final[bool] = False
    supports_norm_batch: Final[bool]  # type: ignore[misc]  # set in BasicGNN.__init__, declared Final as PyG's GIN does

    def init_conv(self, in_channels: int, out_channels: int, **kwargs: Any) -> MessagePassing:
        return SGConv(in_channels, out_channels, K=1, **kwargs)


class GraphClassifier(torch.nn.Module):
    r"""A graph-level binary classifier: a GNN with one output channel, mean-pooled over each graph.

    .. math:: z_G = \frac{1}{|V_G|} \sum_{i \in V_G} \mathrm{GNN}(X, A)_i

    Args:
        gnn (BasicGNN): A PyG model with ``out_channels=1``.
    """

    def __init__(self, gnn: BasicGNN) -> None:
        super().__init__()
        self.gnn = gnn

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None, batch: Optional[Tensor] = None) -> Tensor:
        r"""Returns one logit per graph, shape ``(num_graphs, 1)``."""
        edge_attr = edge_attr if self.gnn.supports_edge_attr else None
        return global_mean_pool(self.gnn(x, edge_index, edge_attr=edge_attr, batch=batch), batch)


def output_mode(task: str) -> str:
    r"""What the output of :func:`build_model`'s models means (:mod:`edgeattr.modes`): class logits
    for node tasks, one binary logit for graph tasks."""
    return "binary_classification" if task == "graph" else "multiclass_classification"


def build_model(architecture: str, in_channels: int, out_channels: int, depth: int, task: str = "node", edge_dim: int = 0) -> torch.nn.Module:
    r"""One of the paper's models, built from PyG's model classes as the paper builds it.

    Node tasks: ``GCN``, ``GAT`` (GATv2, 4 heads) or ``GIN`` with ``depth``
    layers, hidden size 32, ReLU, dropout 0.5; the last layer outputs the
    class logits. Graph tasks: the same with LayerNorm after each hidden
    layer, one output channel and mean pooling (:class:`GraphClassifier`);
    edge features go to GATv2 (``edge_dim``) and GIN becomes :class:`GINE`.
    ``SGC`` is the linear model of :class:`SGC` (no activation).

    Args:
        architecture (str): ``"GCN"``, ``"GAT"``, ``"GIN"`` or ``"SGC"``.
        in_channels (int): Node feature size.
        out_channels (int): Classes (node tasks); ignored for graph tasks (one logit).
        depth (int): Message-passing layers :math:`L \ge 1`.
        task (str, optional): ``"node"`` or ``"graph"``. (default: ``"node"``)
        edge_dim (int, optional): Edge feature size of a graph task. (default: ``0``)

    Returns:
        torch.nn.Module: ``model(x, edge_index)`` (node) or
        ``model(x, edge_index, edge_attr=None, batch=None)`` (graph).
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    if task not in ("node", "graph"):
        raise ValueError(f"task must be 'node' or 'graph', got {task!r}")
    graph = task == "graph"
    options: Dict[str, Any] = dict(hidden_channels=HIDDEN, num_layers=depth, out_channels=1 if graph else out_channels, dropout=DROPOUT)
    if graph:
        options["norm"] = "LayerNorm"
    if architecture == "GCN":
        gnn: BasicGNN = GCN(in_channels, act="relu", **options)
    elif architecture == "GAT":
        extra = {"edge_dim": edge_dim} if graph and edge_dim else {}
        gnn = GAT(in_channels, act="relu", v2=True, heads=HEADS, **options, **extra)
    elif architecture == "GIN":
        gnn = GINE(in_channels, act="relu", edge_dim=edge_dim, **options) if graph and edge_dim else GIN(in_channels, act="relu", **options)
    elif architecture == "SGC":
        gnn = SGC(in_channels, act=None, **options)
    else:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)} or SGC")
    return GraphClassifier(gnn) if graph else gnn

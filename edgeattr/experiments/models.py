r"""Models of the paper's experiments, written the way PyG users write them."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import SAGEConv


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

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        r"""Returns logits of shape ``(N, out_channels)``."""
        return self.conv(x, edge_index)

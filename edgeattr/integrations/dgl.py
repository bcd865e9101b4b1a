r"""DGL's explainer calls, ``explain_node`` and ``explain_graph``, for every edgeattr method."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional, Tuple

import dgl
import torch
from torch import Tensor

from edgeattr.attribution._common import TargetType
from edgeattr.explaining import explain
from edgeattr.explanation import EdgeExplanation
from edgeattr.methods import method_named
from edgeattr.modes import check_mode


class DGLExplainer:
    r"""Edge explanations of an unmodified DGL model, called as ``dgl.nn.explain.GNNExplainer`` is.

    ``explain_node`` returns the new id of the centre node, its
    ``num_hops``-hop in-subgraph from :func:`dgl.khop_in_subgraph`, and an edge
    mask over that subgraph's edges; ``explain_graph`` returns an edge mask over
    the graph's edges, as DGL's explainer does (which also returns a feature
    mask; edgeattr's methods attribute edges only). The model needs no
    ``eweight`` argument. Each mask is the attribution of
    :func:`edgeattr.explain` on the whole graph, mapped through the subgraph's
    ``dgl.EID``:

    .. math::
        \texttt{edge\_mask}_k = a_{\texttt{sg.edata[dgl.EID]}[k]}

    so a node's mask is the same whatever subgraph it is returned on. Unlike
    DGL's GNNExplainer, the model is left in the training mode it was in.

    Args:
        model (torch.nn.Module): The model, ``model(graph, feat, **kwargs)``, unchanged.
        num_hops (int, optional): Hops of the returned subgraph. Default: the
            model's number of message-passing calls, the subgraph every
            message-carrying edge lies in. Attributed edges outside the
            subgraph (with a smaller value, or occlusion with
            ``mode='remove'`` under degree normalisation) are dropped with a warning.
        method (str, optional): A name of :data:`edgeattr.methods.METHODS`.
            For the layerwise methods the mask is the sum over layers; use
            :func:`edgeattr.explain` for the layers. (default: ``'gradient_sign'``)
        target (int, optional): The class explained; ``None`` is the predicted one.
        mode (str, optional): What the model's output means (see
            :mod:`edgeattr.modes`); required for a single output column.
        options (Mapping, optional): Options of the method's class, as for
            :func:`edgeattr.explain`: e.g. ``{'eps': 1e-3}`` for
            ``gradient_sign``, ``{'epochs': 300, 'lr': 0.1}`` for
            ``gnnexplainer``, ``{'mode': 'remove'}`` for the occlusions.

    Example::

        >>> explainer = DGLExplainer(model, num_hops=2)
        >>> new_center, sg, edge_mask = explainer.explain_node(10, g, g.ndata["feat"])
        >>> edge_mask.shape == (sg.num_edges(),)
        >>> explainer.explain_graph(graph, graph.ndata["feat"]).shape == (graph.num_edges(),)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        num_hops: Optional[int] = None,
        *,
        method: str = "gradient_sign",
        target: TargetType = None,
        mode: Optional[str] = None,
        options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if num_hops is not None and num_hops < 0:
            raise ValueError(f"num_hops must be a non-negative integer, got {num_hops}")
        options = dict(options or {})
        method_named(method).split_options(options)  # an unknown method or option fails here, not on first use
        self.model, self.num_hops, self.method, self.target, self.options = model, num_hops, method, target, options
        self.mode = check_mode(mode)

    def explain_node(self, node_id: int, graph: dgl.DGLGraph, feat: Tensor, **kwargs: Any) -> Tuple[Tensor, dgl.DGLGraph, Tensor]:
        r"""Explains the prediction for node ``node_id`` by the edges of its in-subgraph.

        Args:
            node_id (int): The node to explain.
            graph (dgl.DGLGraph): A homogeneous graph.
            feat (Tensor): Node features, ``(N, D)``.
            **kwargs: Further keyword arguments of the model call; tensors of
                ``N`` or ``E`` rows are node or edge data.

        Returns:
            ``(new_center, sg, edge_mask)``: the id of ``node_id`` in ``sg``
            (a tensor of one id), the ``num_hops``-hop in-subgraph of
            :func:`dgl.khop_in_subgraph` (with ``dgl.NID`` and ``dgl.EID``), and
            the attribution of its edges, ``(sg.num_edges(),)``.
        """
        explanation = self._explain(graph, feat, kwargs, index=node_id, task="node")
        hops = self.num_hops if self.num_hops is not None else len(explanation.layer_names)
        sg, new_center = dgl.khop_in_subgraph(graph, node_id, hops)
        sg_edges = sg.edata[dgl.EID].long()
        outside = torch.ones(graph.num_edges(), dtype=torch.bool, device=sg_edges.device)
        outside[sg_edges] = False
        dropped = int((explanation.edge_mask[outside] != 0).sum())
        if dropped:
            warnings.warn(
                f"{dropped} edges with non-zero attribution lie outside the {hops}-hop in-subgraph of node {node_id} "
                f"and are not returned (edges beyond num_hops, or, with mode='remove', edges that set a degree the "
                f"model normalises by); edgeattr.explain returns the attribution of every edge",
                stacklevel=2,
            )
        return new_center, sg, explanation.edge_mask[sg_edges]

    def explain_graph(self, graph: dgl.DGLGraph, feat: Tensor, **kwargs: Any) -> Tensor:
        r"""Explains the prediction for the graph ``graph`` by its edges.

        Args:
            graph (dgl.DGLGraph): One homogeneous graph (a batch of one).
            feat (Tensor): Node features, ``(N, D)``.
            **kwargs: Further keyword arguments of the model call.

        Returns:
            Tensor: The attribution of every edge of ``graph``, ``(graph.num_edges(),)``.
        """
        if graph.batch_size != 1:
            raise ValueError(
                f"explain_graph explains one graph, got a batch of {graph.batch_size}: pass dgl.unbatch(graph)[i], "
                f"or edgeattr.explain(model, graph, feat, index=i, task='graph')"
            )
        return self._explain(graph, feat, kwargs, index=None, task="graph").edge_mask

    def _explain(self, graph: dgl.DGLGraph, feat: Tensor, kwargs: dict, index: Optional[int], task: str) -> EdgeExplanation:
        return explain(
            self.model, graph, feat, method=self.method, index=index, target=self.target, task=task, mode=self.mode,
            options=self.options, **kwargs
        )


__all__ = ["DGLExplainer"]

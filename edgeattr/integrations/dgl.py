r"""DGL's explainer calls, ``explain_node`` and ``explain_graph``, for every edgeattr method."""

from __future__ import annotations

import warnings
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base.typed import EdgeType
from edgeattr.attribution._common import TargetType
from edgeattr.explaining import explain
from edgeattr.explanation import EdgeExplanation, HeteroEdgeExplanation, node_mask_of
from edgeattr.methods import method_named
from edgeattr.modes import check_mode

#: An edge mask: ``(E,)`` for a homogeneous graph, ``{canonical edge type: (E_t,)}`` for a heterograph.
EdgeMask = Union[Tensor, Dict[EdgeType, Tensor]]


class DGLExplainer:
    r"""Edge explanations of an unmodified DGL model, called as ``dgl.nn.explain.GNNExplainer`` is.

    ``explain_node`` returns the new id of the centre node, its
    ``num_hops``-hop in-subgraph from :func:`dgl.khop_in_subgraph`, and an edge
    mask over that subgraph's edges; ``explain_graph`` returns an edge mask over
    the graph's edges, as DGL's explainer does. With ``features=True`` both
    also return DGL's feature mask before the edge mask, as DGL's
    ``GNNExplainer`` does: ``(new_center, sg, feat_mask, edge_mask)`` and
    ``(feat_mask, edge_mask)``, ``feat_mask`` of shape ``(D,)``, one value per
    feature shared by all nodes (see below). The model needs no
    ``eweight`` argument. Each mask is the attribution of
    :func:`edgeattr.explain` on the whole graph, mapped through the subgraph's
    ``dgl.EID``:

    .. math::
        \texttt{edge\_mask}_k = a_{\texttt{sg.edata[dgl.EID]}[k]}

    so a node's mask is the same whatever subgraph it is returned on. Unlike
    DGL's GNNExplainer, the model is left in the training mode it was in.

    The feature mask is :func:`edgeattr.explain`'s with ``features=True``
    summed over the nodes of the whole graph,
    :math:`\texttt{feat\_mask}_d = \sum_v a_{v,d}` (PyG's
    ``'common_attributes'``, :func:`edgeattr.explanation.node_mask_of`), e.g.
    :math:`\sum_v \partial z / \partial x_{v,d}` for ``'edge_gradient'``; for
    ``'gnnexplainer'`` it is the mask :math:`\sigma(\phi)` of shape ``(D,)``
    it learns with the edge mask on :math:`x \odot \sigma(\phi)`, as DGL's
    does (with PyG's feature penalties, see :class:`~edgeattr.GNNExplainer`).

    Heterographs (several node or edge types) are explained as DGL's
    ``HeteroGNNExplainer`` explains them: ``explain_node(node_id, graph,
    feat, ntype=...)`` takes the node's type and a dict of features per node
    type, the model returns a dict of outputs per node type (for
    ``explain_node``) or one row (for ``explain_graph``), and every edge mask
    is a dict keyed by canonical edge type, ``{(src, relation, dst): (E_t,)}``,
    through :class:`~edgeattr.DGLHeteroAdapter`.

    Args:
        model (torch.nn.Module): The model, ``model(graph, feat, **kwargs)``, unchanged.
        num_hops (int, optional): Hops of the returned subgraph. Default: the
            model's number of message-passing calls, the subgraph every
            message-carrying edge lies in (on a heterograph each relation
            makes its own call, so this bound exceeds the model's hops: pass
            ``num_hops`` for the subgraph of that many hops). Attributed
            edges outside the subgraph (with a smaller value, or occlusion
            with ``mode='remove'`` under degree normalisation) are dropped
            with a warning.
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
        features (bool, optional): Also return the feature mask, for
            ``'edge_gradient'``, ``'layerwise_gradient'`` and
            ``'gnnexplainer'`` on homogeneous graphs (DGL's
            ``HeteroGNNExplainer`` learns feature masks per node type).
            (default: ``False``)

    Example::

        >>> explainer = DGLExplainer(model, num_hops=2)
        >>> new_center, sg, edge_mask = explainer.explain_node(10, g, g.ndata["feat"])
        >>> edge_mask.shape == (sg.num_edges(),)
        >>> explainer.explain_graph(graph, graph.ndata["feat"]).shape == (graph.num_edges(),)
        >>> new_center, sg, edge_mask = explainer.explain_node(3, hg, feats, ntype="user")
        >>> edge_mask[("user", "follows", "user")].shape == (sg.num_edges(("user", "follows", "user")),)
        >>> both = DGLExplainer(model, num_hops=2, method="edge_gradient", features=True)
        >>> new_center, sg, feat_mask, edge_mask = both.explain_node(10, g, g.ndata["feat"])
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
        features: bool = False,
    ) -> None:
        if num_hops is not None and num_hops < 0:
            raise ValueError(f"num_hops must be a non-negative integer, got {num_hops}")
        options = dict(options or {})
        if features and "node_mask_type" in options:
            raise ValueError("DGLExplainer's feat_mask has one value per feature, as DGL's: use edgeattr.explain for other node mask types")
        if features and method == "gnnexplainer":
            options["node_mask_type"] = "common_attributes"  # DGL's feature mask: one value per feature
        method_named(method, features=features).split_options(options)  # an unknown method or option fails here, not on first use
        self.model, self.num_hops, self.method, self.target, self.options = model, num_hops, method, target, options
        self.mode = check_mode(mode)
        self.features = features

    def explain_node(
        self, node_id: int, graph: dgl.DGLGraph, feat: Any, *, ntype: Optional[str] = None, **kwargs: Any
    ) -> Union[Tuple[Tensor, dgl.DGLGraph, EdgeMask], Tuple[Tensor, dgl.DGLGraph, Tensor, EdgeMask]]:
        r"""Explains the prediction for node ``node_id`` by the edges of its in-subgraph.

        Args:
            node_id (int): The node to explain (its id among the nodes of
                ``ntype`` on a heterograph).
            graph (dgl.DGLGraph): A homogeneous graph or a heterograph.
            feat (Tensor or dict): Node features, ``(N, D)``; on a heterograph
                a dict of ``(N_t, D_t)`` per node type.
            ntype (str, optional): The node type of ``node_id``; required on a
                heterograph, whose model returns a dict of outputs per node
                type (as for DGL's ``HeteroGNNExplainer.explain_node``).
            **kwargs: Further keyword arguments of the model call; tensors of
                ``N`` or ``E`` rows are node or edge data.

        Returns:
            ``(new_center, sg, edge_mask)``: the id of ``node_id`` in ``sg``
            (a tensor of one id), the ``num_hops``-hop in-subgraph of
            :func:`dgl.khop_in_subgraph` (with ``dgl.NID`` and ``dgl.EID``), and
            the attribution of its edges, ``(sg.num_edges(),)``; on a
            heterograph ``{canonical edge type: (sg.num_edges(t),)}``. With
            ``features=True``, ``(new_center, sg, feat_mask, edge_mask)``,
            ``feat_mask`` ``(D,)``.
        """
        hetero = _is_heterograph(graph)
        _check_ntype(graph, ntype, hetero)
        explanation = self._explain(graph, feat, kwargs, index=node_id, task="node", ntype=ntype if hetero else None)
        hops = self.num_hops if self.num_hops is not None else len(explanation.layer_names)
        if hetero:
            sg, centers = dgl.khop_in_subgraph(graph, {ntype: node_id}, hops)
            masks = _per_edge_type(explanation)
            sg_edges = {t: sg.edges[t].data[dgl.EID].long() for t in sg.canonical_etypes}
            return centers[ntype], sg, self._on_subgraph(masks, sg_edges, hops, node_id)
        sg, new_center = dgl.khop_in_subgraph(graph, node_id, hops)
        kept = self._on_subgraph({None: explanation.edge_mask}, {None: sg.edata[dgl.EID].long()}, hops, node_id)
        if self.features:
            return new_center, sg, _feature_mask(explanation), kept[None]
        return new_center, sg, kept[None]

    def explain_graph(self, graph: dgl.DGLGraph, feat: Any, **kwargs: Any) -> Union[EdgeMask, Tuple[Tensor, EdgeMask]]:
        r"""Explains the prediction for the graph ``graph`` by its edges.

        Args:
            graph (dgl.DGLGraph): One graph (a batch of one), homogeneous or a heterograph.
            feat (Tensor or dict): Node features, ``(N, D)``; on a heterograph
                a dict of ``(N_t, D_t)`` per node type.
            **kwargs: Further keyword arguments of the model call.

        Returns:
            The attribution of every edge of ``graph``, ``(graph.num_edges(),)``;
            on a heterograph ``{canonical edge type: (graph.num_edges(t),)}``.
            With ``features=True``, ``(feat_mask, edge_mask)``, ``feat_mask`` ``(D,)``.
        """
        if graph.batch_size != 1:
            raise ValueError(
                f"explain_graph explains one graph, got a batch of {graph.batch_size}: pass dgl.unbatch(graph)[i], "
                f"or edgeattr.explain(model, graph, feat, index=i, task='graph')"
            )
        explanation = self._explain(graph, feat, kwargs, index=None, task="graph", ntype=None)
        if _is_heterograph(graph):
            return _per_edge_type(explanation)
        return (_feature_mask(explanation), explanation.edge_mask) if self.features else explanation.edge_mask

    def _explain(self, graph: dgl.DGLGraph, feat: Any, kwargs: dict, index: Optional[int], task: str, ntype: Optional[str]) -> EdgeExplanation:
        adapter_kwargs: Dict[str, Any] = {} if ntype is None else {"ntype": ntype}
        if self.features:  # the features are feat, the argument after the graph
            adapter_kwargs.update(features=True, features_arg=1)
        return explain(
            self.model, graph, feat, method=self.method, index=index, target=self.target, task=task, mode=self.mode,
            options=self.options, **adapter_kwargs, **kwargs
        )

    @staticmethod
    def _on_subgraph(masks: Dict[Any, Tensor], sg_edges: Dict[Any, Tensor], hops: int, node_id: int) -> Dict[Any, Tensor]:
        """Each mask on the subgraph's edges (``sg_edges``: their ids in the graph, per key), warning of attributions left out."""
        dropped = 0
        for key, mask in masks.items():
            outside = torch.ones(mask.numel(), dtype=torch.bool, device=mask.device)
            outside[sg_edges[key]] = False
            dropped += int((mask[outside] != 0).sum())
        if dropped:
            warnings.warn(
                f"{dropped} edges with non-zero attribution lie outside the {hops}-hop in-subgraph of node {node_id} "
                f"and are not returned (edges beyond num_hops, or, with mode='remove', edges that set a degree the "
                f"model normalises by); edgeattr.explain returns the attribution of every edge",
                stacklevel=3,
            )
        return {key: mask[sg_edges[key]] for key, mask in masks.items()}


def _is_heterograph(graph: Any) -> bool:
    """Whether ``graph`` has several node or edge types (what DGLAdapter refuses and DGLHeteroAdapter takes)."""
    return isinstance(graph, dgl.DGLGraph) and not graph.is_homogeneous


def _check_ntype(graph: dgl.DGLGraph, ntype: Optional[str], hetero: bool) -> None:
    """A heterograph needs the explained node's type; a homogeneous graph has its one."""
    if hetero and ntype is None:
        raise ValueError(
            f"the graph is a heterograph with node types {graph.ntypes}: pass ntype=, the type of the node to explain, "
            f"e.g. explain_node(node_id, graph, feat, ntype={graph.ntypes[0]!r})"
        )
    if hetero and ntype not in graph.ntypes:
        raise ValueError(f"ntype={ntype!r} is none of the graph's node types {graph.ntypes}")
    if not hetero and ntype is not None and ntype not in graph.ntypes:
        raise ValueError(f"the graph is homogeneous, with the one node type {graph.ntypes[0]!r}: leave ntype= out")


def _feature_mask(explanation: EdgeExplanation) -> Tensor:
    """DGL's feature mask ``(D,)``: the explanation's feature mask summed over nodes (GNNExplainer's is one row already)."""
    feature_mask = explanation.feature_mask
    assert feature_mask is not None  # explained with features=True
    return node_mask_of(feature_mask.reshape(feature_mask.size(0), -1), "common_attributes").view(-1)


def _per_edge_type(explanation: EdgeExplanation) -> Dict[EdgeType, Tensor]:
    """The edge masks of a heterograph's explanation, keyed by canonical edge type."""
    if not isinstance(explanation, HeteroEdgeExplanation):
        raise TypeError(f"expected explain() to give a HeteroEdgeExplanation for a heterograph, got {type(explanation).__name__}")
    return explanation.edge_mask_dict


__all__ = ["DGLExplainer"]

r"""One call from a model and its inputs to an :class:`EdgeExplanation`, for PyG and DGL alike."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch
from torch import Tensor

from edgeattr.adapters import EdgeMaskAdapter
from edgeattr.adapters.base.typed import EdgeType
from edgeattr.attribution._common import TargetType, resolve_target
from edgeattr.explanation import EdgeExplanation, HeteroEdgeExplanation, node_mask_of
from edgeattr.methods import method_named
from edgeattr.store import FolderLike, content_fingerprint, read_target


def explain(
    model: torch.nn.Module,
    *inputs: Any,
    method: str = "gradient_sign",
    index: Optional[int] = None,
    target: TargetType = None,
    layerwise: bool = False,
    task: Optional[str] = None,
    mode: Optional[str] = None,
    verify: bool = True,
    options: Optional[Mapping[str, Any]] = None,
    features: bool = False,
    features_arg: Union[None, int, str] = None,
    **model_kwargs: Any,
) -> EdgeExplanation:
    r"""Explains one prediction of an unmodified PyG or DGL model by its edges.

    The model is called as your code calls it, and the first input picks
    the adapter the method runs on:

    ============================================  =============================================  ==========================
    first input                                   model call and adapter                         explanation
    ============================================  =============================================  ==========================
    a tensor, or a PyG ``Data`` / ``Batch``       ``model(x, edge_index, ...)``:                 :class:`EdgeExplanation`
                                                  :class:`~edgeattr.PyGAdapter`
    a dict (``x_dict``, ``edge_index_dict``)      ``model(x_dict, edge_index_dict, ...)``:       :class:`HeteroEdgeExplanation`
    or a ``HeteroData``                           :class:`~edgeattr.PyGHeteroAdapter`
                                                  (a ``HeteroData`` is passed as
                                                  ``data.x_dict, data.edge_index_dict``)
    a ``dgl.DGLGraph``                            ``model(graph, feat, ...)``:                   :class:`EdgeExplanation`
                                                  :class:`~edgeattr.DGLAdapter`
    a DGL heterograph (several node or edge       ``model(graph, feats, ...)``:                  :class:`HeteroEdgeExplanation`
    types)                                        :class:`~edgeattr.DGLHeteroAdapter`
    a list of DGL blocks (``is_block``)           ``model(blocks, feat, ...)``:                  :class:`EdgeExplanation`
                                                  :class:`~edgeattr.DGLBlockAdapter`             over ``parent_graph``
    ============================================  =============================================  ==========================

    The method runs on that adapter at the all-ones mask, exactly as the
    attribution classes do:

    .. math::
        \texttt{edge\_mask} = \texttt{Method}(\texttt{Adapter}(\text{model}, \text{inputs},
        \text{index}))\texttt{.attribute}(\mathbf{1})[0]

    With ``layerwise=True`` (implied by ``'layerwise_gradient'`` and
    ``'layerwise_occlusion'``) the same class also runs on a layerwise adapter
    and fills ``layer_masks`` ``(L, E)``. For the two layerwise methods,
    ``edge_mask`` is the sum of ``layer_masks`` over layers (for
    ``'layerwise_gradient'`` that is the input-level gradient); for the
    others it is the input-level attribution.

    Args:
        model (torch.nn.Module): The model, unchanged; it is left as it was.
        *inputs: The model's positional inputs: ``x, edge_index`` (PyG),
            ``x_dict, edge_index_dict`` or a ``HeteroData`` (heterogeneous
            PyG), ``graph, feat`` (DGL, also a heterograph and a dict of
            features per node type), or ``blocks, feat`` (DGL blocks).
        method (str, optional): A name of :data:`edgeattr.methods.METHODS`:
            ``'edge_gradient'``, ``'gradient_sign'``, ``'edge_occlusion'``,
            ``'layerwise_gradient'``, ``'layerwise_occlusion'`` or
            ``'gnnexplainer'``. (default: ``'gradient_sign'``)
        index (int, optional): The node to explain (node task), the graph
            of a batch (graph task; ``None`` for a single graph), or the scored
            pair (edge task: its column of ``edge_label_index``, its edge id
            in a DGL pair graph). On a
            heterogeneous graph, the row of the model's output (of
            ``node_type`` / ``ntype`` where it returns one per node type); on
            DGL blocks, the seed node's id in ``parent_graph`` (required).
        target (int, optional): The class explained (or the output column, see
            :mod:`edgeattr.modes`); ``None`` is the class the model predicts.
        layerwise (bool, optional): Also attribute per message-passing call.
            (default: ``False``)
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'``. Default:
            ``'edge'`` for PyG models given an ``edge_label_index``, ``'graph'``
            for PyG models given a ``batch`` and for batches of several DGL
            graphs, else ``'node'``. A graph classifier of a single graph needs
            ``task='graph'``; a DGL link predictor, called with a pair graph,
            ``task='edge'`` (see the link-prediction page of the docs). On a
            heterogeneous graph it only names what ``index`` is (default:
            ``'graph'`` without ``index``, else ``'node'``), the output's row;
            DGL blocks explain a seed node, or a pair graph's edge with
            ``task='edge'``.
        mode (str, optional): What the output means, one of PyG's
            ``ModelConfig`` modes (see :mod:`edgeattr.modes`); required for a
            model with a single output column.
        verify (bool, optional): Check the adapter's shortcuts against the
            model's own output, falling back to the exact path where they
            differ (see :class:`~edgeattr.PyGAdapter`). (default: ``True``)
        options (Mapping, optional): Options of the method's class, e.g.
            ``{'eps': 1e-3}`` for ``gradient_sign``, ``{'epochs': 200}`` for
            ``gnnexplainer``, ``{'mode': 'remove'}`` for the occlusions.
        features (bool, optional): Also attribute the node features: the
            method runs on the adapter's inputs ``(mask, x)`` (an adapter
            built with ``features=True``) and fills ``feature_mask`` and
            ``node_mask``. For ``'edge_gradient'``, ``'layerwise_gradient'``
            and ``'gnnexplainer'``, on one graph or a batch (PyG tensors or
            ``Data``, a DGL graph). (default: ``False``)
        features_arg (int or str, optional): With ``features``, the position
            or name of the node features among ``inputs`` and
            ``model_kwargs`` (e.g. ``'x'``), where the model takes several
            floating arguments with one row per node.
        **model_kwargs: Keyword arguments of the model call (``batch``,
            ``edge_attr``, ...), and the adapter's own: ``node_type=``
            (:class:`~edgeattr.PyGHeteroAdapter`) or ``ntype=``
            (:class:`~edgeattr.DGLHeteroAdapter`), the node type of the
            explained row for a model returning outputs per node type; and
            ``parent_graph=`` for DGL blocks (required), the graph they were
            sampled from.

    Returns:
        EdgeExplanation: ``edge_mask`` ``(E,)`` over the edges of the input
        graph (columns of ``edge_index``; DGL edge ids; for blocks, the parent
        graph's edge ids), ``layer_masks`` ``(L, E)`` or ``None``, with
        ``features`` also ``feature_mask`` ``(N, F)`` and ``node_mask``
        ``(N,)``, and what was explained. For a heterogeneous graph a
        :class:`~edgeattr.explanation.HeteroEdgeExplanation`, whose
        ``edge_mask_dict`` keys the masks by edge type as the framework keys
        edge types, ``(src, relation, dst)``.

    Raises:
        ValueError: for an unknown method, an ``index`` naming several
            targets (an explanation holds one; explain them in turn), DGL
            blocks without ``index`` or ``parent_graph``, or ``features`` with
            a method or an input that attributes edges only.

    Example::

        >>> explanation = explain(model, data.x, data.edge_index, index=10)
        >>> explanation.topk(5)
        >>> explanation.plot("node10.png")
        >>> hetero = explain(model, data.x_dict, data.edge_index_dict, index=3)
        >>> hetero.edge_mask_dict[("paper", "cites", "paper")]
        >>> explain(model, data.x, data.edge_index, index=10, method="edge_gradient", features=True).node_mask
    """
    chosen = method_named(method, features=features)
    options = dict(options or {})
    route = input_route(model, inputs, model_kwargs)
    if task == "edge" and not route.takes_task:
        _check_pairs_given(inputs, model_kwargs)
    arguments = {**route.settings(index, task, model_kwargs), **model_kwargs}
    if features_arg is not None and not features:
        raise ValueError(f"features_arg={features_arg!r} names the node features to attribute: pass features=True too")
    with_features = {"features": True, **({} if features_arg is None else {"features_arg": features_arg})} if features else {}

    def adapter_of(layerwise_masks: bool, node_features: Mapping[str, Any]) -> EdgeMaskAdapter:
        return route.adapter(model, *route.inputs, layerwise=layerwise_masks, mode=mode, verify=verify, **node_features, **arguments)

    adapter = adapter_of(chosen.layerwise, with_features)
    with torch.no_grad():
        prediction = adapter(adapter.ones())
    if prediction.size(0) != 1:
        raise ValueError(
            f"index names {prediction.size(0)} targets; an EdgeExplanation holds one: explain them one at a time, "
            f"or use the attribution classes on an adapter for all at once"
        )
    explained = int(resolve_target(adapter, adapter.ones(), target).targets[0])
    attributions = chosen.attribute(adapter, target=explained, **options)
    if features:
        attribution, feature_mask = attributions[0][0].detach(), attributions[1][0].detach()
    else:
        attribution, feature_mask = attributions[0].detach(), None
    if chosen.layerwise:
        layer_masks, edge_mask = attribution, attribution.sum(0)
    elif layerwise:
        layer_masks = replace(chosen, layerwise=True).attribute(adapter_of(True, {}), target=explained, **options)[0].detach()
        edge_mask = attribution
    else:
        layer_masks, edge_mask = None, attribution
    attributed = _attributed(adapter, edge_mask, layer_masks, explained, prediction[0], method, feature_mask)
    return route.explanation(adapter, arguments, task, attributed)


def read_explanation(folder: FolderLike, model: torch.nn.Module, *inputs: Any, index: int, **model_kwargs: Any) -> EdgeExplanation:
    r"""One target's :class:`EdgeExplanation` from a run of :func:`~edgeattr.explain_all`, without explaining it again.

    The attributions are the run's (read from the target's shard alone); what
    :func:`explain` gives beside them (the prediction, the computation
    subgraph, the layers) comes from one pass of the model on the same inputs,
    which must be the run's: the fingerprint of the model's parameters, the
    inputs and the run's settings is checked against its manifest.

    Args:
        folder (str, Path or RunFolder): The run's folder: a local path or a filesystem URI.
        model (torch.nn.Module): The run's model.
        *inputs: The run's inputs, as passed to :func:`~edgeattr.explain_all`.
        index (int): The target's id (node, graph or pair id) among the run's targets.
        **model_kwargs: The run's keyword arguments of the model call.

    Returns:
        EdgeExplanation: ``edge_mask`` ``(E,)`` (and ``layer_masks`` ``(L, E)`` for a
        layerwise run) as the run wrote them: for a run with ``topk``, the
        target's top edges, and zero elsewhere.

    Raises:
        ValueError: if the model or inputs differ from the run's, the run has
            no such target, or its shard is not written yet.

    Example::

        >>> explain_all(model, data.x, data.edge_index, out="runs/cora")
        >>> read_explanation("runs/cora", model, data.x, data.edge_index, index=10).topk(5)
    """
    manifest, explained, values = read_target(folder, index)
    settings = manifest.settings
    if content_fingerprint(model, (*inputs, *model_kwargs.values()), settings) != manifest.fingerprint:
        raise ValueError(
            f"the model or its inputs differ from those of the run in {folder} (its fingerprint of the parameters, "
            f"inputs and settings does not match): pass the model and inputs the run explained"
        )
    route = input_route(model, inputs, model_kwargs)
    arguments = {"index": index, "task": manifest.task, **model_kwargs}
    adapter = route.adapter(model, *route.inputs, layerwise=manifest.layerwise, mode=settings["mode"], **arguments)
    with torch.no_grad():
        prediction = adapter(adapter.ones())[0]
    edge_mask = values.sum(0) if manifest.layerwise else values
    layer_masks = values if manifest.layerwise else None
    attributed = _attributed(adapter, edge_mask, layer_masks, explained, prediction, settings["method"], None)
    return route.explanation(adapter, arguments, manifest.task, attributed)


def _attributed(
    adapter: EdgeMaskAdapter, edge_mask: Tensor, layer_masks: Optional[Tensor], explained: int, prediction: Tensor, method: str,
    feature_mask: Optional[Tensor],
) -> Dict[str, Any]:
    """The fields of an explanation made on ``adapter`` (one target) beside those of its graph."""
    return dict(
        edge_mask=edge_mask,
        layer_masks=layer_masks,
        target=explained,
        prediction=prediction,
        method=method,
        computation_edges=adapter.edge_ids[adapter.message_edges],
        layer_names=[layer.name for i, layer in enumerate(adapter.layers) if i == 0 or layer.row != adapter.layers[i - 1].row],
        own_edge_layers=[layer.name for layer in adapter.layers if layer.own_edges],
        **_node_attributions(feature_mask, adapter.num_nodes),
    )


def _node_attributions(feature_mask: Optional[Tensor], num_nodes: int) -> Dict[str, Tensor]:
    """An explanation's ``feature_mask`` and, where it has one row per node, its ``node_mask`` (none without features)."""
    if feature_mask is None:
        return {}
    if feature_mask.size(0) != num_nodes:  # one mask shared by all nodes (GNNExplainer's 'common_attributes')
        return {"feature_mask": feature_mask}
    return {"feature_mask": feature_mask, "node_mask": node_mask_of(feature_mask.reshape(num_nodes, -1), "object").view(-1)}


@dataclass(frozen=True)
class InputRoute:
    """How :func:`explain` and :func:`~edgeattr.explain_all` bind one kind of input: the adapter, the inputs as it
    takes them, and the explanation's graph."""

    #: The adapter class.
    adapter: type
    #: The model's positional inputs, as the adapter takes them after the model.
    inputs: tuple
    #: The explanation from the built adapter: ``(adapter, its keyword arguments, explain()'s task, attributed fields)``.
    explanation: Callable[[Any, Dict[str, Any], Optional[str], Dict[str, Any]], EdgeExplanation]
    #: Whether the adapter takes ``task=`` (one graph or a batch); the others explain one output row.
    takes_task: bool = False
    #: Whether it explains a seed node of sampled blocks (needs ``index`` and ``parent_graph``).
    blocks: bool = False

    def settings(self, index: Any, task: Optional[str], model_kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        """The adapter's keyword arguments from explain()'s ``index`` and ``task``, checked."""
        if self.takes_task:
            return {"index": index, "task": task}
        if task not in (None, "node", "graph", "edge"):
            raise ValueError(f"task must be 'node', 'graph' or 'edge', got {task!r}")
        one = _single_id(index)
        if self.blocks:
            _check_blocks(one, task, model_kwargs)
            return {"index": one, "task": task}
        return {"index": one}


def input_route(model: torch.nn.Module, inputs: tuple, model_kwargs: Mapping[str, Any]) -> InputRoute:
    """The adapter for the inputs: DGL's for DGL graphs and blocks (also a DGL graph the model reads itself, named
    with ``graph=``, and a DGL model given no graph), PyG's hetero one for dicts or a HeteroData, else PyG's.

    Args:
        model (torch.nn.Module): The model.
        inputs (tuple): Its positional inputs, as :func:`explain` takes them.
        model_kwargs (Mapping): Its keyword arguments (``graph=`` names a DGL graph the model reads itself).

    Returns:
        InputRoute: The adapter class and how it is called and explained.
    """
    named = model_kwargs.get("graph")
    if _is_dgl(named):
        return _dgl_route((named,), inputs)
    if not inputs:
        raise ValueError("pass the model's inputs after the model: explain(model, x, edge_index, ...) or explain(model, graph, feat, ...)")
    first = inputs[0]
    if _is_dgl(first) or isinstance(first, (list, tuple)) and any(_is_dgl(block) for block in first):
        return _dgl_route(inputs, inputs)
    if not any(isinstance(value, Mapping) or _is_pyg_graph(value) for value in inputs) and any(_is_dgl(m) for m in model.modules()):
        return _dgl_route((None,), inputs)  # a DGL model that builds or reads its graph itself: DGL's adapter says which
    if _is_hetero_data(first):
        from edgeattr.adapters.pyg_hetero import PyGHeteroAdapter

        return InputRoute(PyGHeteroAdapter, (first.x_dict, first.edge_index_dict) + inputs[1:], _pyg_hetero_explanation)
    if isinstance(first, Mapping) or len(inputs) > 1 and isinstance(inputs[1], Mapping):
        from edgeattr.adapters.pyg_hetero import PyGHeteroAdapter

        if len(inputs) < 2:
            raise ValueError(
                "a heterogeneous PyG model is called with node features and edges per type: "
                "explain(model, x_dict, edge_index_dict, ...) or explain(model, hetero_data, ...)"
            )
        return InputRoute(PyGHeteroAdapter, inputs, _pyg_hetero_explanation)
    from edgeattr.adapters.pyg import PyGAdapter

    return InputRoute(PyGAdapter, inputs, _graph_explanation, takes_task=True)  # tensors, or a Data / Batch object


def _dgl_route(graphs: tuple, inputs: tuple) -> InputRoute:
    """DGL's adapters for the graph ``graphs[0]`` (the first input, or the one named with ``graph=``, or ``None``):
    blocks (a list of sampled blocks), a heterograph, or one graph (or batch)."""
    first = graphs[0]
    if first is None:
        from edgeattr.adapters.dgl import DGLAdapter

        return InputRoute(DGLAdapter, inputs, _graph_explanation, takes_task=True)
    if isinstance(first, (list, tuple)):
        if not all(_is_dgl(block) and block.is_block for block in first):
            raise TypeError(
                "the first input is a list: explain() takes a list of DGL blocks first (as a neighbour sampler "
                "returns them), every one a dgl.DGLGraph with is_block; pass a whole graph as one dgl.DGLGraph"
            )
        from edgeattr.adapters.dgl_blocks import DGLBlockAdapter

        return InputRoute(DGLBlockAdapter, inputs, _block_explanation, blocks=True)
    if first.is_block:
        raise ValueError(
            "the graph is a sampled block: pass the list of blocks the model takes, "
            "explain(model, blocks, feat, index=seed, parent_graph=g), with the seed's id in the parent graph g"
        )
    if not first.is_homogeneous:
        from edgeattr.adapters.dgl_hetero import DGLHeteroAdapter

        return InputRoute(DGLHeteroAdapter, inputs, _dgl_hetero_explanation)
    from edgeattr.adapters.dgl import DGLAdapter

    return InputRoute(DGLAdapter, inputs, _graph_explanation, takes_task=True)


def _is_dgl(value: Any) -> bool:
    """Whether ``value`` is a DGL object (without importing DGL)."""
    return type(value).__module__.split(".")[0] == "dgl"


def _is_pyg_graph(value: Any) -> bool:
    """Whether ``value`` is a PyG graph: an integer ``(2, E)`` edge_index or a ``Data`` object."""
    if isinstance(value, torch.Tensor):
        return value.dim() == 2 and value.size(0) == 2 and not value.is_floating_point()
    pyg_data = sys.modules.get("torch_geometric.data")
    return pyg_data is not None and isinstance(value, pyg_data.Data)


def _is_hetero_data(value: Any) -> bool:
    """Whether ``value`` is PyG's ``HeteroData`` or a batch of them (which only an imported PyG can make)."""
    pyg_data = sys.modules.get("torch_geometric.data")
    return pyg_data is not None and isinstance(value, pyg_data.HeteroData)


def _single_id(index: Any) -> Optional[int]:
    """One node or graph id from an int or a tensor of one id; several ids raise."""
    if index is None or isinstance(index, int) and not isinstance(index, bool):
        return index
    if isinstance(index, Tensor) and not index.is_floating_point() and index.dtype != torch.bool:
        if index.numel() != 1:
            raise ValueError(
                f"index names {index.numel()} targets; an EdgeExplanation holds one: explain them one at a time, "
                f"or use the attribution classes on an adapter"
            )
        return int(index)
    raise TypeError(f"index must be an integer id or a tensor of one id, got {index!r}")


def _check_pairs_given(inputs: tuple, model_kwargs: Mapping[str, Any]) -> None:
    """An edge task on heterogeneous graphs or blocks needs the pairs the model scores: ``edge_label_index=`` or a pair graph."""
    if "edge_label_index" in model_kwargs or any(_is_dgl(value) for value in (*inputs[1:], *model_kwargs.values()) if value is not model_kwargs.get("parent_graph")):
        return
    raise ValueError(
        "task='edge' explains a link predictor's score of a node pair: pass the pairs as the model takes them, "
        "edge_label_index=pairs (PyG) or the pair graph (DGL)"
    )


def _check_blocks(index: Optional[int], task: Optional[str], model_kwargs: Mapping[str, Any]) -> None:
    """Sampled blocks explain one seed node over the parent graph's edges, so both must be given."""
    if task == "graph":
        raise ValueError("DGL blocks explain a seed node (task='node', or left out) or a pair graph's edge (task='edge')")
    if index is None:
        raise ValueError("DGL blocks explain a seed node: pass index=, its id in the parent graph (a pair graph's edge id for task='edge')")
    if model_kwargs.get("parent_graph") is None:
        raise ValueError(
            "explain() on DGL blocks needs parent_graph=, the dgl.DGLGraph the blocks were sampled from: the "
            "explanation is over its edges (DGLBlockAdapter itself also takes num_edges= instead)"
        )


def _graph_explanation(adapter: Any, arguments: Dict[str, Any], task: Optional[str], attributed: Dict[str, Any]) -> EdgeExplanation:
    """The explanation of a PyGAdapter or DGLAdapter: over the graph's edges, in mask order."""
    target = int(adapter.targets[0])  # the one target's id, also where index came as a tensor of one id
    pair = None if adapter.pair_index is None else (int(adapter.pair_index[0, target]), int(adapter.pair_index[1, target]))
    return EdgeExplanation(edge_index=adapter.edge_index, index=target, task=adapter.task, num_nodes=adapter.num_nodes, pair=pair, **attributed)


def _block_explanation(adapter: Any, arguments: Dict[str, Any], task: Optional[str], attributed: Dict[str, Any]) -> EdgeExplanation:
    """The explanation of a DGLBlockAdapter: over the parent graph's edges, by parent edge id."""
    parent = arguments["parent_graph"]
    edge_index = torch.stack(parent.edges(order="eid")).to(attributed["edge_mask"].device)
    return EdgeExplanation(edge_index=edge_index, index=adapter.index, task=adapter.task, num_nodes=adapter.num_nodes, **attributed)


def _pyg_hetero_explanation(adapter: Any, arguments: Dict[str, Any], task: Optional[str], attributed: Dict[str, Any]) -> EdgeExplanation:
    """The explanation of a PyGHeteroAdapter, keyed as ``edge_index_dict`` keys its edge types."""
    edges = {t: adapter.edge_index_dict[t] for t in adapter.edge_types}
    nodes = {t: x.size(0) for t, x in adapter.x_dict.items()}
    return _hetero_explanation(adapter, edges, nodes, adapter.node_type, task, attributed)


def _dgl_hetero_explanation(adapter: Any, arguments: Dict[str, Any], task: Optional[str], attributed: Dict[str, Any]) -> EdgeExplanation:
    """The explanation of a DGLHeteroAdapter, keyed by canonical edge type as DGL keys it."""
    graph = adapter.graph
    edges = {t: torch.stack(graph.edges(etype=t, order="eid")) for t in adapter.edge_types}
    nodes = {t: graph.num_nodes(t) for t in graph.ntypes}
    return _hetero_explanation(adapter, edges, nodes, adapter.ntype, task, attributed)


def _hetero_explanation(
    adapter: Any, edges: Dict[EdgeType, Tensor], nodes: Dict[str, int], node_type: Optional[str], task: Optional[str], attributed: Dict[str, Any]
) -> HeteroEdgeExplanation:
    """The explanation over every edge type, flat in the adapter's mask order (``edges`` holds them in that order)."""
    if task == "edge" and node_type is not None:
        raise ValueError(
            f"task='edge' explains the score of a node pair, but the model's explained rows are nodes of type {node_type!r}: "
            f"pass task='node', or call the model with the pairs it scores (edge_label_index=...)"
        )
    edge_index = torch.cat([e.long() for e in edges.values()], 1) if edges else torch.zeros(2, 0, dtype=torch.long)
    return HeteroEdgeExplanation(
        edge_index=edge_index.to(attributed["edge_mask"].device),
        index=0 if adapter.index is None else adapter.index,
        task=task or ("graph" if adapter.index is None else "node"),
        num_nodes=sum(nodes.values()),
        num_edges_dict={t: e.size(1) for t, e in edges.items()},
        node_type=node_type,
        num_nodes_dict=nodes,
        **attributed,
    )


__all__ = ["explain"]

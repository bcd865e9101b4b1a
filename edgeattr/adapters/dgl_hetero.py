r"""Edge masks for DGL models on heterographs, with masks keyed by canonical edge type."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base import CallCounter, Layer, MessageWeights, prepared
from edgeattr.adapters.base.fingerprint import snapshot_objects
from edgeattr.adapters.base.hetero import HeteroAdapter
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.base.prepared import Handler, Handlers
from edgeattr.adapters.base.typed import EdgeType, Parts, cut_typed, whole_parts
from edgeattr.adapters.dgl import message_weighting
from edgeattr.errors import UnsupportedLayerError


class DGLHeteroAdapter(HeteroAdapter):
    r"""Edge masks for a DGL model on a heterograph (e.g. built from ``HeteroGraphConv``).

    The mask is one tensor over all edges, edge type after edge type in the
    order of ``graph.canonical_etypes`` and by edge id within a type, so that
    Captum sees a single input; :meth:`split` keys any mask or attribution by
    canonical edge type and :meth:`join` builds one from such a dict. A
    message-passing call on one relation (``HeteroGraphConv`` calls its module
    for relation ``r`` on ``graph[r]``; ``multi_update_all`` makes one call per
    relation) weights its messages by that relation's entries; one call over
    several edge types at once (``update_all`` on the heterograph, as the
    hetero API of DGL's RGCN example makes it) weights each type's messages by
    that type's entries. Each call is one layer, in call order (a layerwise
    mask has one row per :attr:`~edgeattr.adapters.base.Layer.row`).

    ``index`` may be a 1-D tensor of ``T`` node ids: masks then have ``T``
    rows, row ``r`` applying to target ``r % T`` (``ones()`` is ``(T, E)``).
    For a dict output (``ntype=``), each target runs on its computation
    subgraph over every edge type (a heterograph of those nodes and edges,
    with their node and edge data and their rows of dicts of features per
    node type) and many masks and targets as disjoint copies of those in one
    pass; both are verified once per model and inputs against the model's own
    output, and where either differs (a normalisation over every node of a
    type; a layer that refuses nodes without in-edges, which a subgraph's
    outer nodes are) a :class:`~edgeattr.FallbackWarning` says so and every
    target runs alone on the whole heterograph, one mask per pass (see
    :mod:`edgeattr.adapters.base.hetero`).

    A model that reads its heterograph itself (``self.g``, called as
    ``model()`` or ``model(feats)``) takes it as ``graph=``, as for
    :class:`~edgeattr.DGLAdapter`: masks index its edges, the model is called
    without it, every target runs on it whole, one mask per pass, and
    ``mode='remove'`` is refused.

    Args:
        model (torch.nn.Module): The model, unchanged, called as
            ``model(graph, *model_args, **model_kwargs)``.
        *model_args: The model's positional arguments: the heterograph
            first, then e.g. a dict of node features; with ``graph=``, exactly
            the model's own.
        graph (dgl.DGLGraph, optional): Keyword only: the heterograph the model
            reads itself; it is not passed to the model.
        index (int or Tensor, optional): Node id (of ``ntype``) for a model
            returning a dict of node outputs, or graph id for a model returning
            a tensor; a 1-D tensor of ``T`` ids gives ``T`` targets.
        ntype (str, optional): Node type of the target, for dict outputs.
        layerwise (bool, optional): One mask row per call. (default: ``False``)
        restrict (bool, optional): Run each target on its computation
            subgraph, masks as copies, where verified. (default: ``True``)
        copies_per_pass (int, optional): Masks (times targets of a group) run
            per forward pass. Default: as many as fit :math:`2^{24}` input values.
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output, and the shortcuts
            against it; ``False`` runs every target on the whole heterograph,
            one mask per pass, unchecked. (default: ``True``)
        features (bool, optional): ``True`` is refused with a
            :class:`ValueError` naming the alternative: node features are
            attributed on homogeneous graphs (:class:`~edgeattr.DGLAdapter`).
        **model_kwargs: Keyword arguments of the model call.

    Raises:
        UnsupportedLayerError: for a call on an edge type the heterograph does
            not have (a graph made inside forward, e.g. by ``dgl.to_homogeneous``).

    Example::

        >>> fwd = DGLHeteroAdapter(model, hg, feats, index=3, ntype="user")
        >>> fwd.split(EdgeGradient(fwd).attribute(fwd.ones())[0])   # {canonical edge type: (E_t,)}
        >>> fwd = DGLHeteroAdapter(rgcn, graph=rgcn.g, index=3, ntype="user")  # rgcn() reads rgcn.g
        >>> many = DGLHeteroAdapter(model, hg, feats, index=torch.arange(5), ntype="user")
        >>> EdgeGradient(many).attribute(many.ones()).shape        # (5, E)
    """

    _type_keyword = "ntype"
    _graphs = "heterographs"
    _features_instead = "DGL's HeteroGNNExplainer learns a feature mask per node type"

    def __init__(
        self,
        model: torch.nn.Module,
        *model_args: Any,
        graph: Optional[dgl.DGLGraph] = None,
        index: Union[None, int, Tensor] = None,
        ntype: Optional[str] = None,
        layerwise: bool = False,
        restrict: bool = True,
        copies_per_pass: Optional[int] = None,
        mode: Optional[str] = None,
        verify: bool = True,
        features: bool = False,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode, features=features)
        #: Whether the model is called with the graph first (``False``: it reads the graph itself, ``graph=``).
        self.passes_graph = graph is None
        self.graph, self._args = _graph_and_arguments(graph, model_args)
        self.ntype = ntype
        self._kwargs = model_kwargs
        self._set_edge_types({etype: self.graph.num_edges(etype) for etype in self.graph.canonical_etypes}, self.graph.device)
        self._set_index(index)
        self._set_layers(self._discover())
        self._bind(verify=verify, restrict=restrict, copies_per_pass=copies_per_pass)

    @property
    def device(self) -> torch.device:
        return self.graph.device

    def _arguments(self, graph: dgl.DGLGraph, args: tuple) -> tuple:
        """The model's positional arguments, ``graph`` first unless the model reads its graph itself."""
        return (graph, *args) if self.passes_graph else args

    def _discover(self) -> List[Layer]:
        whole = whole_parts(self._layout, self.targets, None)
        return discover_layers(lambda session: self._run_parts(whole, session), "the heterograph")

    # -- the heterograph -----------------------------------------------------------------------

    def _node_counts(self) -> Dict[str, int]:
        return {ntype: self.graph.num_nodes(ntype) for ntype in self.graph.ntypes}

    def _typed_edges(self) -> Dict[EdgeType, Tuple[Tensor, Tensor]]:
        return {etype: self.graph.edges(etype=etype, order="eid") for etype in self.graph.canonical_etypes}

    def _row_key(self) -> Optional[str]:
        return self.ntype

    def _can_cut(self) -> bool:
        return self.passes_graph

    def _snapshot_objects(self) -> Iterable[Tuple[Any, tuple]]:
        graph = self.graph
        data = [(f"{ntype}.{key}", value) for ntype in graph.ntypes for key, value in graph.nodes[ntype].data.items()]
        data += [(f"{etype}.{key}", value) for etype in graph.canonical_etypes for key, value in graph.edges[etype].data.items()]
        structure = tuple(graph.num_edges(etype) for etype in graph.canonical_etypes) + tuple(graph.num_nodes(n) for n in graph.ntypes)
        return [(graph, ("graph",) + structure)] + snapshot_objects(data + [("args", self._args), ("kwargs", self._kwargs)])

    def _element_sizes(self) -> Tuple[int, int]:
        widths = [value[0].numel() for value in _tensors(self._args) if value.dim() and value.size(0)]
        return max([1] + widths), 1

    def _graph_of(self, parts: Parts) -> dgl.DGLGraph:
        """The heterograph of ``parts``: the user's own (with deleted edges removed), else one built of the pass's nodes and edges."""
        graph = self.graph
        if parts.whole:
            for etype in self.edge_types:
                if parts.edges[etype].numel() != graph.num_edges(etype):
                    dropped = torch.ones(self.graph.num_edges(etype), dtype=torch.bool, device=self.device)
                    dropped[parts.edges[etype]] = False
                    graph = dgl.remove_edges(graph, dropped.nonzero().view(-1).to(graph.idtype), etype=etype)
            return graph
        data = {etype: (parts.src[etype].to(graph.idtype), parts.dst[etype].to(graph.idtype)) for etype in self.edge_types}
        nodes = {ntype: parts.nodes[ntype].numel() for ntype in graph.ntypes}
        built = dgl.heterograph(data, num_nodes_dict=nodes, idtype=graph.idtype, device=graph.device)
        for ntype in graph.ntypes:
            for key, value in graph.nodes[ntype].data.items():
                built.nodes[ntype].data[key] = value[parts.nodes[ntype]]
        for etype in self.edge_types:
            for key, value in graph.edges[etype].data.items():
                built.edges[etype].data[key] = value[parts.edges[etype]]
        return built

    # -- running the model ---------------------------------------------------------------------

    def _own_call(self) -> Any:
        return self.model(*self._arguments(self.graph, self._args), **self._kwargs)

    def _check_removal(self) -> None:
        super()._check_removal()
        if not self.passes_graph:
            raise ValueError(
                "the model reads its graph itself (graph=), so edges cannot be deleted from it: pass the graph as "
                "an argument of the model, or weight messages instead of deleting edges (mode='message')"
            )

    def _run_parts(self, parts: Parts, session: CallCounter, observer: Optional[Handler] = None) -> Any:
        graph = self._graph_of(parts)
        args, kwargs = self._args, self._kwargs
        if not (parts.whole and parts.all_edges):
            args = tuple(cut_typed(value, parts, self._layout) for value in args)
            kwargs = {name: cut_typed(value, parts, self._layout) for name, value in kwargs.items()}

        def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> Tensor:
            self._note_types(len(session.layers) - 1, call_graph.canonical_etypes)
            return torch.cat([self._positions(graph, call_graph, etype, parts) for etype in call_graph.canonical_etypes])

        handler, routing = message_weighting(self.model, session, self._name_of, locate)
        with prepared(self.model, handler if observer is None else Handlers([handler, observer])), routing:
            return self.model(*self._arguments(graph, args), **kwargs)

    def _positions(self, graph: dgl.DGLGraph, call_graph: dgl.DGLGraph, etype: EdgeType, parts: Parts) -> Tensor:
        """The mask positions of the messages of edge type ``etype`` of a call on ``call_graph``, in its edge order."""
        if etype not in parts.positions:
            raise UnsupportedLayerError(
                f"it ran message passing on edge type {etype}, which the heterograph does not have (a graph "
                f"made inside forward, e.g. by dgl.to_homogeneous); explain that graph with DGLAdapter instead"
            )
        data = call_graph.edges[etype].data
        count = call_graph.num_edges(etype)
        if dgl.EID in data and count != graph.num_edges(etype):  # a subgraph of the relation: its edges' ids
            local = data[dgl.EID].long()
        else:
            local = torch.arange(count, device=call_graph.device)
        return parts.positions[etype][local]


def _tensors(values: Any) -> Iterable[Tensor]:
    """The tensors among ``values`` and inside their dicts."""
    for value in values:
        if isinstance(value, Tensor):
            yield value
        elif isinstance(value, dict):
            yield from _tensors(value.values())


def _graph_and_arguments(graph: Optional[dgl.DGLGraph], model_args: tuple) -> Tuple[dgl.DGLGraph, tuple]:
    """The heterograph and the model's other positional arguments: ``graph=``, else the first argument."""
    if graph is None:
        if not model_args or not isinstance(model_args[0], dgl.DGLGraph):
            given = type(model_args[0]).__name__ if model_args else "no arguments"
            raise TypeError(
                f"DGLHeteroAdapter takes the model's DGLGraph first, got {given}; for a model that reads its graph "
                f"itself (self.g), pass that graph as DGLHeteroAdapter(model, ..., graph=model.g)"
            )
        return model_args[0], model_args[1:]
    if not isinstance(graph, dgl.DGLGraph):
        raise TypeError(f"graph= takes the DGLGraph the model reads itself (self.g), got {type(graph).__name__}")
    if any(value is graph for value in model_args):
        raise ValueError("the graph is both an argument of the model call and graph=: pass it once, positionally if the model takes it")
    return graph, model_args

r"""Edge masks for DGL models on heterographs, with masks keyed by canonical edge type."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base import CallCounter, Layer, MessageWeights, prepared, session_for
from edgeattr.adapters.base.hetero import EdgeType, HeteroAdapter
from edgeattr.adapters.base.messages import discover_layers
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
    that type's entries. Masks run one forward pass each.

    A model that reads its heterograph itself (``self.g``, called as
    ``model()`` or ``model(feats)``) takes it as ``graph=``, as for
    :class:`~edgeattr.DGLAdapter`: masks index its edges, the model is called
    without it, and ``mode='remove'`` is refused.

    Args:
        model (torch.nn.Module): The model, unchanged, called as
            ``model(graph, *model_args, **model_kwargs)``.
        *model_args: The model's positional arguments: the heterograph
            first, then e.g. a dict of node features; with ``graph=``, exactly
            the model's own.
        graph (dgl.DGLGraph, optional): Keyword only: the heterograph the model
            reads itself; it is not passed to the model.
        index (int, optional): Node id (of ``ntype``) for a model returning a
            dict of node outputs, or graph id for a model returning a tensor.
        ntype (str, optional): Node type of the target, for dict outputs.
        layerwise (bool, optional): One mask row per call. (default: ``False``)
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output. (default: ``True``)
        **model_kwargs: Keyword arguments of the model call.

    Raises:
        UnsupportedLayerError: for a call on an edge type the heterograph does
            not have (a graph made inside forward, e.g. by ``dgl.to_homogeneous``).

    Example::

        >>> fwd = DGLHeteroAdapter(model, hg, feats, index=3, ntype="user")
        >>> fwd.split(EdgeGradient(fwd).attribute(fwd.ones())[0])   # {canonical edge type: (E_t,)}
        >>> fwd = DGLHeteroAdapter(rgcn, graph=rgcn.g, index=3, ntype="user")  # rgcn() reads rgcn.g
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *model_args: Any,
        graph: Optional[dgl.DGLGraph] = None,
        index: Optional[int] = None,
        ntype: Optional[str] = None,
        layerwise: bool = False,
        mode: Optional[str] = None,
        verify: bool = True,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode)
        #: Whether the model is called with the graph first (``False``: it reads the graph itself, ``graph=``).
        self.passes_graph = graph is None
        self.graph, self._args = _graph_and_arguments(graph, model_args)
        self._set_edge_types({etype: self.graph.num_edges(etype) for etype in self.graph.canonical_etypes}, self.graph.device)
        self.num_nodes = self.graph.num_nodes()
        self.index, self.ntype = index, ntype
        self._kwargs = model_kwargs
        self.layers = self._discover()
        self.num_layers = len(self.layers)
        if verify:
            self._verify_whole_input(lambda: self._explained_row(model(*self._arguments(self.graph), **model_kwargs)))

    @property
    def device(self) -> torch.device:
        return self.graph.device

    def _arguments(self, graph: dgl.DGLGraph) -> tuple:
        """The model's positional arguments, ``graph`` first unless the model reads its graph itself."""
        return (graph, *self._args) if self.passes_graph else self._args

    def _discover(self) -> List[Layer]:
        return discover_layers(lambda session: self._call(self.graph, session), "the heterograph")

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        graph = self.graph
        if keep is not None:
            if self.layerwise:
                raise ValueError("mode='remove' per layer is not supported on heterographs; use mode='message'")
            if not self.passes_graph:
                raise ValueError(
                    "the model reads its graph itself (graph=), so edges cannot be deleted from it: pass the graph as "
                    "an argument of the model, or weight messages instead of deleting edges (mode='message')"
                )
            for etype, kept in self.split(keep[0]).items():
                graph = dgl.remove_edges(graph, (~kept).nonzero().view(-1), etype=etype)
        session = session_for(weights, self.num_layers, self.edge_ids, self.edge_ids)
        out = self._call(graph, session)
        session.finish()
        return out

    def _call(self, graph: dgl.DGLGraph, session: CallCounter) -> Tensor:
        """Runs the model on ``graph`` (the bound graph, or it with edges removed: then unweighted)."""

        def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> Tensor:
            return torch.cat([self._positions(graph, call_graph, etype) for etype in call_graph.canonical_etypes])

        handler, routing = message_weighting(self.model, session, self._name_of, locate)
        with prepared(self.model, handler), routing:
            out = self.model(*self._arguments(graph), **self._kwargs)
        return self._explained_row(out)

    def _positions(self, graph: dgl.DGLGraph, call_graph: dgl.DGLGraph, etype: EdgeType) -> Tensor:
        """The mask positions of the messages of edge type ``etype`` of a call on ``call_graph``, in its edge order."""
        if etype not in self._offsets:
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
        return self._offsets[etype] + local

    def _explained_row(self, out: Any) -> Tensor:
        """The explained row ``(1, *out)`` of the model's output (of ``ntype``, for a dict of outputs)."""
        if isinstance(out, dict):
            if self.ntype not in out:
                raise ValueError(f"the model returns outputs per node type {sorted(out)}: pass ntype= and index=")
            out = out[self.ntype]
        if self.index is None:
            if out.size(0) != 1:
                raise ValueError(f"the model returned {out.size(0)} rows: pass index= for the one to explain")
            return out[:1]
        return out[self.index : self.index + 1]


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

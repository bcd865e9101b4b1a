r"""Edge masks for DGL models on heterographs, with masks keyed by canonical edge type."""

from __future__ import annotations

from typing import Any, List, Optional

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base import CallCounter, Layer, MessageWeights, prepared, session_for
from edgeattr.adapters.base.hetero import HeteroAdapter
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.dgl import message_weighting
from edgeattr.errors import UnsupportedLayerError


class DGLHeteroAdapter(HeteroAdapter):
    r"""Edge masks for a DGL model on a heterograph (e.g. built from ``HeteroGraphConv``).

    The mask is one tensor over all edges, edge type after edge type in the
    order of ``graph.canonical_etypes`` and by edge id within a type, so that
    Captum sees a single input; :meth:`split` keys any mask or attribution by
    canonical edge type and :meth:`join` builds one from such a dict. Every
    message-passing call runs on one relation (``HeteroGraphConv`` calls its
    module for relation ``r`` on ``graph[r]``); its messages are weighted by
    that relation's entries. Masks run one forward pass each.

    Args:
        model (torch.nn.Module): The model, unchanged, called as
            ``model(graph, *model_args, **model_kwargs)``.
        graph (dgl.DGLGraph): The heterograph.
        *model_args: Further positional arguments, e.g. a dict of node features.
        index (int, optional): Node id (of ``ntype``) for a model returning a
            dict of node outputs, or graph id for a model returning a tensor.
        ntype (str, optional): Node type of the target, for dict outputs.
        layerwise (bool, optional): One mask row per call. (default: ``False``)
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output. (default: ``True``)
        **model_kwargs: Keyword arguments of the model call.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        graph: dgl.DGLGraph,
        *model_args: Any,
        index: Optional[int] = None,
        ntype: Optional[str] = None,
        layerwise: bool = False,
        mode: Optional[str] = None,
        verify: bool = True,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode)
        if not isinstance(graph, dgl.DGLGraph):
            raise TypeError(f"DGLHeteroAdapter takes the model's DGLGraph first, got {type(graph).__name__}")
        self.graph = graph
        self._set_edge_types({etype: graph.num_edges(etype) for etype in graph.canonical_etypes}, graph.device)
        self.num_nodes = graph.num_nodes()
        self.index, self.ntype = index, ntype
        self._args, self._kwargs = model_args, model_kwargs
        self.layers = self._discover()
        self.num_layers = len(self.layers)
        if verify:
            self._verify_whole_input(lambda: self._explained_row(model(graph, *model_args, **model_kwargs)))

    @property
    def device(self) -> torch.device:
        return self.graph.device

    def _discover(self) -> List[Layer]:
        return discover_layers(lambda session: self._call(self.graph, session), "the heterograph")

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        graph = self.graph
        if keep is not None:
            if self.layerwise:
                raise ValueError("mode='remove' per layer is not supported on heterographs; use mode='message'")
            for etype, kept in self.split(keep[0]).items():
                graph = dgl.remove_edges(graph, (~kept).nonzero().view(-1), etype=etype)
        session = session_for(weights, self.num_layers, self.edge_ids, self.edge_ids)
        out = self._call(graph, session)
        session.finish()
        return out

    def _call(self, graph: dgl.DGLGraph, session: CallCounter) -> Tensor:
        """Runs the model on ``graph`` (the bound graph, or it with edges removed: then unweighted)."""

        def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> Tensor:
            if len(call_graph.canonical_etypes) != 1:
                raise UnsupportedLayerError(
                    "it ran one message-passing call over several edge types at once; run one module per "
                    "relation (HeteroGraphConv) or multi_update_all"
                )
            etype = call_graph.canonical_etypes[0]
            if etype not in self._offsets:
                raise UnsupportedLayerError(
                    f"it ran message passing on edge type {etype}, which the heterograph does not have (a graph "
                    f"made inside forward, e.g. by dgl.to_homogeneous); explain that graph with DGLAdapter instead"
                )
            if dgl.EID in call_graph.edata and call_graph.num_edges() != graph.num_edges(etype):
                local = call_graph.edata[dgl.EID]
            else:
                local = torch.arange(call_graph.num_edges(), device=call_graph.device)
            return self._offsets[etype] + local

        handler, routing = message_weighting(self.model, session, self._name_of, locate)
        with prepared(self.model, handler), routing:
            out = self.model(graph, *self._args, **self._kwargs)
        return self._explained_row(out)

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

r"""The DGL adapter: edge masks for unmodified DGL models."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Optional, Tuple, Union

import dgl
import dgl.function as fn
import torch
from dgl import core
from torch import Tensor

from edgeattr.adapters.base import (
    Call,
    GraphAdapter,
    MessageWeights,
    Slot,
    align_messages,
    prepared,
    unsupported,
)
from edgeattr.adapters.base.adapter import ModuleNames, copy_offsets, repeat_rows
from edgeattr.adapters.base.call import Key
from edgeattr.adapters.base.prepared import Handler
from edgeattr.adapters.base.subgraph import Segments
from edgeattr.errors import UnsupportedLayerError


class DGLAdapter(GraphAdapter):
    r"""Edge masks for a DGL model, as a Captum ``forward_func``.

    The model is called exactly as the codebase calls it,
    ``model(graph, *model_args, **model_kwargs)``; it needs no ``eweight`` or
    ``edge_weight`` argument. Inside a thread-local context, DGL's message
    passing (``dgl.core.message_passing``, through which ``update_all``,
    ``send_and_recv``, ``pull`` and ``push`` run) multiplies every message by
    its edge's mask entry before it is reduced; each such call is one layer.
    Masks are indexed by DGL edge ids. Self-loops a model appends itself
    (``dgl.add_self_loop`` inside ``forward``) keep weight 1 and are not
    attributed. Node targets are restricted to their computation subgraph,
    graph targets of a batched graph to that graph, and ``B`` masks run as
    ``B`` disjoint copies in one forward pass, exactly as for
    :class:`~edgeattr.adapters.PyGAdapter`.

    Args:
        model (torch.nn.Module): The model, unchanged.
        graph (dgl.DGLGraph): The homogeneous graph (or batch of graphs) the model takes first.
        *model_args: Further positional arguments, e.g. ``feat``.
        index (int or Tensor, optional): Node id (node task) or graph id of
            the batch (graph task); required for node tasks. A 1-D tensor of
            ``T`` ids explains ``T`` targets at once, one mask row per target
            (see :class:`~edgeattr.PyGAdapter`).
        layerwise (bool, optional): One mask row per message-passing call,
            masks ``(B, L, E)``. (default: ``False``)
        task (str, optional): ``'node'`` or ``'graph'``. Default: ``'graph'``
            for a batch of several graphs, else ``'node'``.
        restrict (bool, optional): Restrict node targets to their computation
            subgraph. (default: ``True``)
        copies_per_pass (int, optional): Masks run per forward pass.
        **model_kwargs: Keyword arguments of the model call.

    Example::

        >>> fwd = DGLAdapter(model, g, g.ndata["feat"], index=10)
        >>> GradientSign(fwd).attribute(fwd.ones())     # (1, g.num_edges())
    """

    def __init__(
        self,
        model: torch.nn.Module,
        graph: dgl.DGLGraph,
        *model_args: Any,
        index: Union[None, int, Tensor] = None,
        layerwise: bool = False,
        task: Optional[str] = None,
        restrict: bool = True,
        copies_per_pass: Optional[int] = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(
            model,
            (graph,) + model_args,
            model_kwargs,
            index=index,
            layerwise=layerwise,
            task=task,
            restrict=restrict,
            copies_per_pass=copies_per_pass,
            structure_arg=0,
        )

    # -- the graph structure: a DGLGraph ---------------------------------------------------

    def _find_structure(self, slots: List[Slot], structure_arg: Optional[Key]) -> Slot:
        graph = slots[0].value
        if not isinstance(graph, dgl.DGLGraph):
            raise TypeError(f"DGLAdapter takes the model's DGLGraph first, got {type(graph).__name__}")
        if graph.is_block:
            raise ValueError("the graph is a sampled block: use DGLBlockAdapter(model, blocks, ..., parent_graph=g)")
        if len(graph.canonical_etypes) != 1 or len(graph.ntypes) != 1:
            raise ValueError(
                f"the graph is a heterograph (edge types {graph.canonical_etypes}): use DGLHeteroAdapter, "
                f"whose masks are keyed by canonical edge type"
            )
        if graph.num_nodes() == 0:
            raise ValueError("the graph has no nodes: there is nothing to explain")
        return slots[0]

    def _edges(self, graph: dgl.DGLGraph) -> Tuple[Tensor, Tensor, Optional[int]]:
        src, dst = graph.edges(order="eid")
        return src, dst, graph.num_nodes()

    def _default_task(self) -> str:
        return "graph" if self._structure.value.batch_size > 1 else "node"

    def _num_graphs(self) -> int:
        return self._structure.value.batch_size

    def _graph_nodes(self, index: int) -> Tensor:
        counts = self._structure.value.batch_num_nodes()
        start = int(counts[:index].sum())
        return torch.arange(start, start + int(counts[index]), device=self.device)

    def _restrict_structure(self, graph: dgl.DGLGraph, segments: Segments) -> dgl.DGLGraph:
        sub = dgl.graph((segments.src, segments.dst), num_nodes=segments.nodes.numel(), device=graph.device)
        count = segments.num_segments
        sub.set_batch_num_nodes(torch.bincount(segments.node_segment, minlength=count))
        sub.set_batch_num_edges(torch.bincount(segments.edge_segment, minlength=count))
        _copy_data(graph, sub, segments.nodes, segments.edges)
        return sub

    def _repeat_structure(self, graph: dgl.DGLGraph, copies: int, num_nodes: int) -> Tuple[dgl.DGLGraph, Tensor, Tensor]:
        if copies > 1:
            src, dst = graph.edges(order="eid")
            offsets = copy_offsets(copies, src.numel(), num_nodes, self.device)
            batched = dgl.graph((src.repeat(copies) + offsets, dst.repeat(copies) + offsets), num_nodes=num_nodes * copies, device=graph.device)
            batched.set_batch_num_nodes(graph.batch_num_nodes().repeat(copies))
            batched.set_batch_num_edges(graph.batch_num_edges().repeat(copies))
            for key, value in graph.ndata.items():
                batched.ndata[key] = repeat_rows(value, copies)
            for key, value in graph.edata.items():
                batched.edata[key] = repeat_rows(value, copies)
            graph = batched
        src, dst = graph.edges(order="eid")
        return graph, src, dst

    def _probe_structure(self, graph: dgl.DGLGraph) -> Tuple[dgl.DGLGraph, Tensor, Tensor]:
        loop = torch.zeros(1, dtype=torch.long, device=self.device)
        probe = dgl.graph((loop, loop), num_nodes=2, device=graph.device)
        _copy_data(graph, probe, torch.zeros(2, dtype=torch.long, device=self.device), torch.zeros(1, dtype=torch.long, device=self.device))
        return probe, loop, loop

    def _cut_structure(self, graph: dgl.DGLGraph, keep: Tensor) -> Tuple[dgl.DGLGraph, Tensor, Tensor]:
        src, dst = graph.edges(order="eid")
        cut = dgl.graph((src[keep], dst[keep]), num_nodes=graph.num_nodes(), device=graph.device)
        graph_of_edge = torch.repeat_interleave(torch.arange(graph.batch_size, device=self.device), graph.batch_num_edges())
        cut.set_batch_num_nodes(graph.batch_num_nodes())
        cut.set_batch_num_edges(torch.bincount(graph_of_edge[keep], minlength=graph.batch_size))
        _copy_data(graph, cut, torch.arange(graph.num_nodes(), device=self.device), keep.nonzero().view(-1))
        return cut, src[keep], dst[keep]

    # -- intercepting message passing ------------------------------------------------------

    def _intercept(self, call: Call, session: MessageWeights) -> Tuple[Handler, ContextManager]:
        return message_weighting(self.model, session, self._name_of, locate_by_edges(session))


class EdgeWeightShim(torch.nn.Module):
    r"""Gives an unmodified DGL model the ``eweight`` argument DGL's explainers pass.

    ``dgl.nn.explain.GNNExplainer`` calls ``model(graph=g, feat=h, eweight=w)``
    and needs the model to multiply message ``e`` by ``w[e]``. The shim runs
    the wrapped model unchanged and weights every message of every
    message-passing call by ``eweight`` (input level), as :class:`DGLAdapter`
    does with a mask.

    Args:
        model (torch.nn.Module): The DGL model, ``model(graph, *args, **kwargs)``.

    Example::

        >>> explainer = dgl.nn.explain.GNNExplainer(EdgeWeightShim(model), num_hops=2)
        >>> center, subgraph, feat_mask, edge_mask = explainer.explain_node(10, g, feat)
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, graph: dgl.DGLGraph, *args: Any, eweight: Optional[Tensor] = None, **kwargs: Any) -> Any:
        r"""Runs ``model(graph, *args, **kwargs)`` with messages weighted by ``eweight`` ``(E,)``."""
        if eweight is None:
            return self.model(graph, *args, **kwargs)
        if eweight.shape != (graph.num_edges(),):
            raise ValueError(f"eweight must have shape ({graph.num_edges()},), one weight per edge; got {tuple(eweight.shape)}")
        src, dst = graph.edges(order="eid")
        session = MessageWeights(eweight.view(1, -1), None, src, dst)
        handler, routing = message_weighting(self.model, session, ModuleNames(self.model), locate_by_edges(session))
        with prepared(self.model, handler), routing:
            return self.model(graph, *args, **kwargs)


#: Maps the messages of a call's graph to positions in the batched edges (see MessageWeights.weights_at).
Locate = Callable[[dgl.DGLGraph], Optional[Tensor]]


def locate_by_edges(session: MessageWeights) -> Locate:
    r"""Matches a call's messages to the session's edges by endpoints, or through ``dgl.EID``.

    A call on the graph itself (or a ``local_scope`` or relation view of it),
    or on it with self-loops the model appended (weight 1), is matched by its
    endpoints; the compute graphs of ``send_and_recv`` / ``pull`` and subgraphs
    taken inside forward carry the ids of the graph's edges in ``dgl.EID``.
    """

    def locate(call_graph: dgl.DGLGraph) -> Optional[Tensor]:
        src, dst = call_graph.edges(order="eid")
        same = src.numel() == session.ref_src.numel() and torch.equal(src, session.ref_src) and torch.equal(dst, session.ref_dst)
        if dgl.EID in call_graph.edata and not same:
            return call_graph.edata[dgl.EID]
        return align_messages(src, dst, session.ref_src, session.ref_dst, session.policy(len(session.layers) - 1))

    return locate


class _ModuleStack(Handler):
    """The model's modules currently in their forward, innermost last (this thread)."""

    def __init__(self) -> None:
        self.running: List[torch.nn.Module] = []

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        self.running.append(module)

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if self.running and self.running[-1] is module:
            self.running.pop()


def message_weighting(model: torch.nn.Module, session: MessageWeights, name_of: ModuleNames, locate: Locate) -> Tuple[Handler, ContextManager]:
    r"""What weights every DGL message-passing call of this thread by ``session`` while the model runs.

    Each call is one layer, named by the innermost module running when it is
    made; ``locate`` maps its messages to the session's edges.

    Returns:
        The handler to route the model's hooks to (it tracks the running
        module) and the context that routes DGL's message passing.
    """
    modules = _ModuleStack()

    def handler(call_graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any) -> Dict[str, Tensor]:
        module = modules.running[-1] if modules.running else model
        name = name_of(module)
        layer = session.begin_call(name, module)
        if session.mask is None:
            session.record(call_graph.num_edges())
            return _original_message_passing(call_graph, mfunc, rfunc, afunc)
        try:
            edge_ids = locate(call_graph)
        except UnsupportedLayerError as error:
            raise unsupported(name, module, str(error)) from None
        return weighted_message_passing(call_graph, mfunc, rfunc, afunc, session.weights_at(layer, edge_ids))

    return modules, _routed(handler)


def _copy_data(graph: dgl.DGLGraph, into: dgl.DGLGraph, nodes: Tensor, edges: Tensor) -> None:
    """Copies the graph's node and edge data of ``nodes`` and ``edges`` into ``into``."""
    for key, value in graph.ndata.items():
        into.ndata[key] = value[nodes]
    for key, value in graph.edata.items():
        into.edata[key] = value[edges]


def weighted_message_passing(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any, weights: Optional[Tensor]) -> Dict[str, Tensor]:
    r"""DGL's message passing with every message multiplied by its edge's weight before reduction.

    Mirrors ``dgl.core.message_passing`` without its fused kernels, which
    would never materialise the messages.

    Args:
        graph (dgl.DGLGraph): The graph of the call.
        mfunc, rfunc, afunc: Message, reduce and apply functions (builtin or UDF).
        weights (Tensor, optional): One weight per edge of ``graph``, ``(E,)``;
            ``None`` runs DGL's own message passing.

    Returns:
        dict[str, Tensor]: The new node data, as DGL's returns it.
    """
    if weights is None:
        return _original_message_passing(graph, mfunc, rfunc, afunc)
    if core.is_builtin(mfunc):
        messages = core.invoke_gsddmm(graph, mfunc)
    else:
        messages = core.invoke_edge_udf(graph, dgl.ALL, graph.canonical_etypes[0], mfunc, orig_eid=graph.edata.get(dgl.EID, None))
    messages = {key: value * weights.view((-1,) + (1,) * (value.dim() - 1)).to(value.dtype) for key, value in messages.items()}
    if core.is_builtin(rfunc):
        field = rfunc.msg_field
        ndata = core.invoke_gspmm(graph, fn.copy_e(field, field), rfunc, edata=messages)
    else:
        ndata = core.invoke_udf_reduce(graph, rfunc, messages, orig_nid=graph.dstdata.get(dgl.NID, None))
    if afunc is not None:
        for key, value in graph.dstdata.items():
            ndata.setdefault(key, value)
        ndata = core.invoke_node_udf(graph, dgl.ALL, graph.dsttypes[0], afunc, ndata=ndata, orig_nid=graph.dstdata.get(dgl.NID, None))
    return ndata


# -- routing dgl.core.message_passing, thread by thread -------------------------------------

_original_message_passing: Callable = core.message_passing
_route = threading.local()
_users_lock = threading.Lock()
_users = 0


def _dispatch(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any) -> Dict[str, Tensor]:
    handler = getattr(_route, "handler", None)
    if handler is None:
        return _original_message_passing(graph, mfunc, rfunc, afunc)
    return handler(graph, mfunc, rfunc, afunc)


@contextmanager
def _routed(handler: Callable) -> Iterator[None]:
    """Routes this thread's DGL message passing to ``handler``; DGL is unpatched once no thread needs it."""
    global _users
    with _users_lock:
        if _users == 0:
            core.message_passing = _dispatch
        _users += 1
    previous = getattr(_route, "handler", None)
    _route.handler = handler
    try:
        yield
    finally:
        _route.handler = previous
        with _users_lock:
            _users -= 1
            if _users == 0:
                core.message_passing = _original_message_passing

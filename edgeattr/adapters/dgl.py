r"""The DGL adapter: edge masks for unmodified DGL models."""

from __future__ import annotations

import dataclasses
import inspect
import threading
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import dgl
import dgl.function as fn
import torch
from dgl import core
from torch import Tensor

from edgeattr.adapters.base import (
    IN_ORDER,
    Call,
    CallCounter,
    GraphAdapter,
    Layer,
    MessagePositions,
    MessageWeights,
    Slot,
    align_messages,
    prepared,
    unsupported,
)
from edgeattr.adapters.base.adapter import ModuleNames, OutputSelector, copy_offsets, repeat_rows
from edgeattr.adapters.base.call import Key, assemble
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
    attributed. Aggregations a model writes with DGL's sparse operators
    outside message passing (``dgl.ops.u_mul_e_sum``, ``dgl.ops.copy_u_sum``,
    ``dgl.ops.gspmm``) are message-passing calls too, weighted the same way.
    Node targets are restricted to their computation subgraph, graph targets
    of a batched graph to that graph, and ``B`` masks run as ``B`` disjoint
    copies in one forward pass, both verified against the model's own output,
    exactly as for :class:`~edgeattr.adapters.PyGAdapter`.

    **A graph the model reads itself.** DGL's examples often keep the graph on
    the model and call ``model(features)`` (APPNP, TAGCN, ChebNet: ``self.g``).
    Pass that graph as ``graph=``, the adapter's keyword, not the model's:
    ``DGLAdapter(model, features, graph=model.g, index=10)``. Masks then index
    its edges, and the messages of every call on it (a ``local_scope`` of it,
    a subgraph of it carrying ``dgl.EID``, it with self-loops appended) are
    weighted. edgeattr cannot hand such a model a smaller graph or copies of
    it, so each mask runs on the model's own call, one mask per pass, with
    neither the restriction to the computation subgraph nor copies batched;
    the pass at mask 1 is verified against the model's own output as usual.
    ``mode='remove'`` (deleting edges instead of zeroing their messages) is
    refused there.

    **Graphs built inside forward** (``KNNGraph``, ``SegmentedKNNGraph``, a
    ``dgl.graph(...)`` of new edges) hold no input edge to attribute: the
    module that runs message passing on one raises
    :class:`~edgeattr.UnsupportedLayerError` naming it.

    Args:
        model (torch.nn.Module): The model, unchanged.
        *model_args: The model's positional arguments: its homogeneous
            ``dgl.DGLGraph`` (or batch of graphs) first, then e.g. ``feat``;
            with ``graph=``, exactly the model's own (e.g. ``features``).
        graph (dgl.DGLGraph, optional): Keyword only: the homogeneous graph the
            model reads itself (``self.g``); it is not passed to the model.
        index (int or Tensor, optional): Node id (node task), graph id of
            the batch (graph task) or the id of a pair graph's edge (edge
            task); required for node tasks. A 1-D tensor of
            ``T`` ids explains ``T`` targets at once, one mask row per target
            (see :class:`~edgeattr.PyGAdapter`).
        layerwise (bool, optional): One mask row per message-passing call,
            masks ``(B, L, E)``. (default: ``False``)
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'``. Default:
            ``'graph'`` for a batch of several graphs, else ``'node'``. An edge
            task explains link prediction as DGL's examples write it:
            ``model(g, pair_graph, feat)`` scores the edges of a pair graph
            (``dgl.graph((u, v), num_nodes=g.num_nodes())``, e.g. with
            ``fn.u_dot_v`` or an MLP predictor), one output row per pair;
            pair ``p``'s work is restricted to the union of its two nodes'
            computation subgraphs, on a pair graph holding that pair alone.
            Score positive and negative pairs in separate calls: the pair
            graph is the one other ``DGLGraph`` argument (or ``pairs_arg``).
        restrict (bool, optional): Restrict node targets to their computation
            subgraph (never with ``graph=``). (default: ``True``)
        copies_per_pass (int, optional): Masks run per forward pass (1 with ``graph=``).
        mode (str, optional): What the output means (see :class:`~edgeattr.PyGAdapter`
            and :mod:`edgeattr.modes`); required for a single output column.
        verify (bool, optional): Check the shortcuts against the model's own
            output, as :class:`~edgeattr.PyGAdapter` does. (default: ``True``)
        node_args, edge_args (Sequence[str], optional): Names of arguments
            with one row per node or per edge, where their sizes do not tell.
        output (int, str or Callable, optional): For a model returning a
            tuple, list or dict, the position, key, or a function of the
            output that gives the tensor to explain (e.g. ``output=0`` for
            ``(logits, attention)``).
        pairs_arg (int or str, optional): Position or name of the pair graph
            of an edge task, where the model takes several graphs.
        features (bool, optional): Attribute the node features too: the
            forward function takes ``(mask, x)``, ``x`` ``(B, N, *F)``, and
            :meth:`inputs` gives both (see :class:`~edgeattr.PyGAdapter`).
            The features must be an argument of the model call (``feat``),
            not only a field of the graph's ``ndata``. (default: ``False``)
        features_arg (int or str, optional): With ``features``: position
            among the adapter's positional arguments (``1`` for ``feat`` in
            ``DGLAdapter(model, g, feat)``) or name of the node features;
            default the only floating argument with one row per node.
        **model_kwargs: Keyword arguments of the model call.

    Raises:
        UnsupportedLayerError: for a module that runs message passing on a
            graph built inside forward, or on a graph the model holds itself
            that was not passed as ``graph=``.

    Example::

        >>> fwd = DGLAdapter(model, g, g.ndata["feat"], index=10)
        >>> GradientSign(fwd).attribute(fwd.ones())     # (1, g.num_edges())
        >>> fwd = DGLAdapter(appnp, features, graph=appnp.g, index=10)  # appnp(features) reads appnp.g
        >>> both = DGLAdapter(model, g, g.ndata["feat"], index=10, features=True)
        >>> edges, nodes = EdgeGradient(both).attribute(both.inputs())  # (1, E) and (1, N, F)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *model_args: Any,
        graph: Optional[dgl.DGLGraph] = None,
        index: Union[None, int, Tensor] = None,
        layerwise: bool = False,
        task: Optional[str] = None,
        restrict: bool = True,
        copies_per_pass: Optional[int] = None,
        mode: Optional[str] = None,
        verify: bool = True,
        node_args: Sequence[str] = (),
        edge_args: Sequence[str] = (),
        output: OutputSelector = None,
        pairs_arg: Optional[Key] = None,
        features: bool = False,
        features_arg: Optional[Key] = None,
        **model_kwargs: Any,
    ) -> None:
        #: The graph the model reads itself (``graph=``); ``None`` when the model is called with its graph first.
        self._own_graph = graph
        super().__init__(
            model,
            model_args,
            model_kwargs,
            index=index,
            layerwise=layerwise,
            task=task,
            restrict=restrict,
            copies_per_pass=copies_per_pass,
            structure_arg=None if graph is not None else 0,
            mode=mode,
            verify=verify,
            node_args=node_args,
            edge_args=edge_args,
            output=output,
            pairs_arg=pairs_arg,
            features=features,
            features_arg=features_arg,
        )

    # -- the graph structure: a DGLGraph ---------------------------------------------------

    def _find_structure(self, slots: List[Slot], structure_arg: Optional[Key]) -> Slot:
        if self._own_graph is not None:
            slot = self._own_graph_slot(slots)
        elif slots and isinstance(slots[0].value, dgl.DGLGraph):
            slot = slots[0]
        else:
            if slots and _holds_graphs(slots[0].value):
                raise ValueError("the model takes a list of sampled blocks: use DGLBlockAdapter(model, blocks, ..., parent_graph=g)")
            if not any(_holds_graphs(slot.value) for slot in slots):
                self._refuse_graph_made_in_forward(slots)
            given = type(slots[0].value).__name__ if slots else "no arguments"
            raise TypeError(
                f"DGLAdapter takes the model's DGLGraph first, got {given}; for a model that reads its graph "
                f"itself (model(features) with self.g), pass that graph as DGLAdapter(model, features, graph=model.g, ...)"
            )
        _check_homogeneous(slot.value)
        return slot

    def _own_graph_slot(self, slots: List[Slot]) -> Slot:
        """The slot of the graph given as ``graph=``, appended to the call's slots; it is never passed to the model."""
        graph = self._own_graph
        if not isinstance(graph, dgl.DGLGraph):
            raise TypeError(f"graph= takes the DGLGraph the model reads itself (self.g), got {type(graph).__name__}")
        if any(slot.value is graph for slot in slots):
            raise ValueError(
                "the graph is both an argument of the model call and graph=: pass it positionally if the model "
                "takes it, DGLAdapter(model, g, feat, ...), and as graph= only if the model reads it itself"
            )
        if _takes_graph_first(self.model, graph, slots):
            raise TypeError(
                f"{type(self.model).__name__}.forward takes its graph as an argument, but graph= is a graph the model "
                f"reads itself and is not passed to it: pass the graph first, DGLAdapter(model, g, ...)"
            )
        slot = Slot("graph", "graph", graph, passed=False)  # the adapter's graph, never an argument of the model call
        slots.append(slot)
        return slot

    def _refuse_graph_made_in_forward(self, slots: List[Slot]) -> None:
        """Raises :class:`UnsupportedLayerError` naming the first module that passes messages, for a model called without any graph.

        Such a model builds its graph inside forward (``KNNGraph``) or reads one
        it holds; an error of the model's own is left to the ``TypeError`` that
        says what the adapter takes.
        """
        model = self.model

        def refuse(session: MessageWeights, call_graph: dgl.DGLGraph) -> MessagePositions:
            raise UnsupportedLayerError(_foreign_graph(model, call_graph, given=False))

        none = torch.zeros(0, dtype=torch.long)
        handler, routing = message_weighting(model, MessageWeights(torch.ones(1, 0), None, none, none), self._name_of, refuse)
        args, kwargs = assemble(slots, {slot.key: slot.value for slot in slots})
        try:
            with torch.no_grad(), prepared(model, handler), routing:
                model(*args, **kwargs)
        except UnsupportedLayerError:
            raise
        except Exception:  # the model's own error on these arguments: the TypeError that follows says what to pass
            return

    def _edges(self, graph: dgl.DGLGraph) -> Tuple[Tensor, Tensor, Optional[int]]:
        src, dst = graph.edges(order="eid")
        return src, dst, graph.num_nodes()

    @staticmethod
    def _structure_tensors(graph: dgl.DGLGraph, name: str) -> Iterable[Tuple[str, Tensor]]:
        for data, items in (("ndata", graph.ndata), ("edata", graph.edata)):
            for key, value in items.items():
                if isinstance(value, Tensor):
                    yield f"{name}.{data}[{key!r}]", value

    def _structure_state(self, graph: dgl.DGLGraph) -> tuple:
        return (graph.num_nodes(), graph.num_edges()) + super()._structure_state(graph)

    def _default_task(self) -> str:
        return "graph" if self._structure.value.batch_size > 1 else "node"

    def _pair_candidates(self, slots: List[Slot]) -> List[Slot]:
        return [slot for slot in slots if isinstance(slot.value, dgl.DGLGraph) and slot is not self._structure]

    def _pair_ends(self, pairs: Any) -> Tuple[Tensor, Tensor]:
        if not isinstance(pairs, dgl.DGLGraph) or pairs.is_block or len(pairs.canonical_etypes) != 1:
            raise ValueError(
                f"the node pairs of a DGL edge task are the edges of a homogeneous pair graph, "
                f"dgl.graph((u, v), num_nodes=g.num_nodes()); got {type(pairs).__name__}"
            )
        return pairs.edges(order="eid")

    def _find_pairs(self, slots: List[Slot], pairs_arg: Optional[Key]) -> Slot:
        found = super()._find_pairs(slots, pairs_arg)
        others = [slot for slot in self._pair_candidates(slots) if slot is not found]
        if others:
            raise ValueError(
                f"the model takes another graph, {others[0].name or others[0].key!r}, beside the pair graph "
                f"{found.name or found.key!r}, which edgeattr cannot restrict with it: score one pair graph per call "
                f"(positive and negative pairs in separate calls, or as one pair graph of both)"
            )
        return found

    def _pair_value(self, like: Any, u: Tensor, v: Tensor, num_nodes: int) -> dgl.DGLGraph:
        return dgl.graph((u, v), num_nodes=num_nodes, device=like.device)

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
        _copy_data(graph, sub, segments.nodes, segments.edge_ids)
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

    def _discover(self, segments: Segments) -> List[Layer]:
        r"""The model's message-passing calls, counted on ``segments``; one node alone is given a self-loop.

        Layers are discovered on one node of the first target, with no edge,
        and kept per model and argument layout. DGL's convolutions refuse a
        node without in-edges (``GraphConv``, ``GATConv`` and others unless
        ``allow_zero_in_degree=True``), which would send discovery to the
        first target's whole graph, a pass over the full input for every
        adapter, and not kept. So the node gets a self-loop, carrying the data
        of edge 0 where the model reads edge data; discovery weights nothing,
        it names the calls.
        """
        if segments.nodes.numel() == 1 and segments.edge_ids.numel() == 0 and self.num_edges:
            loop = segments.nodes.new_zeros(1)
            segments = dataclasses.replace(segments, edge_segment=loop, edge_ids=loop, src=loop, dst=loop, message_edges=loop)
        return super()._discover(segments)

    # -- intercepting message passing ------------------------------------------------------

    def _intercept(self, call: Call, session: CallCounter) -> Tuple[Handler, ContextManager]:
        return message_weighting(self.model, session, self._name_of, located_on(call.structure, self.model))


def _check_homogeneous(graph: dgl.DGLGraph) -> None:
    """Raises an error naming the adapter to use for a block or a heterograph, and for a graph without nodes."""
    if graph.is_block:
        raise ValueError("the graph is a sampled block: use DGLBlockAdapter(model, blocks, ..., parent_graph=g)")
    if len(graph.canonical_etypes) != 1 or len(graph.ntypes) != 1:
        raise ValueError(
            f"the graph is a heterograph (edge types {graph.canonical_etypes}): use DGLHeteroAdapter, "
            f"whose masks are keyed by canonical edge type"
        )
    if graph.num_nodes() == 0:
        raise ValueError("the graph has no nodes: there is nothing to explain")


def _holds_graphs(value: Any) -> bool:
    """Whether ``value`` is a DGLGraph or a list or tuple holding one (sampled blocks)."""
    return isinstance(value, dgl.DGLGraph) or isinstance(value, (list, tuple)) and any(isinstance(item, dgl.DGLGraph) for item in value)


def _takes_graph_first(model: torch.nn.Module, graph: dgl.DGLGraph, slots: List[Slot]) -> bool:
    """Whether ``model.forward`` refuses the call's arguments alone but takes them after ``graph``."""
    signature = inspect.signature(model.forward)
    args, kwargs = assemble(slots, {slot.key: slot.value for slot in slots})
    try:
        signature.bind(*args, **kwargs)
        return False
    except TypeError:
        pass
    try:
        signature.bind(graph, *args, **kwargs)
        return True
    except TypeError:
        return False


def _held_name(model: torch.nn.Module, call_graph: dgl.DGLGraph) -> Optional[str]:
    """The attribute path (``'model.g'``) of a graph the model holds that the call runs on, if it holds one."""
    for name, module in model.named_modules():
        for attribute, value in vars(module).items():
            if isinstance(value, dgl.DGLGraph) and _same_graph(call_graph, value):
                return ".".join(["model"] + ([name] if name else []) + [attribute])
    return None


def _foreign_graph(model: torch.nn.Module, call_graph: dgl.DGLGraph, given: bool) -> str:
    """Why a call on a graph other than the input graph cannot be attributed, and what to do (for UnsupportedLayerError).

    Args:
        model (torch.nn.Module): The model, to name a graph it holds itself.
        call_graph (dgl.DGLGraph): The graph of the call.
        given (bool): Whether the model was called with a graph.
    """
    held = _held_name(model, call_graph)
    if given:
        where = "not on the graph the model was given" if held else "whose edges are not those of the graph the model was given"
    else:
        where = "and the model was called without a DGLGraph"
    if held is not None:
        adapter = "DGLAdapter" if call_graph.is_homogeneous else "DGLHeteroAdapter"
        return f"it ran message passing on {held}, a graph the model holds itself, {where}: pass that graph as {adapter}(model, ..., graph={held})"
    return (
        f"it ran message passing on a graph built inside forward (KNNGraph, SegmentedKNNGraph, a dgl.graph(...) of new "
        f"edges), {where}: there is no input edge to attribute its messages to; build the graph outside the model, "
        f"pass it in (model(g, x)) and explain that graph"
    )


class EdgeWeightShim(torch.nn.Module):
    r"""Gives an unmodified DGL model the ``eweight`` argument DGL's explainers pass.

    ``dgl.nn.explain.GNNExplainer`` calls ``model(graph=g, feat=h, eweight=w)``
    and needs the model to multiply message ``e`` by ``w[e]``. The shim runs
    the wrapped model unchanged and weights every message of every
    message-passing call by ``eweight`` (input level), as :class:`DGLAdapter`
    does with a mask. DGL's keywords are mapped to the model's own parameters
    (read from the signature of its ``forward``): the graph is passed first,
    and ``feat=`` becomes the model's parameter after the graph unless
    ``forward`` has one named ``feat``, so models written as DGL's examples
    write them (``forward(g, features)``, ``forward(g, inputs)``,
    ``forward(g, h)``) work unchanged.

    Args:
        model (torch.nn.Module): The DGL model, ``model(graph, *args, **kwargs)``.

    Example::

        >>> explainer = dgl.nn.explain.GNNExplainer(EdgeWeightShim(model), num_hops=2)
        >>> center, subgraph, feat_mask, edge_mask = explainer.explain_node(10, g, feat)
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        parameters = inspect.signature(model.forward).parameters.values()
        positional = [p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        #: Whether the model's forward has a parameter named ``feat`` (DGL's keyword then passes as it is).
        self._takes_feat = any(p.name == "feat" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) for p in parameters)
        #: The model's parameter after the graph, which ``feat=`` fills otherwise (``None``: it has none).
        self._features = positional[1] if len(positional) > 1 else None

    def forward(self, graph: dgl.DGLGraph, *args: Any, eweight: Optional[Tensor] = None, **kwargs: Any) -> Any:
        r"""Runs ``model(graph, *args, **kwargs)`` with messages weighted by ``eweight`` ``(E,)``.

        Args:
            graph (dgl.DGLGraph): The graph, passed as the model's first argument.
            *args: Further positional arguments of the model.
            eweight (Tensor, optional): One weight per edge of ``graph``, ``(E,)``;
                ``None`` runs the model unweighted.
            **kwargs: Keyword arguments of the model; ``feat=`` goes to the
                model's features parameter (see above).

        Returns:
            The model's output.
        """
        args, kwargs = self._model_call(args, kwargs)
        if eweight is None:
            return self.model(graph, *args, **kwargs)
        if not isinstance(graph, dgl.DGLGraph):
            raise TypeError(f"eweight weights the edges of one DGLGraph, got {type(graph).__name__}; for sampled blocks use DGLBlockAdapter")
        if eweight.shape != (graph.num_edges(),):
            raise ValueError(f"eweight must have shape ({graph.num_edges()},), one weight per edge; got {tuple(eweight.shape)}")
        src, dst = graph.edges(order="eid")
        session = MessageWeights(eweight.view(1, -1), None, src, dst)
        handler, routing = message_weighting(self.model, session, ModuleNames(self.model), located_on(graph, self.model))
        with prepared(self.model, handler), routing:
            return self.model(graph, *args, **kwargs)

    def _model_call(self, args: tuple, kwargs: Dict[str, Any]) -> Tuple[tuple, Dict[str, Any]]:
        """``(args, kwargs)`` with DGL's ``feat=`` moved to the model's own features parameter."""
        if "feat" not in kwargs or self._takes_feat:
            return args, kwargs
        name = type(self.model).__name__
        if self._features is None:
            raise TypeError(
                f"DGL's explainer passes the node features as feat=, but {name}.forward takes no argument after the "
                f"graph; explain it with edgeattr.DGLAdapter(model, g, ...) instead"
            )
        if args:
            raise TypeError(f"the features came both as feat= and positionally; {name}.forward takes them as {self._features!r}")
        rest = {key: value for key, value in kwargs.items() if key != "feat"}
        return (kwargs["feat"],), rest


#: Maps the pass's weights and the graph of a call to its messages' positions in the batched edges (see MessageWeights.weights_at).
Locate = Callable[[MessageWeights, dgl.DGLGraph], MessagePositions]


def locate_by_edges(session: MessageWeights, call_graph: dgl.DGLGraph) -> MessagePositions:
    r"""Matches a call's messages to the session's edges through ``dgl.EID``, or by their endpoints.

    The compute graphs of ``send_and_recv`` / ``pull`` and subgraphs taken
    inside forward carry the ids of the graph's edges in ``dgl.EID``; they are
    used where they name edges with the call's endpoints. A call on the graph
    itself (or a ``local_scope`` or relation view of it), or on it with
    self-loops the model appended (weight 1), is matched by its endpoints, so
    that ids the user's graph carries from an earlier subgraph (a
    ``dgl.node_subgraph`` or ``khop_in_subgraph`` result) are never read as
    positions.
    """
    src, dst = call_graph.edges(order="eid")
    if dgl.EID in call_graph.edata:
        positions = _positions_by_id(call_graph, src, dst, session.ref_src, session.ref_dst)
        if positions is not None:
            return positions
    return align_messages(src, dst, session.ref_src, session.ref_dst, session.policy(len(session.layers) - 1))


def located_on(structure: dgl.DGLGraph, model: torch.nn.Module) -> Locate:
    r"""Locates the messages of calls on ``structure``, the graph of the pass, whose edges are the session's.

    A call on that graph itself (inside a ``local_scope`` of it, or on the
    relation view ``update_all`` takes of it) passes its edges in order; any
    other graph goes through :func:`locate_by_edges`.

    Args:
        structure (dgl.DGLGraph): The graph the pass runs on.
        model (torch.nn.Module): The model, to name a graph it holds itself in errors.

    Returns:
        Locate: The function of ``(session, call_graph)``; it raises
        :class:`UnsupportedLayerError` for a graph whose edges are not those of
        ``structure`` (a graph built inside forward).
    """

    def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> MessagePositions:
        if _same_graph(call_graph, structure):
            return IN_ORDER
        try:
            return locate_by_edges(session, call_graph)
        except UnsupportedLayerError:
            raise UnsupportedLayerError(_foreign_graph(model, call_graph, given=True)) from None

    return locate


def _same_graph(call_graph: dgl.DGLGraph, graph: dgl.DGLGraph) -> bool:
    """Whether ``call_graph`` is ``graph``, or a view of it sharing its edges and their data (``graph[etype]``)."""
    if call_graph._graph is graph._graph:
        return True
    frames = call_graph._edge_frames
    return len(frames) == 1 and len(graph._edge_frames) == 1 and frames[0] is graph._edge_frames[0] and call_graph.num_edges() == graph.num_edges()


def _positions_by_id(call_graph: dgl.DGLGraph, src: Tensor, dst: Tensor, ref_src: Tensor, ref_dst: Tensor) -> Optional[Tensor]:
    """The call's ``dgl.EID`` if it names, for every message, an edge with the message's endpoints; else ``None``."""
    ids = call_graph.edata[dgl.EID]
    if ids.numel() != src.numel() or (ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= ref_src.numel())):
        return None
    if dgl.NID in call_graph.srcdata:  # a relabelled compute graph: endpoints by their ids in the graph
        src = call_graph.srcdata[dgl.NID][src]
    if dgl.NID in call_graph.dstdata:
        dst = call_graph.dstdata[dgl.NID][dst]
    ids = ids.long()
    return ids if torch.equal(ref_src[ids], src) and torch.equal(ref_dst[ids], dst) else None


class _ModuleStack(Handler):
    """The model's modules currently in their forward, innermost last (this thread)."""

    def __init__(self) -> None:
        self.running: List[torch.nn.Module] = []

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        self.running.append(module)

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if self.running and self.running[-1] is module:
            self.running.pop()


def message_weighting(model: torch.nn.Module, session: CallCounter, name_of: ModuleNames, locate: Locate) -> Tuple[Handler, ContextManager]:
    r"""What weights every DGL message-passing call of this thread by ``session`` (or counts them) while the model runs.

    Each call of DGL's message passing, and each aggregation by DGL's sparse
    operators outside it (``dgl.ops.gspmm`` and its named forms such as
    ``u_mul_e_sum``), is one layer, named by the innermost module running when
    it is made; ``locate`` maps its messages to the session's edges. An
    aggregation by those operators over several edge types at once (a
    ``gspmm`` on a heterograph) raises :class:`UnsupportedLayerError` naming the
    module, instead of running unweighted.

    Returns:
        The handler to route the model's hooks to (it tracks the running
        module) and the context that routes DGL's message passing.
    """
    modules = _ModuleStack()

    def begin(call_graph: dgl.DGLGraph, aggregating: bool = False) -> Tuple[int, Optional[Tensor]]:
        """Registers a call; its layer and its messages' weights (``None``: counting, DGL's own message passing runs)."""
        module = modules.running[-1] if modules.running else model
        name = name_of(module)
        if aggregating and call_graph._graph.number_of_etypes() != 1:
            raise unsupported(
                name, module, "it aggregates over several edge types at once with dgl.ops (a gspmm on a heterograph), "
                "whose messages edgeattr cannot weight; aggregate with update_all or multi_update_all, or one relation at a time",
            )
        layer = session.begin_call(name, module)
        if not isinstance(session, MessageWeights):
            session.record(call_graph.num_edges())
            return layer, None
        try:
            positions = locate(session, call_graph)
        except UnsupportedLayerError as error:
            raise unsupported(name, module, str(error)) from None
        return layer, session.weights_at(layer, positions)

    def message_passing(call_graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any) -> Dict[str, Tensor]:
        return weighted_message_passing(call_graph, mfunc, rfunc, afunc, begin(call_graph)[1])

    def aggregation(call_graph: dgl.DGLGraph, op: str, reduce_op: str, lhs: Optional[Tensor], rhs: Optional[Tensor]) -> Tensor:
        return weighted_aggregation(call_graph, op, reduce_op, lhs, rhs, begin(call_graph, aggregating=True)[1])

    return modules, _routed(_Route(message_passing, aggregation))


def _copy_data(graph: dgl.DGLGraph, into: dgl.DGLGraph, nodes: Tensor, edges: Tensor) -> None:
    """Copies the graph's node and edge data of ``nodes`` and ``edges`` into ``into``."""
    for key, value in graph.ndata.items():
        into.ndata[key] = value[nodes]
    for key, value in graph.edata.items():
        into.edata[key] = value[edges]


def weighted_message_passing(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any, weights: Optional[Tensor]) -> Dict[str, Tensor]:
    r"""DGL's message passing with every message multiplied by its edge's weight before reduction.

    Mirrors ``dgl.core.message_passing``. Builtin functions that DGL fuses
    into one ``gspmm`` (``copy_u``, ``copy_e`` or ``u_<op>_e`` with a builtin
    reducer) run as :func:`weighted_aggregation`, fused too where the weight
    folds into the edge operand; other functions have their messages
    materialised and weighted. A call over several edge types at once
    (``update_all`` on a heterograph, builtin functions only, as DGL
    requires there) weights each type's messages by its part of ``weights``.

    Args:
        graph (dgl.DGLGraph): The graph of the call.
        mfunc, rfunc, afunc: Message, reduce and apply functions (builtin or UDF).
        weights (Tensor, optional): One weight per edge of ``graph``, ``(E,)``,
            edge type after edge type in the order of ``graph.canonical_etypes``;
            ``None`` runs DGL's own message passing.

    Returns:
        dict[str, Tensor]: The new node data, as DGL's returns it.
    """
    if weights is None:
        return _original_message_passing(graph, mfunc, rfunc, afunc)
    operands = _aggregation_operands(graph, mfunc, rfunc)
    if operands is not None:
        ndata = {rfunc.out_field: weighted_aggregation(graph, *operands, weights)}
    else:
        ndata = _reduced_weighted_messages(graph, mfunc, rfunc, weights)
    if afunc is not None:
        for key, value in graph.dstdata.items():
            ndata.setdefault(key, value)
        ndata = core.invoke_node_udf(graph, dgl.ALL, graph.dsttypes[0], afunc, ndata=ndata, orig_nid=graph.dstdata.get(dgl.NID, None))
    return ndata


def _aggregation_operands(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any) -> Optional[Tuple[str, str, Optional[Tensor], Optional[Tensor]]]:
    """``(op, reduce_op, lhs, rhs)`` of the ``gspmm`` DGL fuses the call into, on one edge type; else ``None``.

    DGL fuses a builtin message and reducer where it has an operator of their
    two names (``copy_u_sum``, ``u_mul_e_max``, ...): the message is ``op`` of
    the source's field (``lhs``) and the edge's field (``rhs``).
    """
    if not (core.is_builtin(mfunc) and core.is_builtin(rfunc) and hasattr(dgl.ops, f"{mfunc.name}_{rfunc.name}")):
        return None
    if graph._graph.number_of_etypes() != 1 or mfunc.out_field != rfunc.msg_field:
        return None  # DGL's unfused path: per edge type, or its error for fields that do not meet
    data = (graph.srcdata, graph.dstdata, graph.edata)
    if isinstance(mfunc, fn.BinaryMessageFunction):
        return mfunc.binary_op, rfunc.name, data[mfunc.lhs][mfunc.lhs_field], data[mfunc.rhs][mfunc.rhs_field]
    operand = data[mfunc.target][mfunc.in_field]
    return ("copy_lhs", rfunc.name, operand, None) if mfunc.name == "copy_u" else ("copy_rhs", rfunc.name, None, operand)


def _reduced_weighted_messages(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, weights: Tensor) -> Dict[str, Tensor]:
    """DGL's two steps of unfused message passing, messages then reduction, with the messages weighted between them."""
    if core.is_builtin(mfunc):
        messages = core.invoke_gsddmm(graph, mfunc)
    else:
        messages = core.invoke_edge_udf(graph, dgl.ALL, graph.canonical_etypes[0], mfunc, orig_eid=graph.edata.get(dgl.EID, None))
    messages = {key: _weighted(value, weights, graph) for key, value in messages.items()}
    if core.is_builtin(rfunc):
        field = rfunc.msg_field
        return core.invoke_gspmm(graph, fn.copy_e(field, field), rfunc, edata=messages)
    return core.invoke_udf_reduce(graph, rfunc, messages, orig_nid=graph.dstdata.get(dgl.NID, None))


def _weighted(messages: Any, weights: Tensor, graph: dgl.DGLGraph) -> Any:
    """Each message times its edge's weight; per edge type (a tuple, in the order of ``graph.canonical_etypes``) over several."""
    if not isinstance(messages, (tuple, list)):
        return messages * _per_edge(weights, messages)
    parts = weights.split([graph.num_edges(etype) for etype in graph.canonical_etypes])
    return tuple(None if value is None else _weighted(value, part, graph) for value, part in zip(messages, parts))


def weighted_aggregation(graph: dgl.DGLGraph, op: str, reduce_op: str, lhs: Optional[Tensor], rhs: Optional[Tensor], weights: Optional[Tensor]) -> Tensor:
    r"""DGL's ``gspmm(graph, op, reduce_op, lhs, rhs)`` with every message multiplied by its edge's weight.

    The message :math:`\rho(x_u, x_e)` of edge :math:`e = (u, v)` becomes
    :math:`w_e \, \rho(x_u, x_e)`. Where the weight folds into the edge
    operand, one fused ``gspmm`` computes it, as DGL computes an edge-weighted
    convolution (``u_mul_e``), without materialising the messages:
    :math:`w_e x_u` (``copy_lhs``), :math:`w_e x_e` (``copy_rhs``) and
    :math:`x_u (w_e x_e)` (``mul``). Other operators have their messages
    computed per edge (``gsddmm``), weighted, and reduced onto the destinations.

    Args:
        graph (dgl.DGLGraph): The graph of the call.
        op (str): ``'add'``, ``'sub'``, ``'mul'``, ``'div'``, ``'copy_lhs'`` or ``'copy_rhs'``.
        reduce_op (str): ``'sum'``, ``'max'``, ``'min'`` or ``'mean'``.
        lhs (Tensor, optional): Source node features; rhs (Tensor, optional): edge features.
        weights (Tensor, optional): One weight per edge, ``(E,)``; ``None`` runs DGL's own.

    Returns:
        Tensor: The reduced features of the destination nodes.
    """
    if weights is None:
        return _original_gspmm(graph, op, reduce_op, lhs, rhs)
    if op == "copy_lhs":
        assert lhs is not None
        return _original_gspmm(graph, "mul", reduce_op, lhs, _per_edge(weights, lhs))
    if op in ("copy_rhs", "mul"):
        assert rhs is not None
        return _original_gspmm(graph, op, reduce_op, lhs, rhs * _per_edge(weights, rhs))
    messages = dgl.ops.gsddmm(graph, op, lhs, rhs, "u", "e")
    return _original_gspmm(graph, "copy_rhs", reduce_op, None, messages * _per_edge(weights, messages))


def _per_edge(weights: Tensor, like: Tensor) -> Tensor:
    """The weights ``(E,)`` shaped ``(E, 1, ..., 1)`` to scale per-edge values of ``like``'s dimensions, in its dtype."""
    return weights.view((-1,) + (1,) * (like.dim() - 1)).to(like.dtype)


# -- routing dgl.core.message_passing and dgl.ops.gspmm, thread by thread ---------------------


class _Route:
    """This thread's handlers of DGL's message passing and of aggregations outside it."""

    def __init__(self, message_passing: Callable, aggregation: Callable) -> None:
        self.message_passing, self.aggregation = message_passing, aggregation
        #: Whether a message-passing call is running (its own sparse kernels are not further calls).
        self.inside = False


_original_message_passing: Callable = core.message_passing
_original_gspmm: Callable = dgl.ops.spmm.gspmm
_route = threading.local()
_users_lock = threading.Lock()
_users = 0


def _dispatch(graph: dgl.DGLGraph, mfunc: Any, rfunc: Any, afunc: Any) -> Dict[str, Tensor]:
    route: Optional[_Route] = getattr(_route, "handler", None)
    if route is None or route.inside:
        return _original_message_passing(graph, mfunc, rfunc, afunc)
    route.inside = True
    try:
        return route.message_passing(graph, mfunc, rfunc, afunc)
    finally:
        route.inside = False


def _dispatch_gspmm(graph: dgl.DGLGraph, op: str, reduce_op: str, lhs_data: Any, rhs_data: Any) -> Tensor:
    route: Optional[_Route] = getattr(_route, "handler", None)
    if route is None or route.inside:
        return _original_gspmm(graph, op, reduce_op, lhs_data, rhs_data)
    route.inside = True
    try:
        return route.aggregation(graph, op, reduce_op, lhs_data, rhs_data)
    finally:
        route.inside = False


def _patch(message_passing: Callable, gspmm: Callable) -> None:
    core.message_passing = message_passing
    dgl.ops.spmm.gspmm = dgl.ops.gspmm = gspmm


@contextmanager
def _routed(route: _Route) -> Iterator[None]:
    """Routes this thread's DGL message passing and sparse aggregations to ``route``; DGL is unpatched once no thread needs it."""
    global _users
    with _users_lock:
        if _users == 0:
            _patch(_dispatch, _dispatch_gspmm)
        _users += 1
    previous = getattr(_route, "handler", None)
    _route.handler = route
    try:
        yield
    finally:
        _route.handler = previous
        with _users_lock:
            _users -= 1
            if _users == 0:
                _patch(_original_message_passing, _original_gspmm)

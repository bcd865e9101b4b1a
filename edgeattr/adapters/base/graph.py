r"""An adapter around one model call on one graph, whatever the framework.

:class:`GraphAdapter` holds everything the PyG and DGL adapters share: binding
the model call, restricting it to the computation subgraph of the target,
copying it for a batch of masks, running it with every message-passing call
weighted (or edges deleted), discovering the layers, and checking the output.
A framework adapter supplies only how its graph structure is read, cut and
copied, and how its message passing is intercepted.
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from typing import Any, ContextManager, Dict, Iterable, List, Optional, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import (
    EdgeMaskAdapter,
    copy_offsets,
    repeat_rows,
    unsupported,
)
from edgeattr.adapters.base.call import (
    BATCH,
    EDGE,
    NODE,
    STRUCTURE,
    Call,
    Key,
    Slot,
    assemble,
    bind,
    classify,
    find,
    node_count,
)
from edgeattr.adapters.base.messages import (
    Layer,
    MessageWeights,
    discover_layers,
    loop_policy,
)
from edgeattr.adapters.base.prepared import Handler, Handlers, prepared
from edgeattr.adapters.base.subgraph import computation_subgraph, relabeling


class GraphAdapter(EdgeMaskAdapter):
    r"""A model bound to its call on one graph, as a Captum ``forward_func`` of an edge mask.

    Args:
        model (torch.nn.Module): The model, unchanged.
        model_args (tuple): Positional arguments of the model call.
        model_kwargs (dict): Keyword arguments of the model call.
        index (int, optional): Node id (node task) or graph id (graph task).
        layerwise (bool): One mask row per message-passing call.
        task (str, optional): ``'node'`` or ``'graph'``; default per framework.
        restrict (bool): Restrict node targets to their computation subgraph.
        copies_per_pass (int, optional): Masks run per forward pass.
        structure_arg (int or str, optional): Position or name of the graph argument.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        model_args: tuple,
        model_kwargs: dict,
        *,
        index: Optional[int],
        layerwise: bool,
        task: Optional[str],
        restrict: bool,
        copies_per_pass: Optional[int],
        structure_arg: Optional[Key],
    ) -> None:
        super().__init__(model, layerwise=layerwise, copies_per_pass=copies_per_pass)
        self._check_model()
        self._slots = bind(model, model_args, model_kwargs)
        self._structure = self._find_structure(self._slots, structure_arg)
        self._structure.kind = STRUCTURE
        self._src, self._dst, num_nodes = self._edges(self._structure.value)
        self.num_edges = self._src.numel()
        features = node_count(self._slots)
        if num_nodes is None:
            num_nodes = features if features is not None else int(torch.cat([self._src, self._dst]).max()) + 1 if self.num_edges else 0
        self.num_nodes = num_nodes
        if self.num_edges and (min(self._src.min(), self._dst.min()) < 0 or max(self._src.max(), self._dst.max()) >= num_nodes):
            raise ValueError(
                f"the edges hold node ids outside [0, {num_nodes}); the node features have {num_nodes} rows"
            )
        classify(self._slots, self.num_nodes, self.num_edges)
        self.task = task or self._default_task()
        if self.task not in ("node", "graph"):
            raise ValueError(f"task must be 'node' or 'graph', got {task!r}")
        self.index = self._check_index(index)
        self._cache: Optional[Tuple[int, Call]] = None
        self.layers = self._bind_computation_graph(restrict)
        self.num_layers = len(self.layers)
        self._check_finite()
        self._loop_policies = self._probe_loop_policies()

    # -- what a framework adapter provides -------------------------------------------------

    def _check_model(self) -> None:
        r"""Raises :class:`UnsupportedLayerError` for layers known to bypass message passing."""

    @abstractmethod
    def _find_structure(self, slots: List[Slot], structure_arg: Optional[Key]) -> Slot:
        r"""The slot holding the graph (an ``edge_index``, a ``DGLGraph``)."""

    @abstractmethod
    def _edges(self, structure: Any) -> Tuple[Tensor, Tensor, Optional[int]]:
        r"""``(src, dst, num_nodes)`` of the user's graph; ``num_nodes`` if the structure knows it."""

    @abstractmethod
    def _default_task(self) -> str:
        r"""The task when none is given."""

    @abstractmethod
    def _num_graphs(self) -> int:
        r"""Graphs in the user's input (1 for a single graph)."""

    @abstractmethod
    def _graph_nodes(self, index: int) -> Tensor:
        r"""Node ids of graph ``index``."""

    @abstractmethod
    def _restrict_structure(self, structure: Any, nodes: Tensor, edges: Tensor, relabel: Tensor) -> Any:
        r"""The graph of ``nodes`` (relabelled by ``relabel``) and ``edges``, in that order."""

    @abstractmethod
    def _repeat_structure(self, structure: Any, copies: int, num_nodes: int) -> Tuple[Any, Tensor, Tensor]:
        r"""``copies`` disjoint copies of the graph, with their ``src`` and ``dst``."""

    @abstractmethod
    def _cut_structure(self, structure: Any, keep: Tensor) -> Tuple[Any, Tensor, Tensor]:
        r"""The graph without the edges ``keep`` drops (the rest in order), with its ``src``, ``dst``."""

    @abstractmethod
    def _probe_structure(self, structure: Any) -> Tuple[Any, Tensor, Tensor]:
        r"""A graph like ``structure`` with two nodes and one edge, a self-loop on node 0, with its src, dst."""

    @abstractmethod
    def _intercept(self, call: Call, session: MessageWeights) -> Tuple[Handler, ContextManager]:
        r"""What weights every message-passing call of this thread by ``session``.

        Returns:
            A :class:`Handler` for the model's hooks and a context (for what
            the hooks cannot reach, like DGL's message passing).
        """

    def _batches_graphs(self) -> bool:
        r"""Whether copies of a graph-level input are pooled separately."""
        return True

    def _is_local(self) -> bool:
        r"""Whether a node's output depends on its in-neighbourhood alone."""
        return True

    # -- properties -----------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self._src.device

    def _input_tensors(self) -> Iterable[Tensor]:
        return (slot.value for slot in self._slots if isinstance(slot.value, Tensor))

    @property
    def copies_per_pass(self) -> int:
        if self.task == "graph" and not self._batches_graphs():
            return 1
        return super().copies_per_pass

    def _graph_size(self) -> int:
        return self._sub_nodes.numel() + self.edge_ids.numel()

    def _slot(self, kind: str) -> Optional[Slot]:
        return find(self._slots, kind)

    # -- the computation graph ------------------------------------------------------------

    def _check_index(self, index: Any) -> Optional[int]:
        if isinstance(index, Tensor):
            if index.numel() != 1 or index.is_floating_point():
                raise ValueError(f"index must be a single integer node or graph id, got a {index.dtype} tensor of shape {tuple(index.shape)}")
            index = int(index)
        if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral)):
            raise TypeError(f"index must be an integer node or graph id, got {index!r}")
        if self.task == "node":
            if index is None:
                raise ValueError("index is required for a node task: pass the node id to explain, e.g. index=0")
            if not 0 <= index < self.num_nodes:
                raise IndexError(f"index {index} is out of range for a graph with {self.num_nodes} nodes")
            return int(index)
        num_graphs = self._num_graphs()
        if index is None:
            if num_graphs > 1:
                raise ValueError(f"index is required: the input holds {num_graphs} graphs; pass the graph id")
            return 0
        if not 0 <= index < num_graphs:
            raise IndexError(f"index {index} is out of range for an input of {num_graphs} graphs")
        return int(index)

    def _bind_computation_graph(self, restrict: bool) -> List[Layer]:
        """Restricts the call to what the target depends on and discovers the layers."""
        every_node = torch.arange(self.num_nodes, device=self.device)
        every_edge = torch.arange(self.num_edges, device=self.device)
        if self.task == "graph":
            nodes = self._graph_nodes(self.index)
            inside = torch.zeros(self.num_nodes, dtype=torch.bool, device=self.device)
            inside[nodes] = True
            self._restrict_to(nodes, (inside[self._src] & inside[self._dst]).nonzero().view(-1))
            return self._discover()
        if not (restrict and self._is_local()):
            self._restrict_to(every_node, every_edge)
            return self._discover()
        target = torch.tensor([self.index], device=self.device)
        self._restrict_to(target, every_edge[:0])
        try:
            layers = self._discover()
        except Exception:  # a model that cannot run on a single node: discover on the graph
            self._restrict_to(every_node, every_edge)
            layers = self._discover()
        self._restrict_to(*computation_subgraph(self._src, self._dst, target, len(layers), self.num_nodes))
        return layers

    def _check_finite(self) -> None:
        """Raises if the features the explanation reads (those of the computation graph) hold NaN or inf."""
        for slot in self._slots:
            value = self._sub_values[slot.key]
            if slot.kind in (NODE, EDGE) and value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(f"argument {slot.name or slot.key!r} holds NaN or inf; explanations need finite features")

    def _restrict_to(self, nodes: Tensor, edges: Tensor, carriers: Optional[Tensor] = None) -> None:
        """Makes the graph of ``nodes`` and ``edges`` the one that is run.

        ``carriers`` are the positions in ``edges`` of the edges whose messages
        can reach the target (default: all).
        """
        self._sub_nodes, self.edge_ids = nodes, edges
        self.message_edges = torch.arange(edges.numel(), device=self.device) if carriers is None else carriers
        self._cache = None
        relabel = relabeling(nodes, self.num_nodes)
        values: Dict[Key, Any] = {}
        for slot in self._slots:
            value = slot.value
            if slot.kind == STRUCTURE:
                value = self._restrict_structure(value, nodes, edges, relabel)
            elif slot.kind == NODE:
                value = value[nodes]
            elif slot.kind == EDGE:
                value = value[edges]
            elif slot.kind == BATCH:
                value = torch.zeros_like(value[nodes]) if self.task == "graph" else value[nodes]
            values[slot.key] = value
        self._sub_values = values
        self._rows = relabel[self.index].view(1) if self.task == "node" else torch.zeros(1, dtype=torch.long, device=self.device)

    def _copies(self, copies: int) -> Call:
        """The model call for ``copies`` disjoint copies of the computation graph (cached)."""
        if self._cache is not None and self._cache[0] == copies:
            return self._cache[1]
        num_nodes = self._sub_nodes.numel()
        values: Dict[Key, Any] = {}
        edge_values: List[Tensor] = []
        for slot in self._slots:
            value = self._sub_values[slot.key]
            if slot.kind == STRUCTURE:
                value, src, dst = self._repeat_structure(value, copies, num_nodes)
                structure = value
            elif slot.kind in (NODE, EDGE):
                value = repeat_rows(value, copies)
                if slot.kind == EDGE:
                    edge_values.append(value)
            elif slot.kind == BATCH:
                step = 1 if self.task == "graph" else (int(value.max()) + 1 if value.numel() else 1)
                value = value.repeat(copies) + copy_offsets(copies, num_nodes, step, self.device)
            values[slot.key] = value
        args, kwargs = assemble(self._slots, values)
        rows = (self._rows + torch.arange(copies, device=self.device) * (num_nodes if self.task == "node" else 1)).view(-1)
        call = Call(args, kwargs, structure, src, dst, rows, edge_values)
        self._cache = (copies, call)
        return call

    def _without_edges(self, call: Call, keep: Tensor) -> Call:
        """The same call with the edges ``keep`` drops deleted from the graph and edge features."""
        structure, src, dst = self._cut_structure(call.structure, keep)
        replaced = {id(call.structure): structure, **{id(v): v[keep] for v in call.edge_values}}
        return call.replace(replaced, structure, src, dst)

    # -- running the model ----------------------------------------------------------------

    def _discover(self) -> List[Layer]:
        call = self._copies(1)
        return discover_layers(lambda session: self._call(call, session, None), self.device, "the graph")

    def _probe_loop_policies(self) -> Optional[List[Optional[str]]]:
        """How each layer treats input self-loops, from a run on a two-node graph with one self-loop.

        Returns ``None`` when the model cannot run on the probe or makes another
        number of calls there; messages are then matched by their form alone.
        """
        values: Dict[Key, Any] = {}
        structure, src, dst = self._probe_structure(self._structure.value)
        for slot in self._slots:
            value = slot.value
            if slot.kind == STRUCTURE:
                value = structure
            elif slot.kind == NODE:
                value = value[torch.zeros(2, dtype=torch.long, device=self.device)]
            elif slot.kind == EDGE:
                value = value[:1] if value.size(0) else value.new_zeros((1,) + value.shape[1:])
            elif slot.kind == BATCH:
                value = torch.zeros(2, dtype=value.dtype, device=self.device)
            values[slot.key] = value
        args, kwargs = assemble(self._slots, values)
        probe = Call(args, kwargs, structure, src, dst, torch.zeros(1, dtype=torch.long, device=self.device))
        session = MessageWeights(None, None, src, dst)
        try:
            with torch.no_grad():
                self._forward(probe, session, None)
        except Exception:  # the model cannot run on the probe graph
            return None
        if len(session.layers) != self.num_layers or len(session.message_counts) != self.num_layers:
            return None
        return [loop_policy(count) for count in session.message_counts]

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        call = self._copies(copies)
        layer_keep = None
        if keep is not None and not self.layerwise:
            call = self._without_edges(call, keep.reshape(-1))
        elif keep is not None:
            layer_keep = keep
        session = MessageWeights(weights, self.num_layers, call.src, call.dst, self._loop_policies)
        out = self._call(call, session, layer_keep)
        session.finish()
        return out[call.rows]

    def _forward(self, call: Call, session: MessageWeights, layer_keep: Optional[Tensor]) -> Any:
        handler, routing = self._intercept(call, session)
        if layer_keep is not None:
            handler = Handlers([handler, self._layer_removal(call, session, layer_keep)])
        with prepared(self.model, handler), routing:
            return self.model(*call.args, **call.kwargs)

    def _call(self, call: Call, session: MessageWeights, layer_keep: Optional[Tensor]) -> Tensor:
        out = self._forward(call, session, layer_keep)
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor, got {type(out).__name__}")
        expected = call.rows.numel() * (self._sub_nodes.numel() if self.task == "node" else 1)
        if out.dim() == 0 or out.size(0) != expected:
            other = "graph" if self.task == "node" else "node"
            raise ValueError(
                f"the model returned {tuple(out.shape)} for a {self.task} task with {expected} "
                f"{self.task}s in the pass; if it predicts per {other}, pass task='{other}'"
            )
        return out

    def _layer_removal(self, call: Call, session: MessageWeights, keep: Tensor) -> Handler:
        """Deletes, at each layer ``l``, the edges ``keep[:, l]`` drops from the inputs of the layer's module."""
        return _LayerRemoval(self, call, session, keep)


class _LayerRemoval(Handler):
    """Cuts the graph argument of each layer's module down to the edges kept at that layer.

    Raises:
        UnsupportedLayerError: when a layer's module does not receive the graph
            argument itself, or makes several calls per forward whose edges to
            delete differ.
    """

    def __init__(self, adapter: GraphAdapter, call: Call, session: MessageWeights, keep: Tensor) -> None:
        self.adapter, self.call, self.session, self.keep = adapter, call, session, keep
        self.modules = {id(layer.module) for layer in adapter.layers}
        self.starts: List[int] = []

    def _name(self, module: torch.nn.Module) -> str:
        return self.adapter._name_of(module)

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        if id(module) not in self.modules:
            return None
        layer = len(self.session.layers)
        self.starts.append(layer)
        if layer >= self.keep.size(1):
            return None
        flat = self.keep[:, layer].reshape(-1)
        structure, _, _ = self.adapter._cut_structure(self.call.structure, flat)
        replaced = {id(self.call.structure): structure, **{id(v): v[flat] for v in self.call.edge_values}}
        if not any(id(v) in replaced for v in args + tuple(kwargs.values())):
            raise unsupported(
                self._name(module), module,
                "mode='remove' per layer needs the layer to receive the graph argument unchanged; use mode='message'",
            )
        return tuple(replaced.get(id(a), a) for a in args), {k: replaced.get(id(v), v) for k, v in kwargs.items()}

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if id(module) not in self.modules:
            return None
        first, last = self.starts.pop(), len(self.session.layers)
        if last - first > 1 and not (self.keep[:, first:last] == self.keep[:, first : first + 1]).all():
            raise unsupported(
                self._name(module), module,
                f"it makes {last - first} message-passing calls per forward, so an edge cannot be "
                f"removed from one of them alone; use mode='message'",
            )
        return None

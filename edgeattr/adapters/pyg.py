r"""The PyTorch Geometric adapter: edge masks for unmodified PyG models."""

from __future__ import annotations

import inspect
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing

from edgeattr.adapters.base import (
    EdgeMaskAdapter,
    Layer,
    MessageWeights,
    copy_offsets,
    eval_mode,
    names_of,
    repeat_rows,
    unsupported,
)
from edgeattr.errors import UnsupportedLayerError

#: Layers that split ``edge_index`` by relation or run dense kernels, so that
#: their messages cannot be matched to edges.
UNSUPPORTED_LAYERS = {
    "RGCNConv": "it splits edge_index by relation type before message passing",
    "FastRGCNConv": "it gathers messages per relation type outside the edge order",
    "RGATConv": "it splits edge_index by relation type before message passing",
}

#: Modules that mix information across all nodes, so that a node's output is
#: not a function of its L-hop neighbourhood alone (the adapter then works on
#: the whole graph instead of the computation subgraph).
GLOBAL_MODULES = {"GraphNorm", "PairNorm", "InstanceNorm", "LayerNorm", "GraphSizeNorm", "MeanSubtractionNorm", "DiffGroupNorm"}

Key = Union[int, str]


@dataclass
class _Slot:
    """One argument of the model call and how it follows the graph."""

    key: Key
    kind: str  # 'edge_index' | 'node' | 'edge' | 'batch' | 'static'
    value: Any


@dataclass
class _Graph:
    """The model call for some number of disjoint copies of a graph."""

    args: List[Any]
    kwargs: Dict[str, Any]
    edge_index: Tensor
    edge_tensors: List[Tensor] = field(default_factory=list)
    rows: Optional[Tensor] = None


class PyGAdapter(EdgeMaskAdapter):
    r"""Edge masks for a PyTorch Geometric model, as a Captum ``forward_func``.

    The model is called exactly as the codebase calls it,
    ``model(*model_args, **model_kwargs)``. Every message of every
    :class:`~torch_geometric.nn.conv.MessagePassing` call is multiplied by its
    edge's mask entry through PyG's message hooks, so that with the mask
    :math:`w` the explained output is :math:`z(w)` and :math:`z(\mathbf{1})`
    is the model's own output. A module called :math:`k` times (APPNP's
    propagation) is :math:`k` layers, in call order.

    For a node target, the work is restricted to the nodes that reach the
    target in :math:`L` hops (plus the in-edges of the outermost ones, which
    degree normalisation reads); attributions are still indexed by the columns
    of ``edge_index`` and are exactly zero outside. For a graph target the work
    is restricted to that graph of the batch. ``B`` masks run as ``B`` disjoint
    copies of that graph in one forward pass, chunked by ``copies_per_pass``.

    Self-loops a layer adds itself (GCNConv, GATConv) keep weight 1 and are not
    attributed. The model is run in eval mode and every module's training flag,
    hook and parameter is as before when a call returns or raises.

    Args:
        model (torch.nn.Module): The model, unchanged.
        *model_args: Positional arguments of the model call, e.g. ``x, edge_index``.
        index (int, optional): The output row to explain: a node id (node task)
            or a graph id of ``batch`` (graph task). Required for node tasks.
        layerwise (bool, optional): If ``True``, masks have one row per layer,
            shape ``(B, L, E)``; else one mask shared by all layers, ``(B, E)``.
            (default: ``False``)
        task (str, optional): ``'node'`` or ``'graph'``. Default: ``'graph'``
            when a ``batch`` argument is passed, else ``'node'``.
        edge_index_arg (int or str, optional): Position or name of the
            ``edge_index`` argument. Default: the argument named ``edge_index``,
            else the first integer tensor of shape ``(2, E)``.
        restrict (bool, optional): Restrict node targets to their computation
            subgraph. Turned off automatically for models with global
            normalisation layers. (default: ``True``)
        copies_per_pass (int, optional): Masks run per forward pass. Default:
            as many as fit about two million nodes plus edges.
        **model_kwargs: Keyword arguments of the model call. Tensors whose
            first dimension is the number of nodes are node features, those
            whose first dimension is the number of edges (or whose name
            contains ``edge``) are edge features; both follow the graph.

    Example::

        >>> fwd = PyGAdapter(model, data.x, data.edge_index, index=10)
        >>> mask = fwd.ones()                       # (1, E)
        >>> fwd(mask).shape                         # (1, num_classes)
        >>> EdgeGradient(fwd).attribute(mask)       # (1, E)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *model_args: Any,
        index: Optional[int] = None,
        layerwise: bool = False,
        task: Optional[str] = None,
        edge_index_arg: Optional[Key] = None,
        restrict: bool = True,
        copies_per_pass: Optional[int] = None,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, copies_per_pass=copies_per_pass)
        self._names = names_of(model)
        _check_layers(model, self._names)
        self._slots = _bind(model, model_args, model_kwargs, edge_index_arg)
        edge_index = self._slot("edge_index").value
        self.num_edges = edge_index.size(1)
        self.num_nodes = self._count_nodes(edge_index)
        self._reclassify(edge_index)

        batch = self._slot("batch")
        self.task = task or ("graph" if batch is not None else "node")
        if self.task not in ("node", "graph"):
            raise ValueError(f"task must be 'node' or 'graph', got {task!r}")
        self.index = self._check_index(index, batch)
        self._cache: Optional[Tuple[int, _Graph]] = None

        if self.task == "graph":
            nodes = torch.arange(self.num_nodes, device=self.device) if batch is None else (batch.value == self.index).nonzero().view(-1)
            self._restrict_to(nodes, (self._node_mask(nodes)[edge_index]).all(0).nonzero().view(-1))
            self.layers = self._discover()
        elif restrict and _is_local(model):
            self._restrict_to(self._index_tensor(), edge_index.new_empty(0))
            try:
                self.layers = self._discover()
            except Exception:  # a model that cannot run on one node: discover on the graph
                self._restrict_to(torch.arange(self.num_nodes, device=self.device), torch.arange(self.num_edges, device=self.device))
                self.layers = self._discover()
            nodes, edges, carriers = _computation_subgraph(edge_index, self._index_tensor(), len(self.layers), self.num_nodes)
            self._restrict_to(nodes, edges, carriers)
        else:
            self._restrict_to(torch.arange(self.num_nodes, device=self.device), torch.arange(self.num_edges, device=self.device))
            self.layers = self._discover()
        self.num_layers = len(self.layers)

    # -- properties ----------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self._slot("edge_index").value.device

    @property
    def dtype(self) -> torch.dtype:
        for tensor in list(self.model.parameters()) + [s.value for s in self._slots if isinstance(s.value, Tensor)]:
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.get_default_dtype()

    def _graph_size(self) -> int:
        return self._sub_nodes.numel() + self.edge_ids.numel()

    @property
    def copies_per_pass(self) -> int:
        # Without a batch vector, copies of a graph-level model would be pooled together.
        if self.task == "graph" and self._slot("batch") is None:
            return 1
        return super().copies_per_pass

    # -- binding the call -----------------------------------------------------------------

    def _slot(self, kind: str) -> Optional[_Slot]:
        return next((slot for slot in self._slots if slot.kind == kind), None)

    def _count_nodes(self, edge_index: Tensor) -> int:
        for slot in self._slots:
            if slot.kind == "node":
                return slot.value.size(0)
        return int(edge_index.max()) + 1 if edge_index.numel() else 0

    def _reclassify(self, edge_index: Tensor) -> None:
        """Decides which tensors are node-level and which edge-level."""
        features = self._slot("node")  # the first node-level tensor sets the node count
        for slot in self._slots:
            if slot.kind != "node" or slot is features:
                continue
            size = slot.value.size(0)
            named_edge = isinstance(slot.key, str) and "edge" in slot.key
            if size == self.num_edges and (named_edge or size != self.num_nodes):
                slot.kind = "edge"
            elif size != self.num_nodes:
                slot.kind = "static"
        if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= self.num_nodes):
            raise ValueError(
                f"edge_index holds node ids outside [0, {self.num_nodes}); the node "
                f"features have {self.num_nodes} rows"
            )

    def _check_index(self, index: Optional[int], batch: Optional[_Slot]) -> int:
        if isinstance(index, Tensor):
            if index.numel() != 1:
                raise ValueError(f"index must be a single node or graph id, got a tensor of shape {tuple(index.shape)}")
            index = int(index)
        if self.task == "node":
            if index is None:
                raise ValueError("index is required for a node task: pass the node id to explain, e.g. index=0")
            if not 0 <= index < self.num_nodes:
                raise IndexError(f"index {index} is out of range for a graph with {self.num_nodes} nodes")
            return int(index)
        num_graphs = 1 if batch is None else int(batch.value.max()) + 1
        if index is None:
            if num_graphs > 1:
                raise ValueError(f"index is required: the batch holds {num_graphs} graphs; pass the graph id")
            return 0
        if not 0 <= index < num_graphs:
            raise IndexError(f"index {index} is out of range for a batch of {num_graphs} graphs")
        return int(index)

    def _index_tensor(self) -> Tensor:
        return torch.tensor([self.index], device=self.device)

    def _node_mask(self, nodes: Tensor) -> Tensor:
        mask = torch.zeros(self.num_nodes, dtype=torch.bool, device=self.device)
        mask[nodes] = True
        return mask

    # -- the computation graph -----------------------------------------------------------

    def _restrict_to(self, nodes: Tensor, edges: Tensor, carriers: Optional[Tensor] = None) -> None:
        """Makes the graph of ``nodes`` and ``edges`` the one that is run.

        ``carriers`` are the positions in ``edges`` of the edges whose messages
        can reach the target (default: all).
        """
        self._sub_nodes, self.edge_ids = nodes, edges
        self.message_edges = torch.arange(edges.numel(), device=self.device) if carriers is None else carriers
        self._cache = None
        relabel = torch.full((self.num_nodes,), -1, dtype=torch.long, device=self.device)
        relabel[nodes] = torch.arange(nodes.numel(), device=self.device)
        self._sub_values: Dict[Key, Any] = {}
        for slot in self._slots:
            if slot.kind == "edge_index":
                value = relabel[slot.value[:, edges]]
            elif slot.kind == "node":
                value = slot.value[nodes]
            elif slot.kind == "edge":
                value = slot.value[edges]
            elif slot.kind == "batch":
                value = torch.zeros_like(slot.value[nodes]) if self.task == "graph" else slot.value[nodes]
            else:
                value = slot.value
            self._sub_values[slot.key] = value
        self._rows = relabel[self.index].view(1) if self.task == "node" else torch.zeros(1, dtype=torch.long, device=self.device)

    def _copies(self, copies: int) -> _Graph:
        """The model call for ``copies`` disjoint copies of the computation graph (cached)."""
        if self._cache is not None and self._cache[0] == copies:
            return self._cache[1]
        num_nodes, num_edges = self._sub_nodes.numel(), self.edge_ids.numel()
        num_graphs = 1 if self.task == "graph" else 0
        args: List[Any] = []
        kwargs: Dict[str, Any] = {}
        edge_tensors: List[Tensor] = []
        edge_index = None
        for slot in self._slots:
            value = self._sub_values[slot.key]
            if slot.kind == "edge_index":
                value = value.repeat(1, copies) + copy_offsets(copies, num_edges, num_nodes, self.device) if copies > 1 else value
                edge_index = value
                edge_tensors.append(value)
            elif slot.kind in ("node", "edge"):
                value = repeat_rows(value, copies)
                if slot.kind == "edge":
                    edge_tensors.append(value)
            elif slot.kind == "batch":
                step = num_graphs or (int(value.max()) + 1 if value.numel() else 1)
                value = value.repeat(copies) + copy_offsets(copies, num_nodes, step, self.device)
            if isinstance(slot.key, int):
                args.append(value)
            else:
                kwargs[slot.key] = value
        per_copy_rows = num_nodes if self.task == "node" else 1
        rows = (self._rows + torch.arange(copies, device=self.device) * per_copy_rows).view(-1)
        graph = _Graph(args, kwargs, edge_index, edge_tensors, rows)
        self._cache = (copies, graph)
        return graph

    # -- running the model -----------------------------------------------------------------

    def _discover(self) -> List[Layer]:
        graph = self._copies(1)
        session = MessageWeights(None, None, graph.edge_index[0], graph.edge_index[1])
        with torch.no_grad():
            self._call(graph, session, layer_keep=None)
        if not session.layers:
            raise UnsupportedLayerError(
                f"{type(self.model).__name__} made no MessagePassing call: edgeattr can only "
                f"attribute to edges whose messages pass through torch_geometric's MessagePassing"
            )
        return session.layers

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        graph = self._copies(copies)
        layer_keep = None
        if keep is not None and not self.layerwise:
            graph = _without_edges(graph, keep.reshape(-1))
        elif keep is not None:
            layer_keep = keep
        session = MessageWeights(weights, self.num_layers, graph.edge_index[0], graph.edge_index[1])
        out = self._call(graph, session, layer_keep)
        session.finish()
        return out[graph.rows]

    def _call(self, graph: _Graph, session: MessageWeights, layer_keep: Optional[Tensor]) -> Tensor:
        with ExitStack() as stack:
            stack.enter_context(eval_mode(self.model))
            stack.enter_context(self._intercept(graph, session, layer_keep))
            out = self.model(*graph.args, **graph.kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor, got {type(out).__name__}")
        expected = graph.rows.numel() * (self._sub_nodes.numel() if self.task == "node" else 1)
        if out.dim() == 0 or out.size(0) != expected:
            other = "graph" if self.task == "node" else "node"
            raise ValueError(
                f"the model returned {tuple(out.shape)} for a {self.task} task with {expected} "
                f"{self.task}s in the pass; if it predicts per {other}, pass task='{other}'"
            )
        return out

    @contextmanager
    def _intercept(self, graph: _Graph, session: MessageWeights, layer_keep: Optional[Tensor]) -> Iterator[None]:
        """Installs the hooks that weight (or delete) each call's messages."""
        pending: Dict[int, List[Optional[Tensor]]] = {}
        handles = []

        def before_propagate(module: MessagePassing, inputs: tuple) -> None:
            if not session.owns_current_thread():
                return None
            edge_index = inputs[0]
            name = self._names.get(id(module), type(module).__name__)
            if not isinstance(edge_index, Tensor) or edge_index.layout != torch.strided:
                raise unsupported(name, module, "it propagates over a sparse adjacency matrix; pass edge_index as a (2, E) tensor")
            if module.decomposed_layers > 1:
                raise unsupported(name, module, "decomposed_layers > 1 splits messages; set decomposed_layers=1")
            layer = session.begin_call(name, module)
            if edge_index is graph.edge_index:
                weights = session.weights(layer)
            else:
                weights = session.weights(layer, edge_index[0], edge_index[1])
            pending.setdefault(id(module), []).append(weights)

        def after_message(module: MessagePassing, inputs: tuple, messages: Tensor) -> Optional[Tensor]:
            if not session.owns_current_thread():
                return None
            stack = pending[id(module)]
            weights = stack[-1]
            stack[-1] = None  # mark as applied
            if weights is None:
                return None
            dim = module.node_dim % messages.dim()
            if messages.size(dim) != weights.numel():
                name = self._names.get(id(module), type(module).__name__)
                raise unsupported(name, module, f"it sent {messages.size(dim)} messages along {weights.numel()} edges")
            shape = [1] * messages.dim()
            shape[dim] = -1
            return messages * weights.view(shape)

        def after_propagate(module: MessagePassing, inputs: tuple, output: Any) -> None:
            if not session.owns_current_thread():
                return None
            weights = pending[id(module)].pop()
            if weights is not None:
                name = self._names.get(id(module), type(module).__name__)
                raise unsupported(name, module, "it aggregated without calling message() (a fused kernel); the mask cannot be applied")

        modules = [m for m in self.model.modules() if isinstance(m, MessagePassing)]
        try:
            handles.append(_bypass_caches(modules))
            for module in modules:
                handles.append(module.register_propagate_forward_pre_hook(before_propagate))
                handles.append(module.register_message_forward_hook(after_message))
                handles.append(module.register_propagate_forward_hook(after_propagate))
                if layer_keep is not None:
                    handles.extend(_layer_removal_hooks(module, graph, session, layer_keep, self._names))
            yield
        finally:
            for handle in handles:
                handle.remove()


class _RestoreCaches:
    """Puts back the graph caches that :func:`_bypass_caches` set aside."""

    def __init__(self, saved: List[Tuple[torch.nn.Module, str, Any]]) -> None:
        self.saved = saved

    def remove(self) -> None:
        for module, attribute, value in self.saved:
            setattr(module, attribute, value)


def _bypass_caches(modules: List[MessagePassing]) -> _RestoreCaches:
    """Sets aside the normalised graph that ``cached=True`` layers keep from their first call.

    GCNConv, SGConv and friends would otherwise reuse it for the batched graph.
    """
    saved = []
    for module in modules:
        if getattr(module, "cached", False):
            for attribute in ["cached"] + [a for a in vars(module) if a.startswith("_cached")]:
                saved.append((module, attribute, getattr(module, attribute)))
                setattr(module, attribute, False if attribute == "cached" else None)
    return _RestoreCaches(saved)


def _layer_removal_hooks(module: MessagePassing, graph: _Graph, session: MessageWeights, keep: Tensor, names: dict) -> list:
    """Hooks deleting, per layer, the edges ``keep[:, l]`` drops from the module's inputs."""
    name = names.get(id(module), type(module).__name__)
    start: List[int] = []

    def before_forward(mod: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[tuple]:
        if not session.owns_current_thread():
            return None
        layer = len(session.layers)
        start.append(layer)
        if layer >= keep.size(1):
            return None
        flat = keep[:, layer].reshape(-1)

        def cut(value: Any) -> Any:
            if any(value is tensor for tensor in graph.edge_tensors):
                return value[:, flat] if value is graph.edge_index else value[flat]
            return value

        new_args, new_kwargs = tuple(cut(a) for a in args), {k: cut(v) for k, v in kwargs.items()}
        if all(a is b for a, b in zip(args + tuple(kwargs.values()), new_args + tuple(new_kwargs.values()))):
            raise unsupported(name, mod, "mode='remove' per layer needs the model to pass its edge_index argument unchanged to the layer; use mode='message'")
        return new_args, new_kwargs

    def after_forward(mod: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if not session.owns_current_thread():
            return None
        first, last = start.pop(), len(session.layers)
        if last - first > 1 and not (keep[:, first:last] == keep[:, first : first + 1]).all():
            raise unsupported(name, mod, f"it makes {last - first} message-passing calls per forward, so an edge cannot be removed from one of them alone; use mode='message'")
        return None

    return [
        module.register_forward_pre_hook(before_forward, with_kwargs=True),
        module.register_forward_hook(after_forward, with_kwargs=True),
    ]


def _without_edges(graph: _Graph, keep: Tensor) -> _Graph:
    """The same call with the edges ``keep`` drops deleted from every edge tensor."""
    def cut(value: Any) -> Any:
        if any(value is tensor for tensor in graph.edge_tensors):
            return value[:, keep] if value is graph.edge_index else value[keep]
        return value

    args = [cut(a) for a in graph.args]
    kwargs = {k: cut(v) for k, v in graph.kwargs.items()}
    return _Graph(args, kwargs, graph.edge_index[:, keep], [], graph.rows)


def _bind(model: torch.nn.Module, args: tuple, kwargs: dict, edge_index_arg: Optional[Key]) -> List[_Slot]:
    """Classifies the model call's arguments; the edge_index is found or named."""
    names = [
        p.name
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    slots = [_Slot(i, "static", a) for i, a in enumerate(args)] + [_Slot(k, "static", v) for k, v in kwargs.items()]

    def name_of(slot: _Slot) -> Optional[str]:
        if isinstance(slot.key, str):
            return slot.key
        return names[slot.key] if slot.key < len(names) else None

    def is_edge_index(value: Any) -> bool:
        return isinstance(value, Tensor) and value.dim() == 2 and value.size(0) == 2 and not value.is_floating_point()

    for slot in slots:
        value = slot.value
        if type(value).__name__ == "SparseTensor" or (isinstance(value, Tensor) and value.layout != torch.strided):
            raise UnsupportedLayerError(
                f"argument {name_of(slot) or slot.key!r} is a sparse adjacency matrix; edgeattr attributes to "
                f"the columns of an edge_index: call the model with edge_index of shape (2, E) instead"
            )
    if edge_index_arg is not None:
        found = [s for s in slots if s.key == edge_index_arg or name_of(s) == edge_index_arg]
        if not found:
            raise ValueError(f"edge_index_arg={edge_index_arg!r} names no argument of the model call")
    else:
        found = [s for s in slots if name_of(s) == "edge_index"] or [s for s in slots if is_edge_index(s.value)]
        if not found:
            raise ValueError(
                "no edge_index found among the model's arguments: pass it as a (2, E) integer tensor, "
                "or name it with edge_index_arg="
            )
    edge_slot = found[0]
    if not is_edge_index(edge_slot.value):
        value = edge_slot.value
        described = f"shape {tuple(value.shape)} and dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"edge_index must be an integer tensor of shape (2, E), got {described}")
    if hasattr(edge_slot.value, "as_tensor"):  # torch_geometric.EdgeIndex: use the plain tensor
        edge_slot.value = edge_slot.value.as_tensor()
    edge_slot.value = edge_slot.value.long()
    edge_slot.kind = "edge_index"
    for slot in slots:
        if slot is edge_slot or not isinstance(slot.value, Tensor) or slot.value.dim() == 0:
            continue
        slot.kind = "batch" if name_of(slot) == "batch" else "node"
    return slots


def _check_layers(model: torch.nn.Module, names: dict) -> None:
    for module in model.modules():
        why = UNSUPPORTED_LAYERS.get(type(module).__name__)
        if why is not None:
            raise unsupported(names[id(module)], module, why)
        if isinstance(module, MessagePassing) and module.decomposed_layers > 1:
            raise unsupported(names[id(module)], module, "decomposed_layers > 1 splits messages; set decomposed_layers=1")


def _is_local(model: torch.nn.Module) -> bool:
    """Whether a node's output depends on its in-neighbourhood alone."""
    for module in model.modules():
        if type(module).__name__ in GLOBAL_MODULES and getattr(module, "mode", "graph") != "node":
            return False
        if isinstance(module, MessagePassing) and module.flow != "source_to_target":
            return False
    return True


def _computation_subgraph(edge_index: Tensor, targets: Tensor, hops: int, num_nodes: int) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Nodes and edges that can influence the targets' outputs.

    These are the edges into nodes within ``hops`` of a target: those into
    nodes within ``hops - 1`` carry messages that reach a target, and those
    into the outermost nodes set their in-degrees, which degree normalisation
    (GCN) reads.

    Returns:
        ``(nodes, edges, carriers)``: sorted node ids, edge ids (columns of
        ``edge_index``), and the positions in ``edges`` of the message carriers.
    """
    src, dst = edge_index
    reached = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
    reached[targets] = True
    for _ in range(hops - 1):
        reached[src[reached[dst]]] = True
    inner = reached.clone()
    reached[src[inner[dst]]] = True
    edges = reached[dst].nonzero().view(-1)
    carriers = inner[dst[edges]].nonzero().view(-1)
    reached[src[edges]] = True
    return reached.nonzero().view(-1), edges, carriers

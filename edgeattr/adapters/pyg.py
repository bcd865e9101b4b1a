r"""The PyTorch Geometric adapter: edge masks for unmodified PyG models."""

from __future__ import annotations

import copy
import inspect
import itertools
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.nn import DirGNNConv, MessagePassing, SAGPooling, TopKPooling
from torch_geometric.utils import to_edge_index, to_torch_coo_tensor, to_torch_csr_tensor

from edgeattr.adapters.base import Call, CallCounter, GraphAdapter, MessageWeights, Slot, unsupported
from edgeattr.adapters.base.adapter import ModuleNames, OutputSelector, copy_offsets
from edgeattr.adapters.base.call import BATCH, CONTAINER, NODE, NODE_COUNT, Key
from edgeattr.adapters.base.messages import IN_ORDER
from edgeattr.adapters.base.prepared import Handler
from edgeattr.adapters.base.subgraph import Segments
from edgeattr.errors import UnsupportedLayerError

#: Layers whose messages cannot be matched to edges, by class name, and why.
UNSUPPORTED_LAYERS: Dict[str, str] = {}


class PyGAdapter(GraphAdapter):
    r"""Edge masks for a PyTorch Geometric model, as a Captum ``forward_func``.

    The model is called exactly as the codebase calls it,
    ``model(*model_args, **model_kwargs)``. Every message of every
    :class:`~torch_geometric.nn.conv.MessagePassing` call is multiplied by its
    edge's mask entry through PyG's message hooks, so that with the mask
    :math:`w` the explained output is :math:`z(w)` and :math:`z(\mathbf{1})`
    is the model's own output. A module called :math:`k` times (APPNP's
    propagation) is :math:`k` layers, in call order.

    For a node target, the work is restricted to the edges incident to nodes
    within :math:`L` hops of the target (the edges whose messages reach it and the edges
    that set their degrees); attributions are still indexed by the columns of
    ``edge_index`` and are exactly zero outside. For a graph target the work
    is restricted to that graph of the batch. ``B`` masks run as ``B`` disjoint
    copies of that graph in one forward pass, chunked by ``copies_per_pass``.
    Both shortcuts are verified (``verify=True``) once per model and inputs
    against the model's own output on the full input; where they differ (a
    normalisation over all nodes, batch statistics) the adapter says so with
    a :class:`~edgeattr.FallbackWarning` and runs every target alone on the
    full input instead, which is exact.

    Self-loops a layer adds itself (GCNConv, GATConv) keep weight 1 and are not
    attributed. The model is run in eval mode and every module's training flag,
    hook, graph cache and parameter is as before when a call returns or raises.

    Args:
        model (torch.nn.Module): The model, unchanged.
        *model_args: Positional arguments of the model call, e.g. ``x, edge_index``.
        index (int or Tensor, optional): The output row to explain: a node id
            (node task), a graph id of ``batch`` (graph task) or the position
            of a pair among the scored pairs (edge task, a column of
            ``edge_label_index``); required for node tasks. A 1-D tensor of ``T`` ids explains ``T`` targets at
            once: masks then have ``T`` rows (``ones()`` is ``(T, E)``), row
            ``r`` of a batch applying to target ``r % T``, and all targets'
            computation graphs run together in one pass.
        layerwise (bool, optional): If ``True``, masks have one row per layer,
            shape ``(B, L, E)``; else one mask shared by all layers, ``(B, E)``.
            (default: ``False``)
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'``. Default:
            ``'edge'`` when an ``edge_label_index`` argument (or ``pairs_arg``)
            is passed, ``'graph'`` when a ``batch`` argument is, else ``'node'``.
            An edge task explains link prediction: the model scores node pairs,
            ``model(x, edge_index, edge_label_index)`` returning one row per
            pair as in PyG's link-prediction examples, and pair ``p``'s work is
            restricted to the union of the computation subgraphs of its two
            nodes. A scored pair that is also an edge of ``edge_index`` (a
            training edge) is attributed like any other edge.
        edge_index_arg (int or str, optional): Position or name of the
            ``edge_index`` argument. Default: the argument named ``edge_index``,
            else the first integer tensor of shape ``(2, E)``.
        restrict (bool, optional): Restrict node targets to their computation
            subgraph. (default: ``True``)
        copies_per_pass (int, optional): Masks run per forward pass. Default:
            as many as fit :math:`2^{24}` input values (a node or edge counts
            its feature values, at least one).
        mode (str, optional): What the output means, one of PyG's
            ``ModelConfig`` modes (see :mod:`edgeattr.modes`):
            ``'multiclass_classification'`` (the default for two or more
            output columns), ``'binary_classification'`` (one logit, or one
            per label) or ``'regression'``. Required for a single output column.
        verify (bool, optional): Check the restricted and batched passes
            against the model's own output once per model and inputs, and
            fall back to the exact path where they differ. ``False`` skips the
            check (and its one forward pass over the full graph), for models
            known to be local and free of batch statistics. (default: ``True``)
        node_args, edge_args (Sequence[str], optional): Names of model
            arguments with one row per node or per edge, for a graph with as
            many nodes as edges whose argument names do not tell.
        edge_index (Tensor, optional): For a model that reads its graph
            itself (a module-level ``data``, ``self.edge_index``) and takes no
            ``edge_index`` argument: that graph, ``(2, E)``. Masks index its
            columns and the messages along it are weighted; the model is
            called with the other arguments only, and every target runs on
            the whole graph, one mask per pass (the graph cannot be cut,
            copied or have edges deleted). A model that takes ``edge_index``
            gets it as its own keyword argument, as always.
        output (int, str or Callable, optional): For a model returning a
            tuple, list or dict, the position, key, or a function of the
            output that gives the tensor to explain, e.g. ``output=0`` for
            SuperGAT's ``(log_softmax, attention_loss)``.
        pairs_arg (int or str, optional): Position or name of the argument
            holding the scored node pairs, ``(2, P)``, for an edge task whose
            model names it otherwise than ``edge_label_index``.
        features (bool, optional): Attribute the node features too: the
            forward function takes ``(mask, x)``, ``x`` of shape
            ``(B, N, *F)`` holding the node features of each mask's pass, and
            :meth:`inputs` gives both at their values (see
            :meth:`~edgeattr.EdgeMaskAdapter.__call__`). (default: ``False``)
        features_arg (int or str, optional): With ``features``: position or
            name of the node features among the model's arguments (e.g.
            ``0``, ``'x'``); default the only floating argument with one row
            per node.
        **model_kwargs: Keyword arguments of the model call. Tensors whose
            first dimension is the number of nodes are node features, those
            whose first dimension is the number of edges are edge features;
            both follow the graph.

    Example::

        >>> fwd = PyGAdapter(model, data.x, data.edge_index, index=10)
        >>> mask = fwd.ones()                       # (1, E)
        >>> fwd(mask).shape                         # (1, num_classes)
        >>> EdgeGradient(fwd).attribute(mask)       # (1, E)
        >>> many = PyGAdapter(model, data.x, data.edge_index, index=torch.arange(100))
        >>> EdgeGradient(many).attribute(many.ones())  # (100, E): one row per node
        >>> both = PyGAdapter(model, data.x, data.edge_index, index=10, features=True)
        >>> edges, nodes = EdgeGradient(both).attribute(both.inputs())  # (1, E) and (1, N, F)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *model_args: Any,
        index: Union[None, int, Tensor] = None,
        layerwise: bool = False,
        task: Optional[str] = None,
        edge_index_arg: Optional[Key] = None,
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
        super().__init__(
            model,
            model_args,
            model_kwargs,
            index=index,
            layerwise=layerwise,
            task=task,
            restrict=restrict,
            copies_per_pass=copies_per_pass,
            structure_arg=edge_index_arg,
            mode=mode,
            verify=verify,
            node_args=node_args,
            edge_args=edge_args,
            output=output,
            pairs_arg=pairs_arg,
            features=features,
            features_arg=features_arg,
        )

    # -- the graph structure: an edge_index --------------------------------------------------

    def _check_model(self) -> None:
        check_layers(self.model, self._name_of)

    def _unpacked(self, slots: List[Slot]) -> List[Slot]:
        unpacked: List[Slot] = []
        for slot in slots:
            unpacked.append(slot)
            if slot.key == "edge_index" and not _takes_keyword(self.model, "edge_index"):
                slot.passed = False  # the graph the model reads itself, named to the adapter
            if isinstance(slot.value, HeteroData):
                raise TypeError(
                    f"argument {slot.name or slot.key!r} is a HeteroData: explain a heterogeneous model with "
                    f"PyGHeteroAdapter(model, data.x_dict, data.edge_index_dict, ...) or explain(model, data.x_dict, "
                    f"data.edge_index_dict, ...)"
                )
            if isinstance(slot.value, Data):
                slot.kind, slot.rebuild = CONTAINER, _rebuilt
                unpacked += [
                    Slot(f"{slot.key}.{name}", name, value, container=slot.key)
                    for name, value in slot.value.items()
                    if isinstance(value, Tensor)
                ]
                unpacked.append(Slot(f"{slot.key}.num_nodes", "num_nodes", slot.value.num_nodes, NODE_COUNT, slot.key))
        return unpacked

    def _find_structure(self, slots: List[Slot], edge_index_arg: Optional[Key]) -> Slot:
        for slot in slots:
            if type(slot.value).__name__ == "SparseTensor":
                raise UnsupportedLayerError(
                    f"argument {slot.name or slot.key!r} is a torch_sparse SparseTensor, which edgeattr cannot weight "
                    f"entry by entry: pass it as a torch sparse tensor, {slot.name or 'adj_t'}.to_torch_sparse_csr_tensor(), "
                    f"or as an edge_index of shape (2, E)"
                )
        if edge_index_arg is not None:
            found = [s for s in slots if edge_index_arg in (s.key, s.name)]
            if not found:
                raise ValueError(f"edge_index_arg={edge_index_arg!r} names no argument of the model call")
        else:
            found = [s for s in slots if s.name == "edge_index"] or [
                s for s in slots if _looks_like_edge_index(s.value) or _is_adjacency(s.value)
            ]
            builders = [module for module in self.model.modules() if _builds_its_graph(module)]
            if not found and builders:
                named = ", ".join(f"'{self._name_of(module)}' ({type(module).__name__})" for module in builders)
                raise UnsupportedLayerError(
                    f"layer {named} builds its graph inside forward (from the features) and the model is given no "
                    f"edge_index: there is no input edge to attribute"
                )
            if not found:
                raise ValueError(
                    "no edge_index found among the model's arguments: pass it as a (2, E) integer tensor, "
                    "or name it with edge_index_arg="
                )
        slot = found[0]
        if _is_adjacency(slot.value):
            return slot
        if not _looks_like_edge_index(slot.value):
            value = slot.value
            described = f"shape {tuple(value.shape)} and dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"edge_index must be an integer tensor of shape (2, E), got {described}")
        if hasattr(slot.value, "as_tensor"):  # torch_geometric.EdgeIndex: use the plain tensor
            slot.value = slot.value.as_tensor()
        slot.value = slot.value.long()
        return slot

    def _edges(self, edge_index: Tensor) -> Tuple[Tensor, Tensor, Optional[int]]:
        src, dst = _endpoints(edge_index)
        return src, dst, edge_index.size(0) if _is_adjacency(edge_index) else None

    def _default_task(self) -> str:
        return "graph" if self._slot(BATCH) is not None else "node"

    def _num_graphs(self) -> int:
        batch = self._slot(BATCH)
        return 1 if batch is None else int(batch.value.max()) + 1

    def _graph_nodes(self, index: int) -> Tensor:
        batch = self._slot(BATCH)
        if batch is None:
            return torch.arange(self.num_nodes, device=self.device)
        return (batch.value == index).nonzero().view(-1)

    def _restrict_structure(self, edge_index: Tensor, segments: Segments) -> Tensor:
        return torch.stack([segments.src, segments.dst])

    def _repeat_structure(self, edge_index: Tensor, copies: int, num_nodes: int) -> Tuple[Tensor, Tensor, Tensor]:
        if _is_adjacency(edge_index):  # runs whole, one copy (see _cannot_cut)
            return (edge_index, *_endpoints(edge_index))
        if copies > 1:
            edge_index = edge_index.repeat(1, copies) + copy_offsets(copies, edge_index.size(1), num_nodes, self.device)
        return edge_index, edge_index[0], edge_index[1]

    def _cut_structure(self, edge_index: Tensor, keep: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        if _is_adjacency(edge_index):
            indices, values = to_edge_index(edge_index)
            kept = _ADJACENCY_OF_LAYOUT[edge_index.layout](indices[:, keep], values[keep], tuple(edge_index.shape))
            return kept, indices[1, keep], indices[0, keep]
        edge_index = edge_index[:, keep]
        return edge_index, edge_index[0], edge_index[1]

    def _probe_structure(self, edge_index: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        probe = torch.zeros(2, 1, dtype=torch.long, device=self.device)
        if _is_adjacency(edge_index):
            values = torch.ones(1, dtype=edge_index.dtype, device=self.device)
            return _ADJACENCY_OF_LAYOUT[edge_index.layout](probe, values, (2, 2)), probe[0], probe[1]
        return probe, probe[0], probe[1]

    def _batches_graphs(self) -> bool:
        # Without a batch vector, copies of a graph-level model would be pooled together.
        return self._slot(BATCH) is not None

    def _cannot_cut(self) -> bool:
        # No node-level argument: the model embeds its nodes by id (featureless RGCNConv, an Embedding of all
        # nodes). A sparse adjacency: its stored entries, which the masks index, are reordered when it is cut.
        return self._slot(NODE) is None or _is_adjacency(self._structure.value)

    def _is_local(self) -> bool:
        # Messages flowing from target to source reach a node from its out-neighbours.
        return all(module.flow == "source_to_target" for module in self.model.modules() if isinstance(module, MessagePassing))

    def _messages_both_ways(self) -> bool:
        # DirGNNConv's second convolution runs over the reversed edges.
        return any(isinstance(module, DirGNNConv) for module in self.model.modules())

    # -- intercepting message passing ------------------------------------------------------

    def _intercept(self, call: Call, session: CallCounter) -> Tuple[Handler, ContextManager]:
        def weights_of(weights: MessageWeights, layer: int, edge_index: Tensor, node_ids: Optional[Tensor], candidates: Optional[Tensor]) -> Tensor:
            if edge_index is call.structure:
                return weights.weights_at(layer, IN_ORDER)
            src, dst = _endpoints(edge_index)
            if node_ids is not None:
                src, dst = node_ids[src], node_ids[dst]
            if candidates is not None and torch.equal(src, weights.ref_src[candidates]) and torch.equal(dst, weights.ref_dst[candidates]):
                return weights.weights_at(layer, candidates)
            return weights.weights(layer, src, dst)

        return MessageWeighting(session, self._name_of, weights_of, call.structure, call.edge_values), nullcontext()


#: Maps the pass's weights, a call's layer index, the edge_index it propagates over, the input
#: node id of each of its nodes (``None``: they are the input's) and the edges of the relation it
#: may run over (``None``: no relation argument) to its message weights ``(M,)``.
WeightsOf = Callable[[MessageWeights, int, Tensor, Optional[Tensor], Optional[Tensor]], Tensor]

#: Pooling layers that keep a subset of nodes and the edges among them, in order; their output
#: is ``(x, edge_index, edge_attr, batch, perm, ...)``, ``perm`` the kept nodes' ids.
NODE_SELECTIONS = (TopKPooling, SAGPooling)


@dataclass
class _Propagation:
    """One ``propagate`` call in progress: the weights of its messages (``None`` while counting), and whether they were sent."""

    weights: Optional[Tensor]
    sent: bool = False


@dataclass
class _Frame:
    """One module's forward in progress: the input ids of the nodes it runs on (``None``: the input's own), the
    relation of each edge it was given (an integer edge-level argument, ``None`` if none), and its propagates so far."""

    node_ids: Optional[Tensor]
    relations: Optional[Tensor]
    propagations: int = 0


class MessageWeighting(Handler):
    """Weights each call's messages at PyG's propagate and message hooks, or counts them.

    With a :class:`MessageWeights` session every message is multiplied by its
    weight; with a :class:`CallCounter` the calls and their messages are
    counted. Either way, a call that aggregates without ``message()`` (a fused
    kernel, which no weight can reach) is refused.

    The handler keeps a frame per running module. The edges a pooling layer of
    :data:`NODE_SELECTIONS` keeps are numbered by the kept nodes; the frames
    follow them from module to module (by the ``edge_index`` each module
    receives) with the input id of each kept node, so that the messages of
    later layers are matched to the input's edges. A module given an integer
    edge-level argument (``edge_type``) that propagates once per relation, the
    ``r``-th time over the edges of relation ``r`` (RGCNConv, FiLMConv), has
    its messages placed on exactly those edges, also where parallel edges of
    several relations share their endpoints.

    Args:
        session (CallCounter): The pass's session.
        name_of (ModuleNames): Names modules in error messages.
        weights_of (Callable): The weights ``(M,)`` of the messages of call
            ``layer`` over ``edge_index``, from a weighting session.
        structure (Tensor, optional): The pass's own ``edge_index``.
        edge_values (Sequence[Tensor]): The pass's edge-level arguments.
    """

    def __init__(
        self,
        session: CallCounter,
        name_of: ModuleNames,
        weights_of: WeightsOf,
        structure: Optional[Tensor] = None,
        edge_values: Sequence[Tensor] = (),
    ) -> None:
        self.session, self._name, self._weights_of = session, name_of, weights_of
        self.pending: Dict[int, List[_Propagation]] = {}
        self._structure = structure
        self._relations = {id(value): value for value in edge_values if value.dim() == 1 and not value.is_floating_point()}
        #: id of a pooled edge_index -> (that edge_index, the input id of each of its nodes)
        self._pooled: Dict[int, Tuple[Tensor, Tensor]] = {}
        self._frames: List[_Frame] = []
        #: id of a module -> how many times its forward has begun in this pass.
        self._invocations: Dict[int, int] = {}

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        self._invocations[id(module)] = self._invocations.get(id(module), 0) + 1
        values = [value for value in itertools.chain(args, kwargs.values()) if isinstance(value, Tensor)]
        self._frames.append(_Frame(self._node_ids_of(values), next((v for v in values if self._relations.get(id(v)) is v), None)))

    def _node_ids_of(self, values: List[Tensor]) -> Optional[Tensor]:
        """The input node ids of the graph a module given ``values`` runs on: its parent's, unless it is given a graph."""
        for value in values:
            if value is self._structure:
                return None
            pooled = self._pooled.get(id(value))
            if pooled is not None and pooled[0] is value:
                return pooled[1]
        return self._frames[-1].node_ids if self._frames else None

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        node_ids = self._frames.pop().node_ids
        if isinstance(module, NODE_SELECTIONS):
            edge_index, kept = output[1], output[4]
            self._pooled[id(edge_index)] = (edge_index, kept if node_ids is None else node_ids[kept])

    def propagate_pre(self, module: MessagePassing, inputs: tuple) -> None:
        edge_index = inputs[0]
        if not isinstance(edge_index, Tensor):
            raise unsupported(
                self._name(module), module,
                f"it propagates over a {type(edge_index).__name__}; pass edge_index as a (2, E) tensor or a torch sparse adjacency",
            )
        if module.decomposed_layers > 1:
            raise unsupported(self._name(module), module, "decomposed_layers > 1 splits messages; set decomposed_layers=1")
        session = self.session
        layer = session.begin_call(self._name(module), module, edge_index, self._invocations.get(id(module)))
        frame = self._frames[-1] if self._frames else _Frame(None, None)
        relation, frame.propagations = frame.propagations, frame.propagations + 1
        weights = None
        if isinstance(session, MessageWeights):
            candidates = None if frame.relations is None else (frame.relations == relation).nonzero().view(-1)
            try:
                weights = self._weights_of(session, layer, edge_index, frame.node_ids, candidates)
            except UnsupportedLayerError as error:
                raise unsupported(self._name(module), module, str(error)) from None
        self.pending.setdefault(id(module), []).append(_Propagation(weights))

    def message_post(self, module: MessagePassing, inputs: tuple, messages: Tensor) -> Optional[Tensor]:
        propagation = self.pending[id(module)][-1]
        propagation.sent = True
        dim = module.node_dim % messages.dim()
        weights = propagation.weights
        if weights is None:
            self.session.record(messages.size(dim))
            return None
        if messages.size(dim) != weights.numel():
            raise unsupported(self._name(module), module, f"it sent {messages.size(dim)} messages along {weights.numel()} edges")
        shape = [1] * messages.dim()
        shape[dim] = -1
        return messages * weights.view(shape)

    def propagate_post(self, module: MessagePassing, inputs: tuple, output: Any) -> None:
        if not self.pending[id(module)].pop().sent:
            raise unsupported(self._name(module), module, "it aggregated without calling message() (a fused kernel); the mask cannot be applied")


def check_layers(model: torch.nn.Module, name_of: ModuleNames) -> None:
    r"""Raises an error for a layer of ``model`` whose messages edgeattr cannot weight alone.

    Raises:
        UnsupportedLayerError: for a layer whose messages cannot be matched to edges.
        ValueError: for a layer that still carries an edge mask of PyG's own
            ``set_masks``, which would weight its messages a second time.
    """
    for module in model.modules():
        why = UNSUPPORTED_LAYERS.get(type(module).__name__)
        if why is None and isinstance(module, MessagePassing) and module.decomposed_layers > 1:
            why = "decomposed_layers > 1 splits messages; set decomposed_layers=1"
        if why is not None:
            raise unsupported(name_of(module), module, why)
        if isinstance(module, MessagePassing) and getattr(module, "_explain", None):
            raise ValueError(
                f"layer '{name_of(module)}' still carries an edge mask of PyG's set_masks, which would weight its "
                f"messages on top of edgeattr's: call torch_geometric.explain.algorithm.utils.clear_masks(model) first"
            )


#: Names under which a PyG layer's forward takes its graph.
GRAPH_PARAMETERS = frozenset({"edge_index", "adj_t", "edge_index_dict", "adj", "edge_indices"})


def _builds_its_graph(module: torch.nn.Module) -> bool:
    """Whether ``module`` is a message-passing layer whose forward takes no graph (DynamicEdgeConv builds a k-NN graph)."""
    if not isinstance(module, MessagePassing):
        return False
    return not GRAPH_PARAMETERS & set(inspect.signature(module.forward).parameters)


def _takes_keyword(model: torch.nn.Module, name: str) -> bool:
    """Whether ``model.forward`` takes a keyword argument ``name``."""
    parameters = inspect.signature(model.forward).parameters.values()
    return any(p.name == name or p.kind == p.VAR_KEYWORD for p in parameters if p.kind != p.POSITIONAL_ONLY)


def _rebuilt(data: Data, fields: Dict[str, Any]) -> Data:
    """A shallow copy of ``data`` (a ``Data`` or ``Batch``) with ``fields`` replaced; a batch's graph count and ``ptr`` follow ``batch``."""
    out = copy.copy(data)
    for name, value in fields.items():
        out[name] = value
    batch = fields.get("batch")
    if isinstance(out, Batch) and isinstance(batch, Tensor):
        counts = torch.bincount(batch, minlength=int(batch.max()) + 1 if batch.numel() else 0)
        out._num_graphs = counts.numel()
        out.ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return out


#: Builds a sparse adjacency of a layout from ``(edge_index, values, shape)``, stored entries in the order given.
_ADJACENCY_OF_LAYOUT = {
    torch.sparse_coo: lambda indices, values, shape: to_torch_coo_tensor(indices, values, shape, is_coalesced=True),
    torch.sparse_csr: lambda indices, values, shape: to_torch_csr_tensor(indices, values, shape, is_coalesced=True),
}


def _is_adjacency(value: Any) -> bool:
    """Whether ``value`` is a torch sparse COO or CSR adjacency matrix (PyG's ``adj_t``: entry ``[i, j]`` for the edge ``j -> i``)."""
    return isinstance(value, Tensor) and value.layout in _ADJACENCY_OF_LAYOUT and value.dim() == 2 and value.size(0) == value.size(1)


def _endpoints(edges: Tensor) -> Tuple[Tensor, Tensor]:
    """``(src, dst)`` of an ``edge_index``, or of a sparse ``adj_t``'s stored entries in the order PyG's ``to_edge_index`` gives them."""
    if edges.layout == torch.strided:
        return edges[0], edges[1]
    indices = to_edge_index(edges)[0]
    return indices[1], indices[0]


def _looks_like_edge_index(value: Any) -> bool:
    return isinstance(value, Tensor) and value.dim() == 2 and value.size(0) == 2 and not value.is_floating_point()

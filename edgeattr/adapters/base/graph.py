r"""An adapter around one model call on one graph, whatever the framework.

:class:`GraphAdapter` holds everything the PyG and DGL adapters share: binding
the model call, restricting it to the computation subgraph of the target,
copying it for a batch of masks, running it with every message-passing call
weighted (or edges deleted), discovering the layers, and checking the output.
A framework adapter supplies only how its graph structure is read, cut and
copied, and how its message passing is intercepted.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import weakref
from abc import abstractmethod
from typing import Any, ContextManager, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import (
    DEFAULT_ELEMENTS_PER_PASS,
    EdgeMaskAdapter,
    OutputSelector,
    copy_offsets,
    repeat_rows,
    run_in_passes,
    select_output,
    unsupported,
)
from edgeattr.adapters.base.call import (
    BATCH,
    CONTAINER,
    EDGE,
    NODE,
    NODE_COUNT,
    PAIRS,
    STATIC,
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
from edgeattr.adapters.base.features import check_features, feature_slot, gather_rows, repeated
from edgeattr.adapters.base.fingerprint import InputState, Snapshot, module_settings, tensor_state
from edgeattr.adapters.base.memo import remembered
from edgeattr.adapters.base.messages import OWN, CallCounter, Layer, discover_layers, loop_policy, session_for
from edgeattr.adapters.base.prepared import Handler, Handlers, prepared
from edgeattr.adapters.base.subgraph import Neighbourhoods, Segments, single_node, whole_inputs
from edgeattr.adapters.base.verification import (
    Record,
    difference,
    not_reproduced,
    pooling_modules,
    record_for,
    shortcut_problem,
    together_gap,
    together_masks,
)
from edgeattr.checks import checked_count
from edgeattr.errors import InputModifiedError, UnsupportedLayerError, VerificationError, raised_by_edgeattr, warn_at_caller
from edgeattr.modes import resolve_mode


class GraphAdapter(EdgeMaskAdapter):
    r"""A model bound to its call on one graph, as a Captum ``forward_func`` of an edge mask.

    Args:
        model (torch.nn.Module): The model, unchanged.
        model_args (tuple): Positional arguments of the model call.
        model_kwargs (dict): Keyword arguments of the model call.
        index (int or Tensor, optional): Node id(s) (node task), graph id(s)
            (graph task) or pair id(s) (edge task: positions among the scored
            pairs); a tensor of ``T`` ids gives ``T`` targets.
        layerwise (bool): One mask row per message-passing call.
        task (str, optional): ``'node'``, ``'graph'`` or ``'edge'`` (link
            prediction: one output row per scored node pair); default
            ``'edge'`` when ``pairs_arg`` is given or an argument is named
            ``edge_label_index``, else per framework.
        restrict (bool): Restrict node targets to their computation subgraph.
        copies_per_pass (int, optional): Masks run per forward pass.
        structure_arg (int or str, optional): Position or name of the graph argument.
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`).
        verify (bool): Check the shortcuts against the model's own output.
        node_args, edge_args (Sequence[str]): Names of arguments with one row
            per node or per edge, where their sizes do not tell.
        output (int, str or Callable, optional): The tensor to explain among
            the model's outputs (see :func:`select_output`).
        pairs_arg (int or str, optional): Position or name of the argument
            holding the node pairs an edge-task model scores.
        features (bool): The forward function also takes the node features,
            ``f(mask, x)`` (see :meth:`inputs`).
        features_arg (int or str, optional): Position or name of the node
            features with ``features``; default the only floating node-level argument.
    """

    #: Takes node features beside the mask with ``features=True``.
    _features_instead = None

    def __init__(
        self,
        model: torch.nn.Module,
        model_args: tuple,
        model_kwargs: dict,
        *,
        index: Union[None, int, Tensor],
        layerwise: bool,
        task: Optional[str],
        restrict: bool,
        copies_per_pass: Optional[int],
        structure_arg: Optional[Key],
        mode: Optional[str] = None,
        verify: bool = True,
        node_args: Sequence[str] = (),
        edge_args: Sequence[str] = (),
        output: OutputSelector = None,
        pairs_arg: Optional[Key] = None,
        features: bool = False,
        features_arg: Optional[Key] = None,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode, features=features)
        self._output = output
        self._copies_per_pass = checked_count("copies_per_pass", copies_per_pass)
        self._check_model()
        self._slots = self._unpacked(bind(self.model, model_args, model_kwargs))
        self._structure = self._find_structure(self._slots, structure_arg)
        self._structure.kind = STRUCTURE
        self._src, self._dst, num_nodes = self._edges(self._structure.value)
        self.num_edges = self._src.numel()
        if task not in (None, "node", "graph", "edge"):
            raise ValueError(f"task must be 'node', 'graph' or 'edge', got {task!r}")
        scores_pairs = task == "edge" or (task is None and (pairs_arg is not None or any(slot.name in PAIR_NAMES for slot in self._slots)))
        self._pairs = self._find_pairs(self._slots, pairs_arg) if scores_pairs else None
        counted = node_count(self._slots)
        if num_nodes is None:
            num_nodes = counted if counted is not None else int(torch.cat([self._src, self._dst]).max()) + 1 if self.num_edges else 0
        self.num_nodes = num_nodes
        self._check_devices()
        if self.num_edges and (min(self._src.min(), self._dst.min()) < 0 or max(self._src.max(), self._dst.max()) >= num_nodes):
            raise ValueError(
                f"the edges hold node ids outside [0, {num_nodes}); the node features have {num_nodes} rows"
            )
        classify(self._slots, self.num_nodes, self.num_edges, node_args, edge_args)
        #: The argument whose values the forward function takes as ``x`` (``features=True``), else ``None``.
        self._features = feature_slot(self._slots, features, features_arg)
        self.task = "edge" if scores_pairs else task or self._default_task()
        #: For an edge task, the scored pairs' endpoints, ``(2, P)``: ``pair_index[:, p]`` is pair ``p``.
        self.pair_index = self._checked_pairs() if self._pairs is not None else None
        self.index, self.targets = self._check_index(index)
        self.num_targets = self.targets.numel()
        # A function of the slots alone: the state must not refer back to the adapter (a cycle kept its passes alive).
        self._user_tensors = functools.partial(named_tensors, self._slots, {slot.key: slot.value for slot in self._slots}, self._structure_tensors)
        self._inputs = InputState(self._user_tensors)
        self._neighbourhoods = Neighbourhoods.of(self._structure.value, self._src, self._dst, self.num_nodes)
        #: Whether the model reads its graph itself (the user named it to the adapter): no edge can be deleted from it.
        self.reads_own_graph = not self._structure.passed
        #: Whether the graph cannot be cut or copied (a graph the model reads itself; see ``_cannot_cut``),
        #: so that every target runs alone on the user's own inputs.
        self.runs_whole = self.reads_own_graph or self._cannot_cut()
        self._restrict = restrict and self._is_local() and not self.runs_whole
        #: Whether every target runs alone on the user's full input, one mask per pass (the exact path).
        self.exact_path = self.runs_whole
        self._settings = module_settings(self.model)
        self.layers, self._loop_policies = self._layers()
        #: Rows of a layerwise mask: one per layer, whose calls (a relation's each) share it.
        self.num_layers = self.layers[-1].row + 1
        record = record_for(self.model, self._snapshot(), self._own_output) if verify else None
        out_edges = record is None or not self._out_degrees_unread(record)
        self._bind_segments(self._segments(self.targets, self._restrict, out_edges))
        if record is not None:
            self._verify(record)

    # -- what a framework adapter provides -------------------------------------------------

    def _check_model(self) -> None:
        r"""Raises :class:`UnsupportedLayerError` for layers known to bypass message passing."""

    def _unpacked(self, slots: List[Slot]) -> List[Slot]:
        r"""The slots with each object that holds the graph and its data (a container) followed by its fields."""
        return slots

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
    def _restrict_structure(self, structure: Any, segments: Segments) -> Any:
        r"""The graph of ``segments.nodes`` and ``segments.edge_ids``, in that order, whose edge
        endpoints are ``segments.src`` and ``segments.dst`` (positions in ``nodes``), with one
        graph of a batch per segment."""

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
    def _intercept(self, call: Call, session: CallCounter) -> Tuple[Handler, ContextManager]:
        r"""What weights every message-passing call of this thread by ``session`` (or counts them).

        Returns:
            A :class:`Handler` for the model's hooks and a context (for what
            the hooks cannot reach, like DGL's message passing).
        """

    def _pair_candidates(self, slots: List[Slot]) -> List[Slot]:
        r"""The arguments that may hold the scored node pairs of an edge task, when none is named."""
        return [slot for slot in slots if slot.name in PAIR_NAMES]

    def _pair_ends(self, pairs: Any) -> Tuple[Tensor, Tensor]:
        r"""``(u, v)`` of the scored pairs, ``(P,)`` each: the columns of a ``(2, P)`` tensor."""
        if not (isinstance(pairs, Tensor) and pairs.dim() == 2 and pairs.size(0) == 2 and not pairs.is_floating_point()):
            described = f"shape {tuple(pairs.shape)} and dtype {pairs.dtype}" if isinstance(pairs, Tensor) else type(pairs).__name__
            raise ValueError(f"the node pairs of an edge task must be an integer tensor of shape (2, P), got {described}")
        return pairs[0].long(), pairs[1].long()

    def _pair_value(self, like: Any, u: Tensor, v: Tensor, num_nodes: int) -> Any:
        r"""The pairs ``(u, v)`` on a graph of ``num_nodes`` nodes, in the form of ``like``."""
        return torch.stack([u, v]).to(like.dtype)

    def _batches_graphs(self) -> bool:
        r"""Whether copies of a graph-level input are pooled separately."""
        return True

    def _is_local(self) -> bool:
        r"""Whether a node's output depends on its in-neighbourhood alone."""
        return True

    def _messages_both_ways(self) -> bool:
        r"""Whether some layer also passes messages against the edges' direction, so that computation subgraphs grow both ways."""
        return False

    def _cannot_cut(self) -> bool:
        r"""Whether the graph cannot be cut or copied (a model that knows its nodes by id, not by features it is
        given; a graph whose edge order changes when it is cut)."""
        return False

    # -- properties -----------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self._src.device

    def _input_tensors(self) -> Iterable[Tensor]:
        return (slot.value for slot in self._slots if isinstance(slot.value, Tensor))

    @staticmethod
    def _structure_tensors(structure: Any, name: str) -> Iterable[Tuple[str, Tensor]]:
        r"""Tensors held inside a graph object (a DGL graph's node and edge data), by name."""
        return ()

    def _check_devices(self) -> None:
        """Raises an error naming the argument that is on the meta device or on another device than the graph."""
        tensors = [(slot.name or slot.key, slot.value) for slot in self._slots if isinstance(slot.value, Tensor)]
        for name, value in tensors:
            if value.device.type == "meta":
                raise ValueError(f"argument {name!r} is on the meta device and holds no values; pass real tensors, e.g. {name}.to('cpu')")
        for name, value in tensors:
            if value.device != self.device:
                raise ValueError(
                    f"argument {name!r} is on {value.device} but the graph is on {self.device}; "
                    f"move them to one device, e.g. {name}.to({str(self.device)!r})"
                )
        for parameter in self.model.parameters():
            if parameter.device.type == "meta":
                raise ValueError("the model's parameters are on the meta device (not materialised); load or initialise them first")
            if parameter.device != self.device:
                raise ValueError(
                    f"the model's parameters are on {parameter.device} but the graph is on {self.device}; "
                    f"use model.to({str(self.device)!r})"
                )

    @property
    def copies_per_pass(self) -> int:
        r"""How many masks run together in one forward pass (the fewest of any group of targets)."""
        return min(self._copies_for(unit) for unit in self._units)

    def _copies_for(self, unit: "_Unit") -> int:
        """How many copies of ``unit`` run together in one forward pass (bounds memory)."""
        if self.exact_path or (self.task == "graph" and not self._batches_graphs()):
            return 1
        if self._copies_per_pass is not None:
            return self._copies_per_pass
        return max(1, DEFAULT_ELEMENTS_PER_PASS // max(1, unit.size))

    def _slot(self, kind: str) -> Optional[Slot]:
        return find(self._slots, kind)

    # -- the computation graph ------------------------------------------------------------

    @property
    def edge_index(self) -> Tensor:
        r"""The user's edges in mask order, ``(2, E)``: columns of ``edge_index`` (PyG), edge ids (DGL)."""
        return torch.stack([self._src, self._dst])

    @property
    def edge_segment(self) -> Tensor:
        return self.segments.edge_segment

    def _find_pairs(self, slots: List[Slot], pairs_arg: Optional[Key]) -> Slot:
        """The argument holding the scored node pairs of an edge task, marked as such."""
        if pairs_arg is not None:
            found = [slot for slot in slots if pairs_arg in (slot.key, slot.name)]
            if not found:
                raise ValueError(f"pairs_arg={pairs_arg!r} names no argument of the model call")
        else:
            found = self._pair_candidates(slots)
            if not found:
                raise ValueError(
                    "an edge task explains the score of a node pair, and no argument of the model call holds the pairs: "
                    "pass them as the model takes them (edge_label_index=pairs), naming another argument with pairs_arg="
                )
            if len(found) > 1:
                named = ", ".join(repr(slot.name or slot.key) for slot in found)
                raise ValueError(f"arguments {named} of the model call may hold the scored pairs: name the one to explain with pairs_arg=")
        slot = found[0]
        if slot is self._structure:
            raise ValueError("pairs_arg names the graph the messages pass over; name the argument holding the scored pairs")
        slot.kind = PAIRS
        return slot

    def _checked_pairs(self) -> Tensor:
        """The scored pairs' endpoints, ``(2, P)``, checked to be nodes of the graph."""
        assert self._pairs is not None
        u, v = self._pair_ends(self._pairs.value)
        pairs = torch.stack([u, v]).to(self.device)
        if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= self.num_nodes):
            raise ValueError(
                f"argument {self._pairs.name or self._pairs.key!r} pairs node ids outside [0, {self.num_nodes}); "
                f"the graph has {self.num_nodes} nodes"
            )
        return pairs

    @property
    def num_rows(self) -> int:
        r"""Rows of the model's output on the user's input, the targets ``index`` may name: one per node, graph or scored pair."""
        if self.task == "node":
            return self.num_nodes
        return self._num_graphs() if self.task == "graph" else self._pairs_of().size(1)

    def _pairs_of(self, targets: Optional[Tensor] = None) -> Tensor:
        """The endpoints of the scored pairs ``targets`` (default all), ``(2, T)``, of an edge task."""
        assert self.pair_index is not None, "only an edge task scores pairs"
        return self.pair_index if targets is None else self.pair_index[:, targets]

    def _check_index(self, index: Any) -> Tuple[Union[int, Tensor], Tensor]:
        """``index`` as given (an int, or a tensor of ids) and as a tensor of target ids ``(T,)``."""
        many = isinstance(index, Tensor) and index.dim() == 1
        ids: Optional[Tensor]
        if isinstance(index, Tensor):
            if index.is_floating_point() or index.dtype == torch.bool or index.dim() > 1 or (many and index.numel() == 0):
                raise ValueError(
                    f"index must be an integer id or a 1-D tensor of ids, got a {index.dtype} tensor of shape {tuple(index.shape)}"
                )
            ids = index.to(self.device, torch.long).view(-1)
        elif index is None or (isinstance(index, numbers.Integral) and not isinstance(index, bool)):
            ids = None if index is None else torch.tensor([int(index)], device=self.device)
        else:
            raise TypeError(f"index must be an integer node or graph id or a tensor of ids, got {index!r}")
        if self.task == "node":
            if ids is None:
                raise ValueError("index is required for a node task: pass the node id to explain, e.g. index=0")
            limit, what = self.num_nodes, f"a graph with {self.num_nodes} nodes"
        elif self.task == "edge":
            limit = self.num_rows
            if ids is None:
                if limit != 1:
                    raise ValueError(f"index is required: the model scores {limit} node pairs; pass the position of the pair to explain")
                ids = torch.zeros(1, dtype=torch.long, device=self.device)
            what = f"{limit} scored node pairs"
        else:
            limit = self._num_graphs()
            if ids is None:
                if limit > 1:
                    raise ValueError(f"index is required: the input holds {limit} graphs; pass the graph id")
                ids = torch.zeros(1, dtype=torch.long, device=self.device)
            what = f"an input of {limit} graphs"
        outside = ids[(ids < 0) | (ids >= limit)]
        if outside.numel():
            raise IndexError(f"index {outside[0].item()} is out of range for {what}")
        if self.task == "graph":
            empty = [int(graph) for graph in ids if self._graph_nodes(int(graph)).numel() == 0]
            if empty:
                raise ValueError(f"graph {empty[0]} of the input has no nodes: there is nothing to explain; pass the id of a graph with nodes")
        return (ids if many else int(ids[0])), ids

    def _segments(self, targets: Tensor, restrict: bool, out_edges: bool = True) -> Segments:
        """Each target's part of the graph: its computation subgraph (with the edges that set only
        out-degrees, ``out_edges``), its graph, or the whole graph."""
        if self.task == "edge":
            pairs = self._pairs_of(targets)
            if restrict:
                return self._neighbourhoods.computation_subgraphs(pairs, self.num_layers, self._messages_both_ways(), out_edges)
            return whole_inputs(self._src, self._dst, self.num_nodes, targets, pairs=pairs)
        if self.task == "node" and restrict:
            return self._neighbourhoods.computation_subgraphs(targets, self.num_layers, self._messages_both_ways(), out_edges)
        if self.task == "graph":
            segment = torch.arange(targets.numel(), device=self.device)
            node_sets = [self._graph_nodes(int(graph)) for graph in targets]
            counts = torch.tensor([nodes.numel() for nodes in node_sets], device=self.device)
            return self._neighbourhoods.node_sets(torch.cat(node_sets), segment.repeat_interleave(counts), segment, True)
        return whole_inputs(self._src, self._dst, self.num_nodes, targets)

    def _bind_segments(self, segments: Segments) -> None:
        """Makes ``segments`` the graph that is run, split into units of one pass each.

        On the exact path each target is a unit of its own, run on the user's own inputs.
        """
        #: Each target's computation graph, as segments of the union that is run.
        self.segments = segments
        self.edge_ids = segments.edge_ids
        self.message_edges = segments.message_edges
        pruned = self.layerwise and self._restrict and not self.exact_path and self.task in ("node", "edge")
        self.message_layers = self._message_layers(segments) if pruned else None
        if self.exact_path:
            own = self._restricted_values(segments, own_inputs=True)
            self._units = [_Unit(self, segments, t, t + 1, values=own) for t in range(segments.num_segments)]
            return
        node_size, edge_size = self._element_sizes()
        self._units = [
            _Unit(self, segments, first, last, node_size, edge_size)
            for first, last in segments.bounds(DEFAULT_ELEMENTS_PER_PASS, node_size, edge_size)
        ]

    def _message_layers(self, segments: Segments) -> Tensor:
        """Whether each edge's message at each layer can reach its target, ``(L, E_sub)`` (see ``message_layers``).

        A message into a node ``d`` hops from the target (either node of a pair)
        reaches it only through ``d`` more message-passing calls, so at a layer
        whose first call is followed by ``a`` calls, only messages into nodes
        within ``a`` hops count. On the verified computation subgraphs, where
        everything but message passing acts on each node alone, every other
        message provably leaves the output as it is.
        """
        seeds = segments.pairs.reshape(-1) if segments.pairs is not None else segments.roots
        src, dst = segments.src, segments.dst
        within = torch.zeros(segments.nodes.numel(), dtype=torch.bool, device=self.device)
        within[seeds] = True
        message = torch.zeros(src.numel(), dtype=torch.bool, device=self.device)
        message[segments.message_edges] = True
        reaching = []  # reaching[a]: messages into nodes within a hops of their target
        for _ in range(len(self.layers)):
            into = message & (within[dst] | within[src] if self._messages_both_ways() else within[dst])
            reaching.append(into)
            within = within.clone()
            within[src[into]] = True
            if self._messages_both_ways():
                within[dst[into]] = True
        first_call: Dict[int, int] = {}
        for call, layer in enumerate(self.layers):
            first_call.setdefault(layer.row, call)
        return torch.stack([reaching[len(self.layers) - 1 - first_call[row]] for row in range(self.num_layers)])

    def _element_sizes(self) -> Tuple[int, int]:
        """Input values per node and per edge (feature widths, at least 1), which bound a pass's memory."""
        sizes = {NODE: 0, EDGE: 0}
        for slot in self._slots:
            if slot.kind in sizes and slot.value.size(0):
                sizes[slot.kind] += slot.value[0].numel()
        return max(1, sizes[NODE]), max(1, sizes[EDGE])

    # -- verification: the shortcuts against the model's own output ---------------------------

    def _out_degrees_unread(self, record: Record) -> bool:
        """Whether computation subgraphs may leave out the edges that set only out-degrees (see
        :meth:`~edgeattr.adapters.base.subgraph.Neighbourhoods.computation_subgraphs`).

        They may where the model's output at mask 1 is the same without them, on the first
        targets whose subgraphs hold such edges; the verdict is kept per (model, inputs). A
        model that reads out-degrees (DGL's GraphConv) keeps them, as does one whose messages
        also run against the edges (there these edges carry messages).
        """
        if not (self._restrict and self.task in ("node", "edge")) or self._messages_both_ways():
            return False
        check = ("out-degrees", self.task)
        if check not in record.verdicts:
            probe = self.targets[:OUT_DEGREE_PROBES]
            kept, left_out = (self._segments(probe, True, out_edges) for out_edges in (True, False))
            if left_out.edge_ids.numel() == kept.edge_ids.numel():
                return False  # these targets cannot tell: later ones decide
            record.verdicts[check] = self._out_degree_problem(kept, left_out)
        return record.verdicts[check] is None

    def _out_degree_problem(self, kept: Segments, left_out: Segments) -> Optional[str]:
        """Why the pass at mask 1 on the subgraphs ``left_out`` differs from that on ``kept``, if it does.

        Features that are not finite are let through: where they reach the output only through the
        edges ``kept`` has in addition, the outputs differ, and the explanation keeps those edges and
        refuses the features.
        """
        outputs = []
        for segments in (kept, left_out):
            width = segments.edge_ids.numel()
            ones = torch.ones((1, self.num_layers, width) if self.layerwise else (1, width), dtype=self.dtype, device=self.device)
            values = self._restricted_values(segments, check_finite=False)
            try:
                with torch.no_grad():
                    outputs.append(self._run(_Unit(self, segments, 0, segments.num_segments, values=values), 1, ones, None))
            except Exception as error:
                if raised_by_edgeattr(error):
                    raise
                return f"the model fails on the computation subgraphs without the edges that set out-degrees: {error}"
        gap = difference(outputs[1], outputs[0])
        return None if gap is None else f"the model reads out-degrees: without the edges that set them its outputs differ by {gap:.3g}"

    def _verify(self, record: Record) -> None:
        """Checks the restricted, batched passes against the model's own output (kept in ``record``);
        falls back to the exact path.

        Raises:
            VerificationError: if even the exact path does not reproduce the model.
        """
        rows = record.output[self.targets]
        resolve_mode(self.mode, rows[0].numel())  # a single output without a mode fails here, before any method
        place = (
            "each target's computation subgraph" if self._restrict and self.task == "node"
            else "the computation subgraphs of each pair's two nodes" if self._restrict and self.task == "edge"
            else "each target's own graph" if self.task == "graph" else "the graph, copied once per target"
        )
        alone, fresh = self._verdict(record, ("alone", self.task, self._restrict), lambda: self._alone_problem(rows, place))
        problem = alone
        if alone is None and any(self._copies_for(unit) > 1 or unit.num_targets > 1 for unit in self._units):
            problem, fresh = self._verdict(record, ("together", self.task, self._restrict), lambda: self._together_problem(rows))
        if problem is None:
            return
        self.exact_path = True
        per_segment = self.num_rows if self.task != "node" else 0
        self._bind_segments(whole_inputs(self._src, self._dst, self.num_nodes, self.targets, per_segment))
        mismatch, _ = self._verdict(record, ("exact", self.task), lambda: self._exact_problem(rows))
        if mismatch is not None:
            raise VerificationError(mismatch)
        if fresh:
            warn_at_caller(f"{problem}; explaining every target alone on the full input instead (exact, slower)")

    @staticmethod
    def _verdict(record: Record, check: tuple, run: Any) -> Tuple[Optional[str], bool]:
        """The outcome of ``check`` on these inputs (``None``: passed), run once and kept, and whether it was run now."""
        if check in record.verdicts:
            return record.verdicts[check], False
        record.verdicts[check] = run()
        return record.verdicts[check], True

    def _alone_problem(self, rows: Tensor, place: str) -> Optional[str]:
        """Why the pass at mask 1 of every target's part of the graph differs from the model's own output, if it does."""
        shape = (1, self.num_layers, self.edge_ids.numel()) if self.layerwise else (1, self.edge_ids.numel())
        ones = torch.ones(shape, dtype=self.dtype, device=self.device)
        return shortcut_problem(lambda: self._batched(ones, keep=False), rows, place, self._mixing_hint(), (UnsupportedLayerError,))

    def _together_problem(self, rows: Tensor) -> Optional[str]:
        """Why masks run together in one pass differ from the same masks run alone, if they do.

        The first unit runs the all-ones mask and a seeded random one as two
        copies in one pass; the random mask of the first target is then run
        on that target's part of the graph alone.
        """
        unit = self._units[0]
        copies = min(2, self._copies_for(unit))
        width = unit.edge_range.stop - unit.edge_range.start
        random, masks = together_masks(width, self.num_layers, self.layerwise, copies, self.device, self.dtype)
        alone_unit = _Unit(self, self.segments, 0, 1)
        with torch.no_grad():
            together = self._run(unit, copies, masks, None)
            alone = self._run(alone_unit, 1, random[..., : alone_unit.edge_range.stop][None], None)
        gap = together_gap(together, alone, rows, copies, unit.num_targets)
        if gap is None:
            return None
        return f"copies of the graph run together in one pass see each other: their outputs differ from those of one copy by {gap:.3g}{self._mixing_hint()}"

    def _exact_problem(self, rows: Tensor) -> Optional[str]:
        """Why a pass of the first target on the full input, every edge at weight 1, differs from the model's own output."""
        shape = (self.num_layers, self.num_edges) if self.layerwise else (self.num_edges,)
        with torch.no_grad():
            out = self._run(self._units[0], 1, torch.ones((1,) + shape, dtype=self.dtype, device=self.device), None)
        gap = difference(out, rows[:1])
        return None if gap is None else not_reproduced(gap)

    def _mixing_hint(self) -> str:
        found = pooling_modules(self.model, self._name_of)
        return f" (modules that pool over the nodes of a graph or of the whole input: {', '.join(found)})" if found else ""

    def _snapshot(self) -> Snapshot:
        """The model and the user's inputs as they are now (what the verification's record depends on)."""
        objects = []
        for slot in self._slots:
            value = slot.value
            state = tensor_state(value) if isinstance(value, Tensor) else ()
            if slot.kind == STRUCTURE:
                state += self._structure_state(value)
            objects.append((value, (slot.key, slot.kind) + state))
        return Snapshot(self.model, objects, self._settings)

    def _structure_state(self, structure: Any) -> tuple:
        r"""What identifies a graph object's current structure and data, beyond its identity."""
        return tuple((name, tensor_state(tensor)) for name, tensor in self._structure_tensors(structure, ""))

    def _own_output(self) -> Tensor:
        """The model's output on the user's full input, as its own call gives it (eval mode, nothing weighted)."""
        args, kwargs = assemble(self._slots, {slot.key: slot.value for slot in self._slots})
        state = InputState(self._user_tensors)
        with torch.no_grad(), prepared(self.model):
            out = self.model(*args, **kwargs)
        self._check_unmodified(state)
        return self._checked_output(out, self.num_rows).detach()

    def _layers(self) -> Tuple[List[Layer], Optional[List[Optional[str]]]]:
        """The message-passing calls and their self-loop policies, found once per model and argument layout.

        Layers are discovered on one node of the first target (its own node,
        or the first node of its graph), which depends only on the model's
        modules and settings and the layout of its arguments, so the result is
        kept while those stay the same. A model that cannot run on one node is
        discovered on the first target's whole graph instead, and that result
        is not kept.
        """
        key = None if self.runs_whole else self._layout_key()
        known = _LAYERS.get(self.model, {}).get(key) if key is not None else None
        if known is not None:
            modules = list(self.model.modules())
            calls, policies = known
            return [Layer(name, modules[position], call, own, row) for position, name, call, own, row in calls], policies
        if self.task == "graph":
            first = self._graph_nodes(int(self.targets[0]))[:1]
        else:
            first = self.targets[:1] if self.task == "node" else self._pairs_of(self.targets[:1])[0]
        try:
            if self.runs_whole:  # one node's inputs would not be those of a node of the graph the model runs on
                raise _NotOnOneNode
            layers = self._discover(single_node(first, pair=self.task == "edge"))
        except Exception as error:
            if raised_by_edgeattr(error) and not isinstance(error, _NotOnOneNode):  # a refusal holds on every graph
                raise
            # The model's own error on a graph of one node (DGL's check for nodes without in-edges, a
            # normalisation over one value): discover on the first target's graph instead.
            key, layers = None, self._discover(self._segments(self.targets[:1], restrict=False))
        policies = None if self.reads_own_graph else self._probe_loop_policies(len(layers))
        if any(layer.own_edges for layer in layers):
            policies = [OWN if layer.own_edges else (policies[i] if policies else None) for i, layer in enumerate(layers)]
        if key is not None:
            # Positions among the model's modules, not the modules: the model may be one of them.
            position = {id(module): p for p, module in enumerate(self.model.modules())}
            calls = [(position[id(layer.module)], layer.name, layer.call, layer.own_edges, layer.row) for layer in layers]
            _LAYERS.setdefault(self.model, {})[key] = (calls, policies)
        return layers, policies

    def _layout_key(self) -> Optional[tuple]:
        """What layer discovery on one node depends on: the model's modules and settings and the arguments' layout."""
        layout: List[tuple] = []
        for slot in self._slots:
            value = slot.value
            if isinstance(value, Tensor):
                shape = tuple(value.shape) if slot.kind == STATIC else tuple(value.shape[:1]) if slot.kind == PAIRS else tuple(value.shape[1:])
                layout.append((slot.key, slot.kind, value.dtype, shape, str(value.device)))
            elif slot.kind in (STRUCTURE, CONTAINER, NODE_COUNT, PAIRS) or isinstance(value, (bool, int, float, str, type(None))):
                layout.append((slot.key, slot.kind, type(value).__name__, value if slot.kind == STATIC else None))
            else:
                return None
        return (type(self), self.task, self._settings, tuple(layout))

    def _restricted_values(self, segments: Segments, own_inputs: bool = False, check_finite: bool = True) -> Dict[Key, Any]:
        """The model's arguments on the union of ``segments``, or the user's own (``own_inputs``).

        Raises:
            ValueError: if the node or edge features read there (those the
                explanation depends on) hold NaN or inf, unless ``check_finite`` is off.
        """
        values: Dict[Key, Any] = {}
        for slot in self._slots:
            value = slot.value
            if slot.kind in (NODE, EDGE):
                rows = None if own_inputs else segments.nodes if slot.kind == NODE else segments.edge_ids
                finite = finite_rows(value) if check_finite and value.is_floating_point() else None
                if finite is not None and not (finite if rows is None else finite[rows]).all():
                    raise ValueError(f"argument {slot.name or slot.key!r} holds NaN or inf; explanations need finite features")
                value = value if rows is None else value[rows]
            elif own_inputs:
                pass
            elif slot.kind == STRUCTURE:
                value = self._restrict_structure(value, segments)
            elif slot.kind == NODE_COUNT:
                value = segments.nodes.numel()
            elif slot.kind == PAIRS:
                assert segments.pairs is not None, "the segments of an edge task hold their pairs"
                value = self._pair_value(value, segments.pairs[0], segments.pairs[1], segments.nodes.numel())
            elif slot.kind == BATCH:
                if self.task == "graph":
                    value = segments.node_segment.to(value.dtype)
                else:
                    step = int(value.max()) + 1 if value.numel() else 1
                    value = value[segments.nodes] + segments.node_segment.to(value.dtype) * step
            values[slot.key] = value
        return values

    def _copies(self, unit: "_Unit", copies: int) -> Call:
        """The model call for ``copies`` disjoint copies of a unit (cached per unit)."""
        if unit.cache is not None and unit.cache[0] == copies:
            return unit.cache[1]
        num_nodes = unit.segments.nodes.numel()
        graphs = unit.num_targets * unit.segments.graphs_per_segment
        outputs = num_nodes if self.task == "node" else graphs
        values: Dict[Key, Any] = {}
        edge_values: List[Tensor] = []
        for slot in self._slots:
            value = unit.values[slot.key]
            if slot.kind == STRUCTURE:
                value, src, dst = self._repeat_structure(value, copies, num_nodes)
                structure = value
            elif slot.kind == PAIRS:
                u, v = self._pair_ends(value)
                outputs = u.numel()
                if copies > 1:
                    offsets = copy_offsets(copies, outputs, num_nodes, self.device)
                    value = self._pair_value(value, u.repeat(copies) + offsets, v.repeat(copies) + offsets, num_nodes * copies)
            elif slot.kind in (NODE, EDGE):
                value = repeat_rows(value, copies)
                if slot.kind == EDGE:
                    edge_values.append(value)
            elif slot.kind == BATCH:
                step = graphs if self.task == "graph" else (int(value.max()) + 1 if value.numel() else 1)
                value = value.repeat(copies) + copy_offsets(copies, num_nodes, step, self.device).to(value.dtype)
            elif slot.kind == NODE_COUNT:
                value = value * copies
            values[slot.key] = value
        rows = (unit.segments.roots.view(1, -1) + torch.arange(copies, device=self.device).view(-1, 1) * outputs).view(-1)
        call = Call(self._slots, values, structure, src, dst, rows, edge_values, outputs * copies)
        unit.cache = (copies, call)
        return call

    def _without_edges(self, call: Call, keep: Tensor) -> Call:
        """The same call with the edges ``keep`` drops deleted from the graph and edge features."""
        structure, src, dst = self._cut_structure(call.structure, keep)
        replaced = {id(call.structure): structure, **{id(v): v[keep] for v in call.edge_values}}
        return call.replace(replaced, structure, src, dst)

    # -- running the model ----------------------------------------------------------------

    def _discover(self, segments: Segments) -> List[Layer]:
        own = self._restricted_values(segments, own_inputs=True) if self.runs_whole else None
        unit = _Unit(self, segments, 0, segments.num_segments, values=own)
        call = self._copies(unit, 1)
        edge_tensors = [call.structure] if isinstance(call.structure, Tensor) else []
        return discover_layers(lambda session: self._call(call, session, None), "the graph", edge_tensors)

    def _probe_loop_policies(self, num_layers: int) -> Optional[List[Optional[str]]]:
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
            elif slot.kind == NODE_COUNT:
                value = 2
            elif slot.kind == PAIRS:
                zero = torch.zeros(1, dtype=torch.long, device=self.device)
                value = self._pair_value(value, zero, zero, 2)
            values[slot.key] = value
        probe = Call(self._slots, values, structure, src, dst, torch.zeros(1, dtype=torch.long, device=self.device))
        session = CallCounter()
        try:
            with torch.no_grad():
                self._forward(probe, session, None)
        except Exception as error:
            if raised_by_edgeattr(error):
                raise
            return None  # the model's own error on the probe graph: messages are matched by their form alone
        if len(session.layers) != num_layers or len(session.message_counts) != num_layers:
            return None
        return [loop_policy(count) for count in session.message_counts]

    def _batched(self, sub_mask: Tensor, *, keep: bool, features: Optional[Tensor] = None) -> Tensor:
        modified = self._inputs.modified()
        if modified:
            raise InputModifiedError(
                f"input {modified[0]!r} was modified in place after the adapter was built, so its passes would "
                f"explain other values than the model saw: build a new adapter for the new inputs"
            )
        rounds, outputs = sub_mask.size(0), []
        for unit in self._units:
            run = functools.partial(self._run, unit)
            rows = () if features is None else (features[:, unit.node_range],)
            out = run_in_passes(sub_mask[..., unit.edge_range], self._copies_for(unit), keep, run, *rows)
            outputs.append(out.view((rounds, unit.num_targets) + out.shape[1:]))
        out = torch.cat(outputs, 1) if len(outputs) > 1 else outputs[0]
        return out.reshape((rounds * self.num_targets,) + out.shape[2:])

    def _run(self, unit: "_Unit", copies: int, weights: Optional[Tensor], keep: Optional[Tensor], features: Optional[Tensor] = None) -> Tensor:
        """The explained rows of ``copies`` copies of ``unit``, ``(copies * T_unit, *out)``; ``features``: the node
        features of each copy, ``(copies, N_unit, *F)``, in place of the model's."""
        call = self._copies(unit, copies)
        if features is not None:
            assert self._features is not None
            values = {**call.values, self._features.key: features.reshape((-1,) + features.shape[2:])}
            call = dataclasses.replace(call, values=values)
        layer_keep = None
        if keep is not None and self.reads_own_graph:
            raise ValueError(
                "the model reads its graph itself, so edges cannot be deleted from it: pass the graph as an argument "
                "of the model, or weight messages instead of deleting edges (mode='message')"
            )
        if keep is not None and not self.layerwise:
            call = self._without_edges(call, keep.reshape(-1))
        elif keep is not None:
            layer_keep = keep
        rows = [layer.row for layer in self.layers]
        session = session_for(weights, len(self.layers), call.src, call.dst, self._loop_policies, rows)
        out = self._call(call, session, layer_keep)
        session.finish()
        return out[call.rows]

    def _forward(self, call: Call, session: CallCounter, layer_keep: Optional[Tensor]) -> Any:
        handler, routing = self._intercept(call, session)
        if layer_keep is not None:
            handler = Handlers([handler, self._layer_removal(call, session, layer_keep)])
        state = InputState(functools.partial(named_tensors, self._slots, call.values, self._structure_tensors))
        with prepared(self.model, handler), routing:
            out = self.model(*call.args, **call.kwargs)
        self._check_unmodified(state)
        return out

    @staticmethod
    def _check_unmodified(state: InputState) -> None:
        modified = state.modified()
        if modified:
            raise InputModifiedError(
                f"the model modified its input {modified[0]!r} in place during forward; edgeattr runs the model many "
                f"times on the same inputs, so later passes would see other values: copy it inside forward before "
                f"changing it (e.g. x = x.clone(), or graph.local_scope() for a DGL graph's data)"
            )

    def _call(self, call: Call, session: CallCounter, layer_keep: Optional[Tensor]) -> Tensor:
        return self._checked_output(self._forward(call, session, layer_keep), call.num_outputs)

    def _checked_output(self, out: Any, expected: Optional[int]) -> Tensor:
        """The explained output (see :func:`select_output`), if it has one row per node (node task), graph (graph task)
        or scored pair (edge task), ``expected`` of them."""
        out = select_output(out, self._output)
        if out.dim() == 0 or (expected is not None and out.size(0) != expected):
            unit = "pair" if self.task == "edge" else self.task
            others = " or ".join(f"per {other}, pass task='{task}'" for task, other in _ROW_UNITS.items() if task != self.task)
            raise ValueError(
                f"the model returned {tuple(out.shape)} for a {self.task} task with {expected} "
                f"{unit}s in the pass; if it predicts {others}"
            )
        return out

    def _layer_removal(self, call: Call, session: CallCounter, keep: Tensor) -> Handler:
        """Deletes, at each layer ``l``, the edges ``keep[:, l]`` drops from the inputs of the layer's module."""
        return _LayerRemoval(self, call, session, keep)

    # -- node features beside the mask (features=True) --------------------------------------

    def inputs(self) -> Tuple[Tensor, ...]:
        if self._features is None:
            return (self.ones(),)
        return self.ones(), repeated(self._features.value, self.num_targets)

    def _batched_features(self, sub_mask: Tensor, x: Tensor) -> Tensor:
        if self._features is None:
            raise TypeError(
                "x (node features) was passed, but the adapter was built without features=True: build it with "
                "features=True (and features_arg= to name the features), or call it with the mask alone"
            )
        features = self._features.value
        check_features(x, features, sub_mask.size(0) * self.num_targets, str(self._features.name or self._features.key))
        return self._batched(sub_mask, keep=False, features=gather_rows(x.to(features.dtype), self.segments, self.num_targets))


def named_tensors(slots: List[Slot], values: Dict[Key, Any], structure_tensors: Any) -> Iterator[Tuple[str, Tensor]]:
    r"""The tensors among a call's ``values`` by argument name, with those inside its graph (``structure_tensors``)."""
    for slot in slots:
        name, value = str(slot.name or slot.key), values[slot.key]
        if isinstance(value, Tensor):
            yield name, value
        if slot.kind == STRUCTURE:
            yield from structure_tensors(value, name)


class _Unit:
    """Consecutive targets whose segments run together, and their positions among ``edge_ids`` (``edge_range``)
    and among the nodes of all segments (``node_range``).

    Args:
        adapter (GraphAdapter): The adapter.
        segments (Segments): All targets' segments.
        first, last (int): The unit's targets, ``first .. last - 1``.
        node_size, edge_size (int): Input values per node and per edge.
        values (dict, optional): The arguments to run; default those of
            the unit's segments (the user's own for a segment that is the whole input).
    """

    def __init__(
        self, adapter: GraphAdapter, segments: Segments, first: int, last: int, node_size: int = 1, edge_size: int = 1,
        values: Optional[Dict[Key, Any]] = None,
    ) -> None:
        self.edge_range = segments.edge_range(first, last)
        #: The unit's positions among ``segments.nodes``, where its rows of the node features are.
        self.node_range = segments.node_range(first, last)
        self.segments = segments.select(first, last)
        self.num_targets = last - first
        self.size = self.segments.nodes.numel() * node_size + self.segments.edge_ids.numel() * edge_size
        self.values = adapter._restricted_values(self.segments) if values is None else values
        self.cache: Optional[Tuple[int, Call]] = None


class _NotOnOneNode(Exception):
    """The layers are not discovered on one node: the graph cannot be cut (see ``GraphAdapter.runs_whole``)."""


#: What one output row stands for, per task.
_ROW_UNITS = {"node": "node", "graph": "graph", "edge": "scored node pair (link prediction, with pairs_arg=)"}

#: Targets whose computation subgraphs, with and without the edges that set only out-degrees, tell
#: whether the model reads those degrees (see ``GraphAdapter._out_degrees_unread``).
OUT_DEGREE_PROBES = 8

#: Names of arguments holding the node pairs a link-prediction model scores (PyG's convention).
PAIR_NAMES = frozenset({"edge_label_index"})

def finite_rows(tensor: Tensor) -> Tensor:
    r"""Whether each row of ``tensor`` is finite, ``(tensor.size(0),)``, found once per tensor and version.

    Adapters check the rows their passes read (gathering every unit's rows first would check copies of
    them), and a loop that builds one adapter per target over the same features reads them once.
    """
    version = tensor._version

    def rows() -> Tuple[int, Tensor]:
        finite = torch.isfinite(tensor)
        return version, finite.flatten(1).all(1) if finite.dim() > 1 else finite

    return remembered(tensor, "finite rows", lambda kept: kept[0] == version, rows)[1]


#: Layers and self-loop policies found per model and argument layout (see ``GraphAdapter._layers``).
_LAYERS: "weakref.WeakKeyDictionary[torch.nn.Module, Dict[tuple, tuple]]" = weakref.WeakKeyDictionary()


class _LayerRemoval(Handler):
    """Cuts the graph argument of each layer's module down to the edges kept at that layer.

    Raises:
        UnsupportedLayerError: when a layer's module does not receive the graph
            argument itself, or makes several calls per forward whose edges to
            delete differ.
    """

    def __init__(self, adapter: GraphAdapter, call: Call, session: CallCounter, keep: Tensor) -> None:
        self.adapter, self.call, self.session, self.keep = adapter, call, session, keep
        self.modules = {id(layer.module) for layer in adapter.layers}
        self.starts: List[int] = []

    def _name(self, module: torch.nn.Module) -> str:
        return self.adapter._name_of(module)

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> Optional[Tuple[tuple, dict]]:
        if id(module) not in self.modules:
            return None
        call = len(self.session.layers)
        self.starts.append(call)
        if call >= len(self.adapter.layers):
            return None
        flat = self.keep[:, self.adapter.layers[call].row].reshape(-1)
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
        rows = sorted({layer.row for layer in self.adapter.layers[first:last]})
        if len(rows) > 1 and not (self.keep[:, rows] == self.keep[:, rows[:1]]).all():
            raise unsupported(
                self._name(module), module,
                f"it makes {last - first} message-passing calls per forward, so an edge cannot be "
                f"removed from one of them alone; use mode='message'",
            )
        return None

r"""Adapters over graphs with several edge types: one flat mask over all of them, many targets, and verified shortcuts.

A mask of a :class:`HeteroAdapter` holds the edges of every edge type, type
after type. ``index`` names one target or a 1-D tensor of ``T`` of them (nodes
of one node type). Every target runs on the whole graph, one mask per pass,
unless two shortcuts are verified against the model's own output on the full
input (once per model and inputs):

* each target runs on its **computation subgraph over every edge type**
  (:func:`typed_computation_subgraphs`): the nodes whose states can reach it
  through the message-passing rounds in their order (calls that read none of
  each other's outputs, such as a ``to_hetero`` layer's relation calls, are
  one round: :func:`call_rounds`), each round one hop along its calls' edge
  types, and every edge of a round's types at those nodes, so that their
  degrees are whole;
* several masks and targets run as **disjoint copies** of those subgraphs in
  one pass (:class:`Parts`: per node type and per edge type, one block after
  another).

Where either check fails the adapter says so with a
:class:`~edgeattr.FallbackWarning` and keeps the whole graph, one mask per pass.
"""

from __future__ import annotations

import functools
import numbers
from abc import abstractmethod
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import DEFAULT_ELEMENTS_PER_PASS, EdgeMaskAdapter, run_in_passes
from edgeattr.adapters.base.fingerprint import Snapshot
from edgeattr.adapters.base.messages import CallCounter, Layer, MessageWeights
from edgeattr.adapters.base.prepared import Handler, prepared
from edgeattr.adapters.base.rounds import Invocations, SeparateWeights, call_rounds
from edgeattr.adapters.base.subgraph import Segments, whole_inputs
from edgeattr.adapters.base.typed import EdgeType, Parts, TypedLayout, parts_of, starts_of, typed_computation_subgraphs, whole_parts
from edgeattr.adapters.base.verification import (
    Record,
    difference,
    not_reproduced,
    record_for,
    shortcut_problem,
    together_gap,
    together_masks,
)
from edgeattr.checks import checked_count
from edgeattr.errors import InputModifiedError, VerificationError, warn_at_caller
from edgeattr.modes import resolve_mode


class _Unit:
    """Consecutive targets run together, with their columns (``edge_range``) and a cache of their pass per copies.

    Their segments are selected only when a pass is made of them (a unit on the whole graph needs none).
    """

    def __init__(self, segments: Segments, first: int, last: int, parts: Callable[[Segments, int], Parts], node_size: int = 1, edge_size: int = 1) -> None:
        self.edge_range = segments.edge_range(first, last)
        self.num_targets = last - first
        self._all, self._first, self._last = segments, first, last
        self._sizes = (node_size, edge_size)
        self._make = parts
        self._cache: Optional[Tuple[int, Parts]] = None

    @functools.cached_property
    def segments(self) -> Segments:
        return self._all.select(self._first, self._last)

    @functools.cached_property
    def size(self) -> int:
        """Input values of one copy (nodes and edges, each counting its features' values)."""
        return self.segments.nodes.numel() * self._sizes[0] + self.segments.edge_ids.numel() * self._sizes[1]

    def parts(self, copies: int) -> Parts:
        if self._cache is None or self._cache[0] != copies:
            self._cache = (copies, self._make(self.segments, copies))
        return self._cache[1]


class HeteroAdapter(EdgeMaskAdapter):
    r"""An adapter whose mask holds the edges of every edge type, type after type.

    Entries ``offset_t .. offset_t + E_t - 1`` of a mask are the edges of type
    ``t`` in their own order (:meth:`split` and :meth:`join` convert). With
    ``index`` a 1-D tensor of ``T`` node ids there are ``T`` targets: masks
    have ``T`` rows (``ones()`` is ``(T, E)``), row ``r`` of a batch applying
    to target ``r % T``. Targets run on their computation subgraph over every
    edge type, many masks as disjoint copies in one pass, where both are
    verified against the model's own output (see :mod:`~edgeattr.adapters.base.hetero`);
    otherwise (``verify=False``, ``restrict=False``, an output that is not one
    row per node of one type, a graph the model reads itself) on the whole
    graph, one mask per pass (:attr:`exact_path`).

    A framework adapter provides :meth:`_node_counts`, :meth:`_typed_edges`,
    :meth:`_run_parts`, :meth:`_own_call` and :meth:`_snapshot_objects`,
    and calls :meth:`_set_edge_types`, :meth:`_set_index` and then, once its
    layers are discovered, :meth:`_bind`.
    """

    #: The edge types, in mask order.
    edge_types: List[EdgeType]
    #: Whether every target runs alone on the user's whole graph, one mask per pass.
    exact_path: bool = True
    #: The name of the keyword that names the node type of the output rows (for messages).
    _type_keyword = "node_type"
    #: What the graphs are called in messages.
    _graphs = "heterogeneous graphs"
    #: Whether a tensor output with one row per node of exactly one node type is taken as that type's rows.
    _infers_row_type = False

    def _set_edge_types(self, counts: Mapping[EdgeType, int], device: torch.device) -> None:
        r"""Lays the edge types out in the mask: ``counts`` maps each type to its number of edges."""
        self.edge_types = list(counts)
        sizes = [counts[t] for t in self.edge_types]
        self._offsets = dict(zip(self.edge_types, starts_of(sizes)))
        self._counts = dict(zip(self.edge_types, sizes))
        self.num_edges = sum(sizes)
        self.edge_ids = torch.arange(self.num_edges, device=device)
        self.message_edges = self.edge_ids
        self._layout = TypedLayout.of(self._node_counts(), self._typed_edges(), device)
        self.num_nodes = self._layout.num_nodes

    def split(self, values: Tensor) -> Dict[EdgeType, Tensor]:
        r"""Keys the last dimension of ``values`` ``(..., E)`` by edge type: ``{edge type: (..., E_t)}``."""
        return {t: values[..., self._offsets[t] : self._offsets[t] + self._counts[t]] for t in self.edge_types}

    def join(self, values: Mapping[EdgeType, Tensor]) -> Tensor:
        r"""The inverse of :meth:`split`: one tensor ``(..., E)`` from per-type tensors ``(..., E_t)``."""
        missing = set(self.edge_types) - set(values)
        if missing:
            raise ValueError(f"values are missing edge types {sorted(missing, key=str)}")
        return torch.cat([values[t] for t in self.edge_types], -1)

    # -- what a framework adapter provides ---------------------------------------------------

    @abstractmethod
    def _node_counts(self) -> Dict[str, int]:
        r"""The nodes of each node type of the user's graph, in order."""

    @abstractmethod
    def _typed_edges(self) -> Dict[EdgeType, Tuple[Tensor, Tensor]]:
        r"""``(src ids, dst ids)`` of each edge type, in mask order."""

    @abstractmethod
    def _run_parts(self, parts: Parts, session: CallCounter, observer: Optional[Handler] = None) -> Any:
        r"""Runs the model once on ``parts`` (the user's own inputs where ``parts.whole``) with ``session``; its raw output.

        Every message of a call along edges of type ``t`` gets
        ``session.weights_at(layer, positions)`` with ``positions`` read off
        ``parts.positions[t]``, and calls :meth:`_note_types`. ``observer``,
        if given, sees the model's hooks too (after the weighting's).
        """

    @abstractmethod
    def _own_call(self) -> Any:
        r"""The model's own call on the user's inputs, unweighted; its raw output."""

    @abstractmethod
    def _snapshot_objects(self) -> Iterable[Tuple[Any, tuple]]:
        r"""The user's inputs and their states, for :class:`~edgeattr.adapters.base.fingerprint.Snapshot`."""

    def _row_key(self) -> Optional[str]:
        r"""The node type named for the output rows (``node_type`` / ``ntype``), if any."""
        return None

    def _can_cut(self) -> bool:
        r"""Whether the graph can be rebuilt for a pass (not one the model reads itself)."""
        return True

    # -- targets -----------------------------------------------------------------------------

    def _set_index(self, index: Union[None, int, Tensor]) -> None:
        r"""Checks ``index`` and sets :attr:`index` (as given: ``None``, an int, or a 1-D tensor of ids) and the targets."""
        many = isinstance(index, Tensor) and index.dim() == 1
        if isinstance(index, Tensor):
            if index.is_floating_point() or index.dtype == torch.bool or index.dim() > 1 or (many and index.numel() == 0):
                raise ValueError(
                    f"index must be an integer id or a 1-D tensor of ids, got a {index.dtype} tensor of shape {tuple(index.shape)}"
                )
            ids = index.to(self.device, torch.long).view(-1)
        elif index is None:
            ids = torch.zeros(1, dtype=torch.long, device=self.device)
        elif isinstance(index, numbers.Integral) and not isinstance(index, bool):
            ids = torch.tensor([int(index)], device=self.device)
        else:
            raise TypeError(f"index must be an integer node id or a 1-D tensor of ids, got {index!r}")
        #: The explained output row(s), as given.
        self.index: Union[None, int, Tensor] = ids if many else (None if index is None else int(ids[0]))
        #: Each target's output row, ``(T,)``.
        self.targets = ids
        self.num_targets = ids.numel()

    @property
    def edge_segment(self) -> Tensor:
        return self.segments.edge_segment

    @property
    def copies_per_pass(self) -> int:
        r"""How many masks run together in one forward pass (the fewest of any group of targets)."""
        return min(self._copies_for(unit) for unit in self._units)

    def _copies_for(self, unit: _Unit) -> int:
        if self.exact_path:
            return 1
        if self._copies_per_pass is not None:
            return self._copies_per_pass
        return max(1, DEFAULT_ELEMENTS_PER_PASS // max(1, unit.size))

    # -- binding and verification ------------------------------------------------------------

    def _bind(self, *, verify: bool, restrict: bool, copies_per_pass: Optional[int]) -> None:
        r"""Runs the targets on the whole graph, or on their computation subgraphs and in copies where verified.

        Raises:
            IndexError: for a target outside the model's output.
            ValueError: for a single output column without a mode.
            VerificationError: if the model's output is not reproduced even on the whole graph.
        """
        self._copies_per_pass = checked_count("copies_per_pass", copies_per_pass)
        self._layer_types: List[Set[EdgeType]] = [set() for _ in self.layers]
        self.exact_path = True
        self._row_type: Optional[str] = None
        #: The message-passing rounds, the calls of each (see :func:`call_rounds`); one call each until probed.
        self.rounds: List[List[int]] = [[call] for call in range(len(self.layers))]
        if not verify or not self._shortcuts(restrict):
            self._bind_segments(self._whole_segments())

    def _shortcuts(self, restrict: bool) -> bool:
        r"""Verifies the whole graph, then the computation subgraphs and copies, and binds those where they hold (``True``)."""
        objects = [(self._row_key(), ("row key",)), *self._snapshot_objects()]  # the explained tensor depends on the key
        record = record_for(self.model, Snapshot(self.model, objects), self._own_output)
        self._row_type = self._row_type_of(record.output)
        rows = self._rows(record.output, whole_parts(self._layout, self.targets, self._row_type))
        resolve_mode(self.mode, rows[0].numel())
        shortcut = restrict and self._can_cut() and self._row_type is not None
        gap, rounds = self._whole_gap(rows, probe=shortcut)
        if gap is not None:
            raise VerificationError(not_reproduced(gap))
        if not shortcut or self._row_type is None:
            return False
        self.rounds = rounds
        flat = self.targets + self._layout.node_offsets[self._row_type]
        self.exact_path = False
        round_types = [set().union(*(self._layer_types[layer] for layer in calls)) for calls in rounds]
        self._bind_segments(typed_computation_subgraphs(self._layout, round_types, flat))
        problem, fresh = self._verdict(record, ("typed alone", self._row_type), lambda: self._alone_problem(rows))
        if problem is None and any(self._copies_for(unit) > 1 or unit.num_targets > 1 for unit in self._units):
            problem, fresh = self._verdict(record, ("typed together", self._row_type), lambda: self._together_problem(rows))
        if problem is None:
            return True
        self.exact_path = True
        if fresh:
            warn_at_caller(f"{problem}; explaining every target alone on the full input instead (exact, slower)")
        return False

    def _whole_segments(self) -> Segments:
        return whole_inputs(self._layout.src, self._layout.dst, self._layout.num_nodes, self.targets)

    def _bind_segments(self, segments: Segments) -> None:
        r"""Makes ``segments`` what runs: one unit per target on the whole graph, else units of about one pass each."""
        #: Each target's part of the graph, as segments of the union that runs (flat node ids, mask positions).
        self.segments = segments
        self.edge_ids = segments.edge_ids
        self.message_edges = segments.message_edges
        if self.exact_path:
            self._units = [_Unit(segments, t, t + 1, self._whole_of(t)) for t in range(self.num_targets)]
            return
        node_size, edge_size = self._element_sizes()
        row_type = self._row_type
        assert row_type is not None
        make = functools.partial(parts_of, self._layout, row_type=row_type)
        self._units = [
            _Unit(segments, first, last, make, node_size, edge_size)
            for first, last in segments.bounds(DEFAULT_ELEMENTS_PER_PASS, node_size, edge_size)
        ]

    def _whole_of(self, target: int) -> Callable[[Segments, int], Parts]:
        def make(segments: Segments, copies: int) -> Parts:
            return whole_parts(self._layout, self.targets[target : target + 1], self._row_type)

        return make

    def _element_sizes(self) -> Tuple[int, int]:
        r"""Input values per node and per edge (the widest features, at least 1), which bound a pass's memory."""
        return 1, 1

    @staticmethod
    def _verdict(record: Record, check: tuple, run: Callable[[], Optional[str]]) -> Tuple[Optional[str], bool]:
        if check in record.verdicts:
            return record.verdicts[check], False
        record.verdicts[check] = run()
        return record.verdicts[check], True

    def _own_output(self) -> Tensor:
        r"""The explained tensor of the model's own output on the user's full input (eval mode, no grad), detached."""
        with torch.no_grad(), prepared(self.model):
            return self._explained(self._own_call()).detach()

    def _row_type_of(self, own: Tensor) -> Optional[str]:
        r"""The node type whose nodes are the rows of the explained output, if it is known."""
        key = self._row_key()
        if key is not None and key in self._layout.node_counts and own.size(0) == self._layout.node_counts[key]:
            return key
        if self._infers_row_type and key is None and self.index is not None:
            fitting = [n for n, c in self._layout.node_counts.items() if c == own.size(0)]
            return fitting[0] if len(fitting) == 1 else None
        return None

    def _whole_gap(self, rows: Tensor, probe: bool) -> Tuple[Optional[float], List[List[int]]]:
        r"""How far one weighted pass on the whole graph at mask 1 is from the model's own rows, and the calls' rounds.

        The pass records each call's edge types; with ``probe`` it also runs
        with autograd and gives every call a weight leaf of its own, to find
        which calls feed which (:func:`call_rounds`). Without, each call is a
        round of its own.
        """
        parts = whole_parts(self._layout, self.targets, self._row_type)
        shape = (1, self.num_layers, self.num_edges) if self.layerwise else (1, self.num_edges)
        ones = torch.ones(shape, dtype=self.dtype, device=self.device)
        if not probe:
            with torch.no_grad():
                out = self._pass(parts, ones, None)
            return difference(out, rows), [[call] for call in range(len(self.layers))]
        observer = Invocations({id(layer.module) for layer in self.layers})
        session = SeparateWeights(ones, len(self.layers), observer, [layer.row for layer in self.layers])
        with torch.enable_grad():
            out = self._rows(self._explained(self._run_parts(parts, session, observer)), parts)
        session.finish()
        if len(session.leaves) != len(self.layers):  # a call weighted without its leaf: each call a round of its own
            return difference(out.detach(), rows), [[call] for call in range(len(self.layers))]
        return difference(out.detach(), rows), call_rounds(session.leaves, session.contexts)

    def _alone_problem(self, rows: Tensor) -> Optional[str]:
        r"""Why every target's computation subgraph, at mask 1, gives other rows than the model's own, if it does.

        Any error on a subgraph, also a layer whose messages fit no form there (e.g. a node type left without
        nodes), sends the adapter to the whole graph, where the verification already passed.
        """
        shape = (1, self.num_layers, self.edge_ids.numel()) if self.layerwise else (1, self.edge_ids.numel())
        ones = torch.ones(shape, dtype=self.dtype, device=self.device)
        return shortcut_problem(lambda: self._batched(ones, keep=False), rows, "each target's computation subgraph")

    def _together_problem(self, rows: Tensor) -> Optional[str]:
        r"""Why masks and targets run together in one pass differ from each run alone, if they do.

        The first unit runs the all-ones mask and a seeded random one as two
        copies; the random mask of its first target is then run on that
        target's subgraph alone.
        """
        unit = self._units[0]
        copies = min(2, self._copies_for(unit))
        width = unit.edge_range.stop - unit.edge_range.start
        random, masks = together_masks(width, self.num_layers, self.layerwise, copies, self.device, self.dtype)
        alone = _Unit(self.segments, 0, 1, unit._make)
        try:
            with torch.no_grad():
                together = self._run_unit(unit, copies, masks, None)
                single = self._run_unit(alone, 1, random[..., : alone.edge_range.stop][None], None)
        except InputModifiedError:
            raise
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            return f"copies of the graph cannot run together in one pass ({type(error).__name__}: {first_line})"
        gap = together_gap(together, single, rows, copies, unit.num_targets)
        if gap is None:
            return None
        return f"copies of the graph run together in one pass see each other: their outputs differ from those of one copy by {gap:.3g}"

    # -- running the model -------------------------------------------------------------------

    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        rounds, outputs = sub_mask.size(0), []
        for unit in self._units:
            out = run_in_passes(sub_mask[..., unit.edge_range], self._copies_for(unit), keep, functools.partial(self._run_unit, unit))
            outputs.append(out.view((rounds, unit.num_targets) + out.shape[1:]))
        out = torch.cat(outputs, 1) if len(outputs) > 1 else outputs[0]
        return out.reshape((rounds * self.num_targets,) + out.shape[2:])

    def _run_unit(self, unit: _Unit, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        r"""The explained rows of ``copies`` copies of ``unit``, ``(copies * T_unit, *out)``."""
        return self._pass(unit.parts(copies), weights, keep)

    def _pass(self, parts: Parts, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        r"""One forward pass over ``parts`` with message ``weights``, or with the edges ``keep`` drops deleted."""
        session: CallCounter
        if keep is not None:
            self._check_removal()
            parts = parts.without(keep.reshape(-1))
            session = CallCounter(len(self.layers))
        else:
            assert weights is not None
            none = torch.zeros(0, dtype=torch.long, device=self.device)
            session = MessageWeights(weights, len(self.layers), none, none, rows=[layer.row for layer in self.layers])
        out = self._rows(self._explained(self._run_parts(parts, session)), parts)
        session.finish()
        return out

    def _check_removal(self) -> None:
        r"""Raises an error naming the fix where edges cannot be deleted (per layer)."""
        if self.layerwise:
            raise ValueError(f"mode='remove' per layer is not supported on {self._graphs}; use mode='message'")

    def _note_types(self, call: int, edge_types: Iterable[EdgeType]) -> None:
        r"""Records that call ``call`` passes messages along ``edge_types`` (which sets the computation subgraphs)."""
        if call < len(getattr(self, "_layer_types", ())):
            self._layer_types[call].update(edge_types)

    def _set_layers(self, layers: List[Layer]) -> None:
        r"""The discovered message-passing calls; a layerwise mask has a row per :attr:`Layer.row`."""
        self.layers = layers
        self.num_layers = layers[-1].row + 1

    def _explained(self, out: Any) -> Tensor:
        r"""The explained tensor of a raw output: the entry of the named node type for a dict of outputs."""
        if isinstance(out, dict):
            key = self._row_key()
            if key not in out:
                raise ValueError(f"the model returns outputs per node type {sorted(out)}: pass {self._type_keyword}= and index=")
            out = out[key]
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor or a dict of Tensors, got {type(out).__name__}")
        return out

    def _rows(self, out: Tensor, parts: Parts) -> Tensor:
        r"""The rows of ``out`` that ``parts`` explains, ``(len(parts.rows), *out)``.

        Raises:
            ValueError: for several rows and no ``index``, or a pass whose
                output is not one row per node of the target type.
            IndexError: for a target outside the output.
        """
        expected = parts.row_count
        if expected is not None and (out.dim() == 0 or out.size(0) != expected):
            raise ValueError(f"the model returned {tuple(out.shape)} on a pass with {expected} nodes of type {parts.row_type!r}")
        if self.index is None:
            if out.dim() == 0 or out.size(0) != 1:
                raise ValueError(f"the model returned {out.size(0) if out.dim() else 0} rows: pass index= for the one to explain")
            return out[:1]
        if expected is None:
            outside = parts.rows[(parts.rows < 0) | (parts.rows >= out.size(0))]
            if outside.numel():
                raise IndexError(f"index {int(outside[0])} is out of range for an output of {out.size(0)} rows")
        return out[parts.rows]


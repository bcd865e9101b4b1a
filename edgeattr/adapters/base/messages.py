r"""Counting message-passing calls and weighting their messages."""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.bypass import SparseOperations
from edgeattr.adapters.base.provenance import EdgeProvenance, follows_indexing
from edgeattr.errors import UnsupportedLayerError


@dataclass
class Layer:
    r"""One message-passing call of the forward pass (a layer of the computation graph).

    Args:
        name (str): Qualified name of the module that made the call.
        module (object): That module.
        call (int): Which call of that module this is (0 for the first).
        own_edges (bool): Whether the call passes messages along edges of its
            own, computed from no input edge (an attentive readout's
            node-to-graph edges, a k-nearest-neighbour graph): its messages keep
            weight 1 and carry no input edge's attribution.
        row (int): The row of layerwise masks that weights the call. Calls of
            one module within one forward, each over other edges (the
            relations of ``RGCNConv``), share a row; a module that propagates
            over the same edges again (APPNP's steps) starts a new row.
    """

    name: str
    module: Any
    call: int
    own_edges: bool
    row: int


#: How a layer treats self-loops, learnt from a probe graph with one input self-loop (see
#: :func:`loop_policy`): it passes exactly its edges; it replaces input self-loops by its own
#: (PyG's add_self_loops / add_remaining_self_loops); it appends its own after all edges (DGL's
#: add_self_loop).
EDGES, REPLACE, APPEND = "edges", "replace", "append"

#: The policy of a call along edges of its own (see :attr:`Layer.own_edges`): nothing to weight.
OWN = "own"


class InOrder(enum.Enum):
    r"""Marks messages that are the batched graph's edges, one each, in edge order."""

    IN_ORDER = "in order"


#: The messages are the edges, in order (no gather needed).
IN_ORDER = InOrder.IN_ORDER

#: Where each message of a call lies among the batched graph's edges: positions ``(M,)``
#: (``-1`` for a self-loop the layer added), or :data:`IN_ORDER`.
MessagePositions = Union[Tensor, InOrder]


def loop_policy(num_messages: int) -> Optional[str]:
    r"""The self-loop policy of a call that sent ``num_messages`` messages on the probe graph.

    The probe graph has two nodes and one edge, a self-loop on node 0: a layer
    passing its edges sends 1 message, one replacing input self-loops by its
    own sends 2, one appending its own sends 3.
    """
    return {1: EDGES, 2: REPLACE, 3: APPEND}.get(num_messages)


def align_messages(src: Tensor, dst: Tensor, ref_src: Tensor, ref_dst: Tensor, policy: Optional[str] = None) -> MessagePositions:
    r"""Maps the messages of one call to the edges the model was given.

    Layers derive the edges they pass messages along from the edges they were
    given in a few ways, tried in this order, each also on the reversed edges
    (DirGNNConv's flipped ``edge_index``):

    * exactly those edges, in order;
    * those edges followed by self-loops the layer adds; PyG's
      ``add_self_loops`` / ``add_remaining_self_loops`` first drop the
      self-loops that were already there (:data:`REPLACE`), DGL's
      ``add_self_loop`` keeps them (:data:`APPEND`). Where the messages fit
      several forms (an input whose self-loops the layer replaced one for one),
      the layer's ``policy`` decides, so that an input self-loop is attributed
      the same way on every graph;
    * an order-preserving subset of those edges, with or without self-loops of
      the layer's own (a relation's edges, ``edge_index[:, edge_type == r]``;
      the edges left after pooling, mapped back to the input's node ids).

    Args:
        src (Tensor): Sources of the call's messages, shape ``(M,)``.
        dst (Tensor): Destinations of the call's messages, shape ``(M,)``.
        ref_src (Tensor): Sources of the given edges, shape ``(E,)``.
        ref_dst (Tensor): Destinations of the given edges, shape ``(E,)``.
        policy (str, optional): The layer's self-loop policy; ``None`` tries
            the forms in the order edges, append, replace.

    Returns:
        :data:`IN_ORDER` when message ``m`` is edge ``m`` for all ``m``
        (``M == E``), otherwise a long tensor of shape ``(M,)`` with the edge
        id of each message and ``-1`` for self-loops the layer added.

    Raises:
        UnsupportedLayerError: if the messages are of none of the forms, or
            are a subset of edges that repeat the same (source, destination)
            pair, which endpoints cannot tell apart.
    """
    for ref in ((ref_src, ref_dst), (ref_dst, ref_src)):
        positions = _with_self_loops(src, dst, ref[0], ref[1], policy)
        if positions is not None:
            return positions
    for ref in ((ref_src, ref_dst), (ref_dst, ref_src)):
        subset = _subset(src, dst, ref[0], ref[1], policy)
        if subset is not None:
            return subset
    raise UnsupportedLayerError(
        "it passed messages along edges that are neither the edges it was given, nor their reverse, nor an "
        "order-preserving subset of either, with or without self-loops, so its messages cannot be matched to edges"
    )


def _with_self_loops(src: Tensor, dst: Tensor, ref_src: Tensor, ref_dst: Tensor, policy: Optional[str]) -> Optional[MessagePositions]:
    """The positions of messages that are the given edges, followed by self-loops the layer adds, if they are."""
    num_edges, num_messages = ref_src.numel(), src.numel()

    def matches(edge_ids: Optional[Tensor], count: int) -> bool:
        if num_messages < count:
            return False
        ref_s = ref_src if edge_ids is None else ref_src[edge_ids]
        ref_d = ref_dst if edge_ids is None else ref_dst[edge_ids]
        return torch.equal(src[:count], ref_s) and torch.equal(dst[:count], ref_d) and torch.equal(src[count:], dst[count:])

    if policy in (None, EDGES) and num_messages == num_edges and matches(None, num_edges):
        return IN_ORDER
    if policy in (None, APPEND) and matches(None, num_edges):
        kept = torch.arange(num_edges, device=src.device)
    else:
        kept = (ref_src != ref_dst).nonzero().view(-1)
        if policy == EDGES or not matches(kept, kept.numel()):
            return None
    added = kept.new_full((num_messages - kept.numel(),), -1)
    return torch.cat([kept, added])


def _subset(src: Tensor, dst: Tensor, ref_src: Tensor, ref_dst: Tensor, policy: Optional[str]) -> Optional[Tensor]:
    """The positions of messages along an order-preserving subset of the given edges, if they are one.

    A self-loop message is one the layer added (``-1``) when the layer replaces
    input self-loops or no such edge was given. Every other message must be a
    given edge, in the given order; where a (source, destination) pair is given
    several times, the messages must take all of them, or they cannot be told apart.
    """
    if not ref_src.numel():
        return None
    width = int(torch.cat([src, dst, ref_src, ref_dst]).max()) + 1
    ref_keys, keys = ref_src * width + ref_dst, src * width + dst
    order = torch.sort(ref_keys, stable=True).indices
    sorted_keys = ref_keys[order]
    first = torch.searchsorted(sorted_keys, keys)
    given = torch.searchsorted(sorted_keys, keys, right=True) - first
    added = (src == dst) & ((given == 0) | (policy == REPLACE))
    along = ~added
    if (given[along] == 0).any():
        return None
    # The k-th message along a pair takes the k-th edge of that pair.
    kept_keys = keys[along]
    by_key = torch.sort(kept_keys, stable=True)
    runs = torch.unique_consecutive(by_key.values, return_counts=True)[1]
    starts = torch.repeat_interleave(torch.cumsum(runs, 0) - runs, runs)
    rank = torch.empty_like(kept_keys)
    rank[by_key.indices] = torch.arange(kept_keys.numel(), device=src.device) - starts
    taken = torch.repeat_interleave(runs, runs)
    count = torch.empty_like(kept_keys)
    count[by_key.indices] = taken
    if (rank >= given[along]).any():
        return None
    if (count < given[along]).any():
        raise UnsupportedLayerError(
            "it passed messages along some but not all of several edges with the same source and destination, "
            "which their endpoints cannot tell apart; merge parallel edges (e.g. torch_geometric.utils.coalesce) "
            "or give them distinct endpoints"
        )
    kept = order[first[along] + rank]
    if (kept[1:] <= kept[:-1]).any():
        return None
    positions = torch.full_like(keys, -1)
    positions[along] = kept
    return positions


class CallCounter:
    r"""Counts the message-passing calls of one forward pass, weighting nothing.

    Layer discovery and the self-loop probe run with a counter, and so do the
    passes that delete edges instead of weighting their messages.

    Args:
        num_layers (int, optional): The number of calls a forward pass must make;
            ``None`` while the layers are being discovered.
        provenance (EdgeProvenance, optional): While the layers are discovered,
            what tells the calls along the input's edges from those along
            edges of their own.
    """

    def __init__(self, num_layers: Optional[int] = None, provenance: Optional[EdgeProvenance] = None) -> None:
        self.num_layers = num_layers
        self.provenance = provenance
        self.layers: List[Layer] = []
        #: Messages each call sent, as the handlers report them (see :meth:`record`).
        self.message_counts: List[int] = []
        self._calls_per_module: Dict[int, int] = {}
        self._group: Optional[tuple] = None
        self._group_edges: List[Tensor] = []

    def begin_call(self, name: str, module: Any, edges: Optional[Tensor] = None, invocation: Optional[int] = None) -> int:
        r"""Registers a message-passing call and returns its layer index.

        Args:
            name (str): The module's name.
            module (object): The module making the call.
            edges (Tensor, optional): The edges the call passes messages
                along, where the framework shows them as a tensor; with a
                ``provenance``, a call along edges computed from no input edge
                is marked :attr:`Layer.own_edges`.
            invocation (int, optional): Which forward of ``module`` makes the
                call, where the framework tells; calls of one invocation over
                other edges than its earlier calls share their row (see :attr:`Layer.row`).

        Raises:
            RuntimeError: if the forward pass makes more calls than were
                discovered (a model whose depth depends on its input).
        """
        call = self._calls_per_module.get(id(module), 0)
        self._calls_per_module[id(module)] = call + 1
        layer = len(self.layers)
        if self.num_layers is not None and layer >= self.num_layers:
            raise RuntimeError(
                f"the model made more than the {self.num_layers} message-passing "
                f"calls it made when its layers were discovered (extra call by "
                f"'{name}'); edgeattr needs a fixed number of calls per forward pass"
            )
        own = self.provenance is not None and edges is not None and not self.provenance.derived(edges)
        self.layers.append(Layer(name, module, call, own, self._row(module, edges, invocation)))
        return layer

    def _row(self, module: Any, edges: Optional[Tensor], invocation: Optional[int]) -> int:
        """The row of a new call: its group's while it is a further call of one invocation over other edges."""
        if edges is None or invocation is None:
            self._group, self._group_edges = None, []
            return self.layers[-1].row + 1 if self.layers else 0
        group = (id(module), invocation)
        if group == self._group and not any(edges is seen for seen in self._group_edges):
            self._group_edges.append(edges)
            return self.layers[-1].row
        self._group, self._group_edges = group, [edges]
        return self.layers[-1].row + 1 if self.layers else 0

    def record(self, num_messages: int) -> None:
        r"""Records how many messages the current call sent."""
        self.message_counts.append(num_messages)

    def finish(self) -> None:
        r"""Checks that the pass made as many calls as were discovered."""
        if self.num_layers is not None and len(self.layers) != self.num_layers:
            raise RuntimeError(
                f"the model made {len(self.layers)} message-passing calls, but "
                f"{self.num_layers} when its layers were discovered; edgeattr needs "
                f"a fixed number of calls per forward pass"
            )


class MessageWeights(CallCounter):
    r"""Hands each message-passing call of one forward pass its message weights.

    Args:
        mask (Tensor): Mask over the computation graph's edges for the copies
            of this pass, shape ``(b, E)`` (input level) or ``(b, L, E)`` (layerwise).
        num_layers (int, optional): As for :class:`CallCounter`.
        ref_src (Tensor): Sources of the batched graph's edges, ``(b * E,)``.
        ref_dst (Tensor): Destinations of the batched graph's edges, ``(b * E,)``.
        loop_policies (list[str], optional): Each layer's self-loop policy
            (see :func:`loop_policy`), where it was probed.
        rows (list[int], optional): Each call's row of a layerwise mask
            (:attr:`Layer.row`); default one row per call.
    """

    def __init__(
        self,
        mask: Tensor,
        num_layers: Optional[int],
        ref_src: Tensor,
        ref_dst: Tensor,
        loop_policies: Optional[List[Optional[str]]] = None,
        rows: Optional[List[int]] = None,
    ) -> None:
        super().__init__(num_layers)
        self.mask = mask
        self.ref_src, self.ref_dst = ref_src, ref_dst
        self.loop_policies = loop_policies
        self.rows = rows

    def weights(self, layer: int, src: Tensor, dst: Tensor) -> Tensor:
        r"""The weights of the messages of call ``layer``, matched to the edges by their endpoints.

        Args:
            layer (int): The call's layer index.
            src, dst (Tensor): The call's message endpoints, ``(M,)``.

        Returns:
            Tensor of shape ``(M,)``; self-loops added by the layer get 1, and
            so do all messages of a call along edges of its own (:data:`OWN`).
        """
        if self.policy(layer) == OWN:
            return self.mask.new_ones(src.numel())
        return self.weights_at(layer, align_messages(src, dst, self.ref_src, self.ref_dst, self.policy(layer)))

    def policy(self, layer: int) -> Optional[str]:
        r"""The self-loop policy of call ``layer``, if it was probed."""
        return None if self.loop_policies is None else self.loop_policies[layer]

    def weights_at(self, layer: int, positions: MessagePositions) -> Tensor:
        r"""The weights of call ``layer`` for messages along the given edges.

        Args:
            layer (int): The call's layer index.
            positions (Tensor or IN_ORDER): Position in the batched graph's edges
                of each message, ``(M,)``, ``-1`` for a self-loop the layer added
                (weight 1); :data:`IN_ORDER` when the messages are those edges, in order.

        Returns:
            Tensor of shape ``(M,)``.
        """
        row = layer if self.rows is None else self.rows[layer]
        flat = (self.mask[:, row] if self.mask.dim() == 3 else self.mask).reshape(-1)
        if positions is IN_ORDER:
            return flat
        return torch.cat([flat, flat.new_ones(1)])[positions]


def session_for(
    weights: Optional[Tensor],
    num_layers: int,
    ref_src: Tensor,
    ref_dst: Tensor,
    loop_policies: Optional[List[Optional[str]]] = None,
    rows: Optional[List[int]] = None,
) -> CallCounter:
    r"""The session of one pass: :class:`MessageWeights` for ``weights``, else a :class:`CallCounter`.

    A pass without weights deletes edges instead; its calls are still checked
    against the ``num_layers`` (calls) discovered.
    """
    if weights is None:
        return CallCounter(num_layers)
    return MessageWeights(weights, num_layers, ref_src, ref_dst, loop_policies, rows)


def discover_layers(run: Callable[[CallCounter], Any], what: str, edge_tensors: Iterable[Tensor] = ()) -> List[Layer]:
    r"""The message-passing calls of one forward pass, counted without weighting anything.

    Args:
        run (Callable): Runs the forward pass with a :class:`CallCounter`.
        what (str): What the model ran on, for the error message.
        edge_tensors (Iterable[Tensor]): The input's edge tensors, from which
            the calls along the input's edges are told apart from those along
            edges of their own (see :class:`EdgeProvenance`); none (or a torch
            whose modes do not see indexing, see :func:`follows_indexing`):
            every call is taken to pass messages along the input's edges.

    Raises:
        UnsupportedLayerError: if the model made no call edgeattr can see, or
            computed with a sparse tensor (an aggregation by sparse matrix
            product, which bypasses message passing), or passed every message
            along edges of its own (a graph built inside ``forward``).
    """
    sources = list(edge_tensors) if follows_indexing() else []
    session = CallCounter(provenance=EdgeProvenance(sources) if sources else None)
    with torch.no_grad(), SparseOperations(), session.provenance or contextlib.nullcontext():
        run(session)
    if not session.layers:
        raise UnsupportedLayerError(
            f"the model made no message-passing call on {what} that edgeattr can see: only messages passed "
            f"through the framework's message passing can be attributed to edges"
        )
    if all(layer.own_edges for layer in session.layers):
        named = ", ".join(f"'{layer.name}' ({type(layer.module).__name__})" for layer in session.layers)
        raise UnsupportedLayerError(
            f"layer {named} passes messages only along a graph built inside forward (e.g. a k-nearest-neighbour graph of "
            f"the features), not along the input's edges: there is no input edge to attribute"
        )
    return session.layers

r"""Counting message-passing calls and weighting their messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.bypass import SparseOperations
from edgeattr.errors import UnsupportedLayerError


@dataclass
class Layer:
    r"""One message-passing call of the forward pass (a layer of the computation graph).

    Args:
        name (str): Qualified name of the module that made the call.
        module (object): That module.
        call (int): Which call of that module this is (0 for the first).
    """

    name: str
    module: Any
    call: int


#: How a layer treats self-loops, learnt from a probe graph with one input self-loop (see
#: :func:`loop_policy`): it passes exactly its edges; it replaces input self-loops by its own
#: (PyG's add_self_loops / add_remaining_self_loops); it appends its own after all edges (DGL's
#: add_self_loop).
EDGES, REPLACE, APPEND = "edges", "replace", "append"


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

    Layers pass messages either along exactly the edges they were given, or
    along those edges followed by self-loops they add themselves; PyG's
    ``add_self_loops`` / ``add_remaining_self_loops`` first drop the self-loops
    that were already there (:data:`REPLACE`), DGL's ``add_self_loop`` keeps
    them (:data:`APPEND`). Where the messages fit several forms (an input
    whose self-loops the layer replaced one for one), the layer's ``policy``
    decides, so that an input self-loop is attributed the same way on every
    graph.

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
        UnsupportedLayerError: if the messages are of none of the forms.
    """
    num_edges, num_messages = ref_src.numel(), src.numel()

    def matches(edge_ids: Optional[Tensor], count: int) -> bool:
        if num_messages < count:
            return False
        ref_s = ref_src if edge_ids is None else ref_src[edge_ids]
        ref_d = ref_dst if edge_ids is None else ref_dst[edge_ids]
        return (
            torch.equal(src[:count], ref_s)
            and torch.equal(dst[:count], ref_d)
            and torch.equal(src[count:], dst[count:])
        )

    if policy in (None, EDGES) and num_messages == num_edges and matches(None, num_edges):
        return IN_ORDER
    if policy in (None, APPEND) and matches(None, num_edges):
        kept = torch.arange(num_edges, device=src.device)
    else:
        kept = (ref_src != ref_dst).nonzero().view(-1)
        if policy == EDGES or not matches(kept, kept.numel()):
            raise UnsupportedLayerError(
                "it passed messages along edges that are neither the edges it was given nor those edges "
                "followed by self-loops, so its messages cannot be matched to edges"
            )
    added = kept.new_full((num_messages - kept.numel(),), -1)
    return torch.cat([kept, added])


class CallCounter:
    r"""Counts the message-passing calls of one forward pass, weighting nothing.

    Layer discovery and the self-loop probe run with a counter, and so do the
    passes that delete edges instead of weighting their messages.

    Args:
        num_layers (int, optional): The number of calls a forward pass must make;
            ``None`` while the layers are being discovered.
    """

    def __init__(self, num_layers: Optional[int] = None) -> None:
        self.num_layers = num_layers
        self.layers: List[Layer] = []
        #: Messages each call sent, as the handlers report them (see :meth:`record`).
        self.message_counts: List[int] = []
        self._calls_per_module: Dict[int, int] = {}

    def begin_call(self, name: str, module: Any) -> int:
        r"""Registers a message-passing call and returns its layer index.

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
        self.layers.append(Layer(name, module, call))
        return layer

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
    """

    def __init__(
        self,
        mask: Tensor,
        num_layers: Optional[int],
        ref_src: Tensor,
        ref_dst: Tensor,
        loop_policies: Optional[List[Optional[str]]] = None,
    ) -> None:
        super().__init__(num_layers)
        self.mask = mask
        self.ref_src, self.ref_dst = ref_src, ref_dst
        self.loop_policies = loop_policies

    def weights(self, layer: int, src: Tensor, dst: Tensor) -> Tensor:
        r"""The weights of the messages of call ``layer``, matched to the edges by their endpoints.

        Args:
            layer (int): The call's layer index.
            src, dst (Tensor): The call's message endpoints, ``(M,)``.

        Returns:
            Tensor of shape ``(M,)``; self-loops added by the layer get 1.
        """
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
        flat = (self.mask[:, layer] if self.mask.dim() == 3 else self.mask).reshape(-1)
        if positions is IN_ORDER:
            return flat
        return torch.cat([flat, flat.new_ones(1)])[positions]


def session_for(
    weights: Optional[Tensor],
    num_layers: int,
    ref_src: Tensor,
    ref_dst: Tensor,
    loop_policies: Optional[List[Optional[str]]] = None,
) -> CallCounter:
    r"""The session of one pass: :class:`MessageWeights` for ``weights``, else a :class:`CallCounter`.

    A pass without weights deletes edges instead; its calls are still checked
    against the ``num_layers`` discovered.
    """
    if weights is None:
        return CallCounter(num_layers)
    return MessageWeights(weights, num_layers, ref_src, ref_dst, loop_policies)


def discover_layers(run: Callable[[CallCounter], Any], what: str) -> List[Layer]:
    r"""The message-passing calls of one forward pass, counted without weighting anything.

    Args:
        run (Callable): Runs the forward pass with a :class:`CallCounter`.
        what (str): What the model ran on, for the error message.

    Raises:
        UnsupportedLayerError: if the model made no call edgeattr can see, or
            computed with a sparse tensor (an aggregation by sparse matrix
            product, which bypasses message passing).
    """
    session = CallCounter()
    with torch.no_grad(), SparseOperations():
        run(session)
    if not session.layers:
        raise UnsupportedLayerError(
            f"the model made no message-passing call on {what} that edgeattr can see: only messages passed "
            f"through the framework's message passing can be attributed to edges"
        )
    return session.layers

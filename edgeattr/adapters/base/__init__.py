r"""What the framework adapters share: the mask forward_func, the bound model call, message weighting.

The map of these modules, and the life of one explanation through them, is
``docs/architecture.md``. The nouns coined here, one name each:

- **adapter**: a model bound to its call on one graph, as a Captum
  ``forward_func`` of an edge mask; what a method may use of it is
  :class:`~edgeattr.adapters.base.interface.AdapterInterface`.
- **target**: a node or graph output an adapter explains; ``T`` of them run
  together, and row ``r`` of a batch of masks explains target ``r % T``.
- **segment**: one target's part of the graph (its computation subgraph, its
  graph of a batch, or the whole input), renumbered; :class:`Segments` is the
  disjoint union of every target's segment, in target order.
- **edge_ids**: the edge id (column of a mask over all edges) of each edge of
  the union, ``(E_sub,)``: the columns of a mask in *subgraph coordinates*.
- **edge_segment**: the segment (target) of each of ``edge_ids``, sorted.
- **message_edges**: positions in ``edge_ids`` of the edges whose messages can
  reach their target's output; zeroing any other edge's message changes nothing.
- **message_layers**: for a layerwise adapter on computation subgraphs, which of
  those messages can still reach the target at each layer, ``(L, E_sub)``.
- **Slot**: one argument of the model call, with its **kind**: how it follows
  the graph when it is restricted and copied (``'structure'``, the graph;
  ``'node'``; ``'edge'``; ``'batch'``; ``'static'``).
- **Call**: a ready model call over some copies of the union.
- **Unit**: consecutive targets whose segments run together in one pass
  (bounded in size); a batch of masks runs unit by unit.
- **copies**: ``B`` masks run as ``B`` disjoint copies of a unit's graph in
  one forward pass; **rounds** are the ``C`` rows of a mask batch in subgraph
  coordinates, each covering every target.
- **layer**: one message-passing call of a forward pass, in call order
  (:class:`Layer`); a module called twice is two layers.
- **session**: what one forward pass hands its message-passing calls: a
  :class:`MessageWeights` (weights per message) or a :class:`CallCounter`
  (counts calls and messages, weights nothing).
- **probe**: a two-node graph with one self-loop, run once to learn each
  layer's **loop policy**: whether it passes exactly its edges, replaces input
  self-loops by its own, or appends its own (:func:`loop_policy`).
- **exact path**: every target run alone on the user's own inputs, one mask
  per pass, where verification found that a shortcut does not reproduce the model.
- **node features** (``features=True``): the second input ``x`` ``(B, N, *F)``
  of a graph adapter's forward function, beside the mask; row ``b`` takes the
  place of the model's node-feature argument in the pass of mask row ``b``
  (:mod:`edgeattr.adapters.base.features`).
"""

from typing import TYPE_CHECKING

from edgeattr.adapters.base.adapter import EdgeMaskAdapter, check_mask, unsupported
from edgeattr.adapters.base.call import Call, Slot
from edgeattr.adapters.base.graph import GraphAdapter
from edgeattr.adapters.base.interface import AdapterInterface, AdapterWrapper, ForwardFunc, adapter_of
from edgeattr.adapters.base.messages import IN_ORDER, CallCounter, Layer, MessagePositions, MessageWeights, align_messages, session_for
from edgeattr.adapters.base.prepared import prepared
from edgeattr.adapters.base.subgraph import Neighbourhoods, Segments

__all__ = [
    "IN_ORDER",
    "AdapterInterface",
    "AdapterWrapper",
    "ForwardFunc",
    "adapter_of",
    "Call",
    "CallCounter",
    "EdgeMaskAdapter",
    "GraphAdapter",
    "Layer",
    "MessagePositions",
    "MessageWeights",
    "Slot",
    "align_messages",
    "check_mask",
    "Neighbourhoods",
    "Segments",
    "prepared",
    "session_for",
    "unsupported",
]

if TYPE_CHECKING:  # mypy checks here that every adapter provides what the methods use

    def _provides_the_interface(adapter: EdgeMaskAdapter) -> AdapterInterface:
        return adapter

"""What the framework adapters share: the mask forward_func, the bound model call, message weighting."""

from edgeattr.adapters.base.adapter import EdgeMaskAdapter, check_mask, unsupported
from edgeattr.adapters.base.call import Call, Slot
from edgeattr.adapters.base.graph import GraphAdapter
from edgeattr.adapters.base.messages import Layer, MessageWeights, align_messages
from edgeattr.adapters.base.prepared import prepared
from edgeattr.adapters.base.subgraph import Neighbourhoods, Segments

__all__ = [
    "Call",
    "EdgeMaskAdapter",
    "GraphAdapter",
    "Layer",
    "MessageWeights",
    "Slot",
    "align_messages",
    "check_mask",
    "Neighbourhoods",
    "Segments",
    "prepared",
    "unsupported",
]

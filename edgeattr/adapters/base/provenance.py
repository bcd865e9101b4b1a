r"""Telling which tensors of a forward pass were computed from the input's edges.

A layer may pass its messages along the edges it was given, along edges it
derives from them (a relation's subset, the reversed edges, the edges left
after pooling, those edges with self-loops), or along edges of its own that no
input edge determines (the node-to-graph edges of an attentive readout, a
k-nearest-neighbour graph built from the features). Only the first two carry an
input edge's message. While the layers are discovered, :class:`EdgeProvenance`
watches every torch function the model calls and marks each result computed
from a marked operand, starting from the graph's own tensors; a
message-passing call over unmarked edges passes messages along edges of its own.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves


@functools.lru_cache(maxsize=None)
def follows_indexing() -> bool:
    r"""Whether this torch passes indexing through a ``TorchFunctionMode``, as :class:`EdgeProvenance` needs."""
    source = torch.arange(3)
    mode = EdgeProvenance([source])
    with mode:
        picked = source[torch.tensor([0, 2])]
    return mode.derived(picked)


class EdgeProvenance(TorchFunctionMode):
    r"""Marks every tensor computed, by any chain of torch functions, from the given edge tensors.

    Args:
        sources (Iterable[Tensor]): The input's edge tensors (an ``edge_index``,
            a graph's ``src`` and ``dst``).
    """

    def __init__(self, sources: Iterable[Tensor]) -> None:
        super().__init__()
        # Strong references: an id is not reused while its tensor is held here.
        self._marked: Dict[int, Tensor] = {id(tensor): tensor for tensor in sources}

    def derived(self, value: Any) -> bool:
        r"""Whether ``value`` is one of the sources or was computed from them."""
        return isinstance(value, Tensor) and self._marked.get(id(value)) is value

    def __torch_function__(self, func: Callable, types: Sequence[type], args: tuple = (), kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if any(self.derived(value) for value in tree_leaves((args, kwargs))):
            for value in tree_leaves(out):
                if isinstance(value, Tensor):
                    self._marked[id(value)] = value
        return out


__all__ = ["EdgeProvenance", "follows_indexing"]

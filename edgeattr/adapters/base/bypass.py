r"""Seeing aggregations that bypass message passing, which no edge mask can weight.

A model that multiplies node features by a sparse adjacency matrix (built
from ``edge_index`` with ``to_torch_coo_tensor``, or a DGL graph's
``adj_external()``) aggregates messages no hook sees: their edges would keep
weight 1 under every mask and get no attribution. Such products are found
while the layers are discovered, by watching every torch function the model
calls for a sparse operand, and refused with an error.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode


def _sparse(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_sparse(v) for v in value)
    return isinstance(value, Tensor) and value.layout != torch.strided


class SparseOperations(TorchFunctionMode):
    r"""Records the torch functions called with a sparse tensor while it is active.

    Attributes:
        found (list[str]): Their names, in call order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.found: List[str] = []

    def __torch_function__(self, func: Callable, types: Sequence[type], args: tuple = (), kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        if any(_sparse(value) for value in itertools.chain(args, kwargs.values())):
            self.found.append(getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func)))
        return func(*args, **kwargs)


__all__ = ["SparseOperations"]

r"""Seeing aggregations that bypass message passing, which no edge mask can weight.

A model that multiplies node features by a sparse adjacency matrix (built
from ``edge_index`` with ``to_torch_coo_tensor``, or a DGL graph's ``adj()``
and ``adj_external()``) aggregates messages no hook sees: their edges would keep
weight 1 under every mask and get no attribution. Such products are found
while the layers are discovered, by watching every product (``mm``, ``matmul``,
...) the model computes for a sparse operand, and refused with an error. A
sparse adjacency handed to message-passing layers (PyG's ``adj_t``) is only
read there, never multiplied, and passes.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Optional, Sequence

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from edgeattr.errors import UnsupportedLayerError


def _sparse(value: Any) -> bool:
    """A torch sparse tensor, or a sparse matrix of a torch extension (DGL's ``dgl.sparse.SparseMatrix``)."""
    if isinstance(value, (list, tuple)):
        return any(_sparse(v) for v in value)
    if isinstance(value, torch.ScriptObject):
        return "Sparse" in value._type().qualified_name()
    return isinstance(value, Tensor) and value.layout != torch.strided


#: Parts of the names of the functions that multiply by a matrix (``mm``, ``spmm``, ``matmul``, ``__matmul__``, ``mv``, ...).
PRODUCTS = ("mm", "matmul", "mv", "einsum", "tensordot")


class SparseOperations(TorchFunctionMode):
    r"""Refuses a product (:data:`PRODUCTS`) with a sparse operand while it is active.

    Other functions of a sparse tensor (reading its indices and values, building
    one) pass: a sparse adjacency the model hands to message-passing layers is
    read, not multiplied.

    Raises:
        UnsupportedLayerError: at the first such call, naming the function.
    """

    def __torch_function__(self, func: Callable, types: Sequence[type], args: tuple = (), kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        name = str(getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func)))
        if any(part in name.lower() for part in PRODUCTS) and any(_sparse(value) for value in itertools.chain(args, kwargs.values())):
            raise UnsupportedLayerError(
                f"the model called {name} on a sparse matrix: an aggregation by sparse matrix product bypasses "
                f"message passing, so the edge mask cannot weight its messages; aggregate with a MessagePassing "
                f"layer (PyG) or update_all / dgl.ops (DGL) instead"
            )
        return func(*args, **kwargs)


__all__ = ["SparseOperations"]

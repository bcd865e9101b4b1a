r"""What an attribution method may use from an adapter, and one base for adapters that wrap another.

The methods of :mod:`edgeattr.attribution` take a ``forward_func``: an
adapter, which provides :class:`AdapterInterface`, or any plain function of
edge masks. They rely on nothing of an adapter beyond this interface; every
:class:`~edgeattr.adapters.base.EdgeMaskAdapter` provides it, and
:class:`AdapterWrapper` forwards it whole.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Tuple, Union, runtime_checkable

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import EdgeMaskAdapter


@runtime_checkable
class AdapterInterface(Protocol):
    r"""An adapter as the attribution methods see it: a model bound to its graph, run on edge masks.

    Masks over all edges have shape ``(B, E)``, or ``(B, L, E)`` when
    ``layerwise``; with ``T`` targets row ``r`` of a batch explains target
    ``r % T``. Masks over the computation graphs' edges (the *subgraph*
    coordinates, ``E_sub`` columns) have shape ``(C, E_sub)`` or
    ``(C, L, E_sub)``: column ``k`` weights edge ``edge_ids[k]`` for target
    ``edge_segment[k]``, and one row runs every target, giving ``C * T`` output rows.
    """

    #: :math:`E`, the edges of the user's graph (the width of a mask).
    num_edges: int
    #: :math:`L`, the message-passing calls of one forward pass.
    num_layers: int
    #: The nodes of the user's graph.
    num_nodes: int
    #: :math:`T`, the node or graph outputs explained together.
    num_targets: int
    #: Whether masks carry one row per layer.
    layerwise: bool
    #: Whether the forward function also takes node features ``x`` ``(B, N, *F)`` after the mask.
    features: bool
    #: What the output means (see :mod:`edgeattr.modes`); ``None``: multiclass for two or more
    #: output columns (one column needs a mode).
    mode: Optional[str]
    #: The edge id (column of a mask over all edges) of each computation-graph edge, ``(E_sub,)``.
    edge_ids: Tensor
    #: Positions in :attr:`edge_ids` of the edges whose messages can reach their target's output.
    message_edges: Tensor

    @property
    def edge_segment(self) -> Tensor:
        r"""The target (``0 .. T - 1``) of each of :attr:`edge_ids`, ``(E_sub,)``, sorted."""

    def __call__(self, mask: Tensor, x: Optional[Tensor] = None) -> Tensor:
        r"""The explained output row of each mask ``(B, E)`` or ``(B, L, E)``: ``(B, *out)``; with
        :attr:`features`, ``x`` ``(B, N, *F)`` replaces the node features of each mask's pass."""

    @property
    def device(self) -> torch.device:
        r"""The device of the graph."""

    def ones(self) -> Tensor:
        r"""The all-ones mask of every target, ``(T, E)`` or ``(T, L, E)``."""

    def inputs(self) -> Tuple[Tensor, ...]:
        r"""The inputs at their values: ``(ones(),)``, with :attr:`features` also the node features per target ``(T, N, *F)``."""

    @property
    def dtype(self) -> torch.dtype:
        r"""The floating dtype masks are run in."""

    def check(self, mask: Tensor, *, name: str = "mask", floating: bool = True) -> None:
        r"""Raises an error naming the problem and the fix if ``mask`` does not fit."""

    def remove(self, keep: Tensor) -> Tensor:
        r"""Like calling the adapter, with the edges a bool mask ``keep`` drops deleted."""

    def compact(self, mask: Tensor) -> Tensor:
        r"""Masks over all edges, ``(C * T, ..., E)``, in subgraph coordinates ``(C, ..., E_sub)``."""

    def expand(self, values: Tensor) -> Tensor:
        r"""Values in subgraph coordinates ``(C, ..., E_sub)`` over all edges ``(C * T, ..., E)``, zero elsewhere."""

    def forward_subgraph(self, mask: Tensor) -> Tensor:
        r"""Like calling the adapter, with masks in subgraph coordinates: ``(C * T, *out)``."""

    def remove_subgraph(self, keep: Tensor) -> Tensor:
        r"""Like :meth:`remove`, with ``keep`` in subgraph coordinates."""


#: What an attribution method runs: an adapter, or any function of edge masks ``(B, ...)`` (and, for the methods
#: that take them, node features ``(B, N, *F)``) to outputs ``(B, *out)``.
ForwardFunc = Union[AdapterInterface, Callable[..., Tensor]]


def adapter_of(forward_func: Any) -> Optional[AdapterInterface]:
    r"""``forward_func`` if it is an adapter (provides :class:`AdapterInterface`), else ``None``.

    edgeattr's own adapters and wrappers are known by their class, a check
    cheap enough for every call; anything else is checked member by member.
    """
    if isinstance(forward_func, (EdgeMaskAdapter, AdapterWrapper)):
        return forward_func
    return forward_func if isinstance(forward_func, AdapterInterface) else None


class AdapterWrapper:
    r"""An adapter that runs another and maps its outputs, forwarding everything else.

    Every member of :class:`AdapterInterface` and any other attribute is the
    wrapped adapter's; the four ways of running masks (:meth:`__call__`,
    :meth:`remove`, :meth:`forward_subgraph`, :meth:`remove_subgraph`) pass
    the wrapped adapter's outputs through :meth:`map_output`.

    Args:
        adapter (AdapterInterface): The adapter to wrap.
    """

    def __init__(self, adapter: AdapterInterface) -> None:
        self.adapter = adapter

    def map_output(self, output: Tensor) -> Tensor:
        r"""The wrapper's output for the wrapped adapter's ``output`` ``(B, *out)``; the identity here."""
        return output

    def __call__(self, mask: Tensor, x: Optional[Tensor] = None) -> Tensor:
        return self.map_output(self.adapter(mask) if x is None else self.adapter(mask, x))

    def remove(self, keep: Tensor) -> Tensor:
        return self.map_output(self.adapter.remove(keep))

    def forward_subgraph(self, mask: Tensor) -> Tensor:
        return self.map_output(self.adapter.forward_subgraph(mask))

    def remove_subgraph(self, keep: Tensor) -> Tensor:
        return self.map_output(self.adapter.remove_subgraph(keep))

    def __getattr__(self, name: str) -> Any:
        # Only for names the wrapper does not have itself: the rest of the interface, and beyond.
        if name == "adapter":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.adapter, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.adapter!r})"

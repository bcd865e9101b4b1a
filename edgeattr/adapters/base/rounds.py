r"""Which message-passing calls of a pass read each other's outputs, so that calls that do not are one round.

A ``to_hetero`` layer makes one call per relation, none reading another's
output: they are one hop, not one each. One probe pass with every call's
weights a separate leaf (:class:`SeparateWeights`) and the tensor inputs of
each module's forward (:class:`Invocations`) gives, through autograd, the
calls each call depends on; :func:`call_rounds` orders them into rounds.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.messages import MessageWeights
from edgeattr.adapters.base.prepared import Handler


class Invocations(Handler):
    r"""Follows, while a pass runs, which forward of a module that makes message-passing calls is running, and its tensor inputs.

    Args:
        modules (set[int]): ``id`` of each module that makes calls (:attr:`Layer.module`).
    """

    def __init__(self, modules: Set[int]) -> None:
        self.modules = modules
        #: The running forwards, innermost last: ``(invocation number, tensors among its arguments)``.
        self.running: List[Tuple[int, List[Tensor]]] = []
        self._count = 0

    def forward_pre(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if id(module) in self.modules:
            self._count += 1
            self.running.append((self._count, list(_tensors_in((args, kwargs)))))

    def forward_post(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if id(module) in self.modules:
            self.running.pop()


def _tensors_in(value: Any) -> Iterable[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors_in(item)


class SeparateWeights(MessageWeights):
    r"""Message weights in which every call's weights are a leaf of their own (at the mask's values), for :func:`call_rounds`.

    Args:
        mask (Tensor): The mask of the pass.
        num_layers (int): The calls a pass makes.
        invocations (Invocations): What tells which module forward each call is made in.
        rows (list[int]): Each call's row of a layerwise mask.
    """

    def __init__(self, mask: Tensor, num_layers: int, invocations: Invocations, rows: List[int]) -> None:
        none = torch.zeros(0, dtype=torch.long, device=mask.device)
        super().__init__(mask, num_layers, none, none, rows=rows)
        self.invocations = invocations
        self._leaves: Dict[int, Tensor] = {}
        self._contexts: Dict[int, Tuple[Optional[int], List[Tensor]]] = {}

    @property
    def leaves(self) -> List[Tensor]:
        r"""Each call's leaf, in call order."""
        return [self._leaves[call] for call in sorted(self._leaves)]

    @property
    def contexts(self) -> List[Tuple[Optional[int], List[Tensor]]]:
        r"""Each call's module forward (``None``: made outside any) and the tensors that forward was given, in call order."""
        return [self._contexts[call] for call in sorted(self._contexts)]

    def weights_at(self, layer: int, positions: Any) -> Tensor:
        weights = super().weights_at(layer, positions).detach()
        if layer not in self._leaves:
            self._leaves[layer] = weights.new_ones(1).requires_grad_(True)
            self._contexts[layer] = self.invocations.running[-1] if self.invocations.running else (None, [])
        return weights * self._leaves[layer]


def call_rounds(leaves: Sequence[Tensor], contexts: Sequence[Tuple[Optional[int], List[Tensor]]]) -> List[List[int]]:
    r"""The message-passing calls grouped into rounds: a call is one round after the latest call it depends on.

    Call :math:`l` depends on call :math:`l' < l` if the tensors its module's
    forward was given are computed from :math:`l'`'s weight leaf (followed
    through autograd's graph, whatever the values), or if both are made in
    the same forward of one module, or if :math:`l` is made outside any
    module's forward (taken to depend on every call before it). Calls of one
    round read nothing of each other, so that a node's output can depend on
    nodes at most one hop per round away.

    Args:
        leaves (Sequence[Tensor]): Each call's weight leaf.
        contexts (Sequence): Each call's module forward and the tensors it was given (see :class:`SeparateWeights`).

    Returns:
        The calls of each round, in order.
    """
    index = {id(leaf): call for call, leaf in enumerate(leaves)}
    reached: Dict[Any, frozenset] = {}

    def leaves_of(node: Any) -> frozenset:
        """The calls whose leaves ``node`` of autograd's graph is computed from (iteratively, with a memo)."""
        stack = [node]
        while stack:
            top = stack[-1]
            if top in reached:
                stack.pop()
                continue
            children = [child for child, _ in top.next_functions if child is not None]
            pending = [child for child in children if child not in reached]
            if pending:
                stack.extend(pending)
                continue
            own = index.get(id(getattr(top, "variable", None)))
            found = frozenset().union(*(reached[child] for child in children))
            reached[top] = found | {own} if own is not None else found
            stack.pop()
        return reached[node]

    depth: List[int] = []
    for call, (invocation, inputs) in enumerate(contexts):
        before = {c for c in range(call) if invocation is None or contexts[c][0] == invocation}
        for tensor in inputs:
            if tensor.grad_fn is not None:
                before |= leaves_of(tensor.grad_fn)
        depth.append(1 + max((depth[c] for c in before if c < call), default=-1))
    rounds: List[List[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for call, d in enumerate(depth):
        rounds[d].append(call)
    return rounds

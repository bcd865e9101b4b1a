r"""The base of edgeattr's gradient methods: Captum's :class:`~captum.attr.GradientAttribution` with edgeattr's targets.

How edgeattr reads ``target`` (the one place where it differs from Captum):
an integer or one per mask selects the output column explained, as in
Captum, but ``target=None`` is the class the model predicts for each mask's
target node or graph with every edge at weight 1 (the arg-max, or the sign
of a single binary logit), where Captum would take the whole output as a
scalar per example. The explained quantity :math:`z` of a single-logit
binary classifier is :math:`y` for class 1 and :math:`-y` for class 0. See
:func:`edgeattr.attribution._common.resolve_target` and
:func:`~edgeattr.attribution._common.explained_output`.
"""

from __future__ import annotations

from typing import Any, Tuple, Union

import torch
from captum.attr import GradientAttribution
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc
from edgeattr.attribution._common import TargetType, TensorOrTuple, explained_output, resolve_target, unpack_features


class EdgeGradientAttribution(GradientAttribution):
    r"""A gradient method over edge masks, whose inherited Captum members use edgeattr's targets.

    Args:
        forward_func (AdapterInterface or Callable): An adapter (e.g.
            :class:`~edgeattr.PyGAdapter`) or any function mapping masks
            ``(B, ...)`` to outputs ``(B, *out)``.
    """

    def __init__(self, forward_func: ForwardFunc) -> None:
        GradientAttribution.__init__(self, forward_func)

    def compute_convergence_delta(
        self,
        attributions: TensorOrTuple,
        start_point: Union[None, float, TensorOrTuple],
        end_point: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> Tensor:
        r"""Captum's completeness gap, with :math:`z` explained as :meth:`attribute` explains it.

        .. math::
            \delta_b = \sum_e a_{b,e} \;\big(+ \textstyle\sum_{v,f} a^X_{b,v,f}\big)
            - \big(z_b(\text{end}_b) - z_b(\text{start}_b)\big)

        Edge gradients are a first-order method, so :math:`\delta` is 0 only
        where :math:`z` is affine in the mask between the two points.

        Args:
            attributions (Tensor or tuple[Tensor]): Attributions ``(B, E)`` or
                ``(B, L, E)``; with node features, the tuple of the mask's and
                the features' ``(B, N, *F)``.
            start_point (Tensor, tuple[Tensor] or float, optional): The inputs
                the attribution starts from, same shapes, or one value for
                every entry; ``None`` is all zeros (every message off, and
                zero features).
            end_point (Tensor or tuple[Tensor]): The inputs it ends at, usually
                ``forward_func.ones()`` or ``forward_func.inputs()``.
            target (int, list or Tensor, optional): As for :meth:`attribute`;
                ``None`` is the class predicted with every edge at weight 1.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor: :math:`\delta`, shape ``(B,)``.
        """
        end = _inputs(end_point, additional_forward_args)
        values = _inputs(attributions)
        if [v.shape for v in values] != [e.shape for e in end]:
            raise ValueError(f"attributions have shapes {[tuple(v.shape) for v in values]}, the end point {[tuple(e.shape) for e in end]}: they must match")
        start = _start_points(start_point, end)
        targets = resolve_target(self.forward_func, end[0], target, *end[1:])
        with torch.no_grad():
            gap = explained_output(self.forward_func(*end), targets) - explained_output(self.forward_func(*start), targets)
        total = values[0].flatten(1).sum(1)
        for value in values[1:]:
            total = total + value.flatten(1).sum(1)
        return total - gap.to(total.dtype)


def _inputs(given: TensorOrTuple, additional_forward_args: Any = None) -> Tuple[Tensor, ...]:
    """A mask, or a mask and node features, as a tuple."""
    mask, x, _ = unpack_features(given, additional_forward_args)
    return (mask,) if x is None else (mask, x)


def _start_points(start_point: Union[None, float, TensorOrTuple], end: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
    """The start point shaped like ``end``: zeros for ``None``, a value broadcast, or the inputs given."""
    if start_point is None:
        return tuple(torch.zeros_like(e) for e in end)
    if isinstance(start_point, (int, float)):
        return tuple(torch.full_like(e, float(start_point)) for e in end)
    start = _inputs(start_point)
    if [s.shape for s in start] != [e.shape for e in end]:
        raise ValueError(f"start_point has shapes {[tuple(s.shape) for s in start]}, the end point {[tuple(e.shape) for e in end]}: they must match")
    return start


__all__ = ["EdgeGradientAttribution"]

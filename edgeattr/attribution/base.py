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

from typing import Any, Union

import torch
from captum.attr import GradientAttribution
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc
from edgeattr.attribution._common import TargetType, TensorOrTuple, explained_output, resolve_target, unpack


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
            \delta_b = \sum_e a_{b,e} - \big(z_b(\text{end}_b) - z_b(\text{start}_b)\big)

        Edge gradients are a first-order method, so :math:`\delta` is 0 only
        where :math:`z` is affine in the mask between the two points.

        Args:
            attributions (Tensor or tuple[Tensor]): Attributions ``(B, E)`` or ``(B, L, E)``.
            start_point (Tensor or float, optional): The masks the attribution
                starts from, same shape, or one value for every entry;
                ``None`` is the all-zero mask (every message off).
            end_point (Tensor or tuple[Tensor]): The masks it ends at, usually
                ``forward_func.ones()``.
            target (int, list or Tensor, optional): As for :meth:`attribute`;
                ``None`` is the class predicted with every edge at weight 1.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor: :math:`\delta`, shape ``(B,)``.
        """
        end, _ = unpack(end_point, additional_forward_args)
        values, _ = unpack(attributions)
        if values.shape != end.shape:
            raise ValueError(f"attributions have shape {tuple(values.shape)}, the end point {tuple(end.shape)}: they must match")
        start = _start_masks(start_point, end)
        targets = resolve_target(self.forward_func, end, target)
        with torch.no_grad():
            gap = explained_output(self.forward_func(end), targets) - explained_output(self.forward_func(start), targets)
        return values.flatten(1).sum(1) - gap.to(values.dtype)


def _start_masks(start_point: Union[None, float, TensorOrTuple], end: Tensor) -> Tensor:
    """The start point as masks shaped like ``end``: zeros for ``None``, a value broadcast, or the masks given."""
    if start_point is None:
        return torch.zeros_like(end)
    if isinstance(start_point, (int, float)):
        return torch.full_like(end, float(start_point))
    start, _ = unpack(start_point)
    if start.shape != end.shape:
        raise ValueError(f"start_point has shape {tuple(start.shape)}, the end point {tuple(end.shape)}: they must match")
    return start


__all__ = ["EdgeGradientAttribution"]

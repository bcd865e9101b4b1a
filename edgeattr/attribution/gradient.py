r"""Edge gradients and the gradient-sign rule."""

from __future__ import annotations

from typing import Any

import torch
from captum.log import log_usage
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc
from edgeattr.attribution._common import (
    TargetType,
    TensorOrTuple,
    check_forward_mask,
    explained_gradient,
    explained_gradients,
    pack,
    sparse_gradient,
    unpack,
    unpack_features,
)
from edgeattr.attribution.base import EdgeGradientAttribution
from edgeattr.checks import checked_number


class EdgeGradient(EdgeGradientAttribution):
    r"""The gradient of the explained logit with respect to the edge mask (and the node features).

    .. math::
        g_e = \frac{\partial z}{\partial w_e}\Big|_{w = \mathbf{1}}
        \qquad\text{(layerwise: } G_{l,e} = \partial z / \partial W_{l,e}\text{)}

    where :math:`z` is the target logit at the adapter's node or graph. The sign
    says whether an edge's message supports (+) or opposes (−) the target. On a
    layerwise adapter this is the layerwise gradient; summed over layers it is
    the input-level gradient.

    Given the inputs ``(mask, x)`` of an adapter built with ``features=True``
    (``forward_func.inputs()``), it also returns the gradient of :math:`z`
    with respect to every node feature, :math:`\partial z / \partial X_{v,f}`,
    exactly zero for nodes outside the target's computation subgraph.

    Args:
        forward_func (AdapterInterface or Callable): An adapter (e.g.
            :class:`~edgeattr.PyGAdapter`) or any function mapping masks
            ``(B, ...)`` to outputs ``(B, *out)``.
    """

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        abs: bool = False,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Edge masks at which to take the
                gradient, shape ``(B, E)`` or ``(B, L, E)``; usually
                ``forward_func.ones()``. Or the masks and the node features
                of each, ``(mask, x)`` with ``x`` of shape ``(B, N, *F)``,
                for an adapter built with ``features=True``: usually
                ``forward_func.inputs()``.
            target (int, list or Tensor, optional): Class explained per mask.
                ``None``: the class predicted with all edges at weight 1 (not
                Captum's meaning, see :mod:`edgeattr.attribution.base`) and
                the node features the adapter was built with; for a
                single-logit output this explains :math:`\operatorname{sign}(z) z`.
            abs (bool, optional): Return :math:`|g|`. (default: ``False``)
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor or tuple[Tensor]: :math:`g`, same shape and structure as
            ``inputs``; for ``(mask, x)`` the tuple
            :math:`(\partial z / \partial w, \partial z / \partial X)`.
        """
        mask, x, is_tuple = unpack_features(inputs, additional_forward_args)
        if x is None:
            return pack(self._attribute(mask, target, abs), is_tuple)
        check_forward_mask(self.forward_func, mask)
        grads = explained_gradients(self.forward_func, mask, x, target)
        return tuple(grad.abs() if abs else grad for grad in grads if grad is not None)

    def _attribute(self, mask: Tensor, target: TargetType, abs: bool) -> Tensor:
        return explained_gradient(self.forward_func, mask, target, torch.abs if abs else None)

    def attribute_sparse(self, target: TargetType = None) -> Tensor:
        r"""Every target's :math:`g` at the all-ones mask, as a sparse tensor.

        The same values as ``attribute(forward_func.ones(), target)``, computed
        on the computation graphs alone, without building ``(T, E)`` masks:
        for many targets on a large graph.

        Args:
            target (int, list or Tensor, optional): Class explained per target;
                ``None`` is each target's predicted class.

        Returns:
            Tensor: Sparse COO, shape ``(T, E)`` or ``(T, L, E)``, with an entry
            for each edge of each target's computation graph.
        """
        return sparse_gradient(self.forward_func, target)


class GradientSign(EdgeGradientAttribution):
    r"""The gradient-sign rule: GNNExplainer's mask at the cost of one backward pass.

    .. math::
        P_e = \mathbb{1}\left[\frac{\partial z}{\partial w_e}\Big|_{w=\mathbf{1}} > \varepsilon\right]

    When :math:`\partial z / \partial w_e` keeps one sign on :math:`[0, 1]`,
    GNNExplainer's optimum sets :math:`w_e = 1` for positive and :math:`0` for
    negative gradients (He et al., KDD 2025), so :math:`P` approximates its mask.
    Like GNNExplainer, it drops negative evidence.

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function of edge masks.
        eps (float, optional): Threshold :math:`\varepsilon \ge 0`. (default: ``0.0``)
    """

    def __init__(self, forward_func: ForwardFunc, eps: float = 0.0) -> None:
        EdgeGradientAttribution.__init__(self, forward_func)
        self.eps = checked_number("eps", eps)

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Edge masks, shape ``(B, E)`` or
                ``(B, L, E)``; usually ``forward_func.ones()``.
            target (int, list or Tensor, optional): As in :class:`EdgeGradient`.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor or tuple[Tensor]: :math:`P \in \{0, 1\}` in the mask's dtype,
            same shape and structure as ``inputs``.
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        return pack(self._attribute(mask, target), is_tuple)

    def _attribute(self, mask: Tensor, target: TargetType) -> Tensor:
        # (0 > eps) is 0 for eps >= 0: the rule may run before the gradient is spread over all edges.
        return explained_gradient(self.forward_func, mask, target, lambda grad: (grad > self.eps).to(mask.dtype))

    def attribute_sparse(self, target: TargetType = None) -> Tensor:
        r"""Every target's :math:`P` at the all-ones mask, as a sparse tensor.

        The same values as ``attribute(forward_func.ones(), target)`` on each
        target's computation graph (for ``eps >= 0`` the dense result is 0
        elsewhere), without building ``(T, E)`` masks.

        Args:
            target (int, list or Tensor, optional): As in :meth:`attribute`.

        Returns:
            Tensor: Sparse COO of 0/1 values, shape ``(T, E)`` or ``(T, L, E)``.
        """
        grad = sparse_gradient(self.forward_func, target)
        return torch.sparse_coo_tensor(grad.indices(), (grad.values() > self.eps).to(grad.dtype), grad.shape, is_coalesced=True, check_invariants=False)


__all__ = ["EdgeGradient", "GradientSign"]

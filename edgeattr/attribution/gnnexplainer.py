r"""GNNExplainer over an adapter's edge mask, for comparison with the gradient methods."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from captum.log import log_usage
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.attribution._common import (
    Targets,
    TargetType,
    TensorOrTuple,
    check_forward_mask,
    flat_output,
    mode_of,
    pack,
    resolve_target,
    unpack,
)
from edgeattr.attribution.base import EdgeGradientAttribution
from edgeattr.checks import checked_count, checked_number
from edgeattr.modes import MULTICLASS, REGRESSION

EPS = 1e-15


class GNNExplainer(EdgeGradientAttribution):
    r"""GNNExplainer (Ying et al., 2019) on edge masks, with PyG's defaults.

    Learns :math:`M = \sigma(\theta)` minimising, per mask,

    .. math::
        \mathcal{L} = \ell\big(f(w \odot M), t\big)
        + \alpha_{\text{size}} \sum_{e \in H} M_e
        + \alpha_{\text{ent}} \operatorname*{mean}_{e \in H} \mathrm{H}(M_e)

    with Adam, :math:`\theta \sim \mathcal{N}(0, \sigma_0^2)`,
    :math:`\sigma_0 = \mathrm{gain}_{\text{relu}} \sqrt{2 / (2N)}`, where
    :math:`H` (the hard mask) holds the entries with a non-zero gradient at
    the first step, exactly as ``torch_geometric.explain.algorithm.GNNExplainer``
    does for an edge mask of type ``'object'``. The prediction loss
    :math:`\ell` follows the output's mode (the forward function's ``mode``,
    see :mod:`edgeattr.modes`), as PyG's does:

    - multiclass: the cross-entropy :math:`-\log p_t` of the target class;
    - binary: the binary cross-entropy of the logit with the target class (a
      single logit), or of the target label's logit with 1 (multi-label);
    - regression: PyG's mean squared error between the masked output and the
      values to keep, :math:`\operatorname{mean}_c \big(f(w \odot M)_c - y_c\big)^2`,
      over every output column (``target=None``) or the target column.

    Masks of a batch are optimised independently, in one forward pass per
    epoch; a layerwise adapter gives a layerwise GNNExplainer.

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function
            of edge masks (whose mask width :math:`E` then stands for :math:`N`).
        epochs (int, optional): Optimisation steps. (default: ``100``)
        lr (float, optional): Adam's learning rate, positive. (default: ``0.01``)
        edge_size (float, optional): Weight of the size penalty, at least 0. (default: ``0.005``)
        edge_ent (float, optional): Weight of the entropy penalty, at least 0. (default: ``1.0``)
        edge_reduction (str, optional): ``'sum'`` or ``'mean'`` of the size
            penalty. (default: ``'sum'``)
    """

    def __init__(
        self,
        forward_func: ForwardFunc,
        epochs: int = 100,
        lr: float = 0.01,
        edge_size: float = 0.005,
        edge_ent: float = 1.0,
        edge_reduction: str = "sum",
    ) -> None:
        EdgeGradientAttribution.__init__(self, forward_func)
        if edge_reduction not in ("sum", "mean"):
            raise ValueError(f"edge_reduction must be 'sum' or 'mean', got {edge_reduction!r}")
        self.epochs, self.lr = checked_count("epochs", epochs), checked_number("lr", lr, positive=True)
        self.edge_size, self.edge_ent = checked_number("edge_size", edge_size), checked_number("edge_ent", edge_ent)
        self.edge_reduction = edge_reduction

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        kept_values: Optional[Tensor] = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Edge masks :math:`w`, shape
                ``(B, E)`` or ``(B, L, E)``; usually ``forward_func.ones()``.
                The learned mask multiplies them.
            target (int, list or Tensor, optional): Class (or column) explained
                per mask, as for the other methods; ``None`` is the class
                predicted with all edges at weight 1, and for a regression
                model every output column.
            additional_forward_args: Must be ``None``; the adapter binds the graph.
            kept_values (Tensor, optional): Regression only: the output values
                the masked model should keep, one output row ``(C,)`` or one
                per mask ``(B, C)`` (PyG's target of a ``'phenomenon'``).
                Default: the model's output at ``inputs``.

        Returns:
            Tensor or tuple[Tensor]: :math:`M \in [0, 1]`, zero outside the hard
            mask, same shape and structure as ``inputs``.

        Raises:
            ValueError: for a target outside the output, values to keep of
                the wrong shape, or an output that does not depend on the mask.
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        return pack(self._attribute(mask, target, kept_values), is_tuple)

    def _attribute(self, mask: Tensor, target: TargetType, kept_values: Optional[Tensor]) -> Tensor:
        check_forward_mask(self.forward_func, mask)
        mask = mask.detach()
        regression = mode_of(self.forward_func) == REGRESSION
        if kept_values is not None and not regression:
            raise ValueError("kept_values is for regression models: build the adapter with mode='regression'")
        targets = None if regression and target is None else resolve_target(self.forward_func, mask, target)
        kept = self._kept_values(mask, kept_values) if regression else None
        adapter = adapter_of(self.forward_func)
        num_nodes = mask.size(-1) if adapter is None else adapter.num_nodes
        std = torch.nn.init.calculate_gain("relu") * math.sqrt(2.0 / (2 * num_nodes))
        with torch.enable_grad():
            # One draw per mask, in the default dtype, as PyG draws its single mask: a seed
            # gives PyG's initial mask, and each mask of a batch that of a call of its own.
            draws = torch.stack([torch.randn(mask.shape[1:], device=mask.device) for _ in range(mask.size(0))])
            logits = torch.nn.Parameter((draws * std).to(mask.dtype))
            optimizer = torch.optim.Adam([logits], lr=self.lr)
            hard: Optional[Tensor] = None
            for _ in range(self.epochs):
                soft = logits.sigmoid()
                loss = self._prediction_loss(flat_output(self.forward_func(mask * soft)), targets, kept)
                if hard is not None:
                    loss = loss + self._regulariser(soft, hard)
                # Only the mask's gradient: the model's parameters must not accumulate any.
                (gradient,) = torch.autograd.grad(loss, logits, allow_unused=True) if loss.requires_grad else (None,)
                if gradient is None:
                    raise ValueError(
                        "the explained output does not depend on the edge mask: the model's output is computed apart "
                        "from its message passing (a detached branch, or a model that ignores its graph)"
                    )
                logits.grad = gradient
                if hard is None:
                    hard = logits.grad != 0
                optimizer.step()
        assert hard is not None  # set at the first of epochs >= 1 steps
        return torch.where(hard, logits.detach().sigmoid(), torch.zeros_like(mask))

    def _kept_values(self, mask: Tensor, kept_values: Optional[Tensor]) -> Tensor:
        """The regression outputs each mask's optimisation keeps, ``(B, C)``."""
        with torch.no_grad():
            output = flat_output(self.forward_func(mask))
        if kept_values is None:
            return output
        values = torch.as_tensor(kept_values, dtype=output.dtype, device=output.device)
        if values.numel() not in (output.size(1), output.numel()):
            raise ValueError(
                f"kept_values holds the {output.size(1)} output values to keep, per mask or for all "
                f"{output.size(0)} masks; got shape {tuple(values.shape)}"
            )
        return values.reshape(-1, output.size(1)).expand_as(output)

    def _prediction_loss(self, logits: Tensor, targets: Optional[Targets], kept: Optional[Tensor]) -> Tensor:
        """Each mask's prediction loss for the output's mode, summed over masks."""
        if targets is not None:
            targets = targets.checked(logits.size(1))
        if kept is not None:  # regression: every column, or the target's
            if targets is not None:
                column = targets.targets.view(-1, 1)
                logits, kept = logits.gather(1, column), kept.gather(1, column)
            return (logits - kept).pow(2).mean(1).sum()
        assert targets is not None
        if targets.mode == MULTICLASS:
            return F.cross_entropy(logits, targets.targets, reduction="sum")
        if logits.size(1) == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], targets.targets.to(logits.dtype), reduction="sum")
        label = logits.gather(1, targets.targets.view(-1, 1)).squeeze(1)  # multi-label: the target label present
        return F.binary_cross_entropy_with_logits(label, torch.ones_like(label), reduction="sum")

    def _regulariser(self, soft: Tensor, hard: Tensor) -> Tensor:
        """Size and entropy penalties over each mask's hard entries, summed over masks."""
        soft, hard = soft.flatten(1), hard.flatten(1)
        count = hard.sum(1).clamp(min=1)
        size = (soft * hard).sum(1)
        if self.edge_reduction == "mean":
            size = size / count
        entropy = -soft * torch.log(soft + EPS) - (1 - soft) * torch.log(1 - soft + EPS)
        mean_entropy = (entropy * hard).sum(1) / count
        return (self.edge_size * size + self.edge_ent * mean_entropy).sum()


__all__ = ["GNNExplainer"]

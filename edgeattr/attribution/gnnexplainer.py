r"""GNNExplainer over an adapter's edge mask, for comparison with the gradient methods."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from captum.attr import GradientAttribution
from captum.log import log_usage
from torch import Tensor

from edgeattr.attribution._common import (
    TargetType,
    TensorOrTuple,
    check_forward_mask,
    flat_output,
    pack,
    resolve_target,
    unpack,
)

EPS = 1e-15


class GNNExplainer(GradientAttribution):
    r"""GNNExplainer (Ying et al., 2019) on edge masks, with PyG's defaults.

    Learns :math:`M = \sigma(\theta)` minimising, per mask,

    .. math::
        \mathcal{L} = -\log p_t\big(f(w \odot M)\big)
        + \alpha_{\text{size}} \sum_{e \in H} M_e
        + \alpha_{\text{ent}} \operatorname*{mean}_{e \in H} \mathrm{H}(M_e)

    with Adam, :math:`\theta \sim \mathcal{N}(0, \sigma_0^2)`,
    :math:`\sigma_0 = \mathrm{gain}_{\text{relu}} \sqrt{2 / (2N)}`, where
    :math:`H` (the hard mask) holds the entries with a non-zero gradient at
    the first step, exactly as ``torch_geometric.explain.algorithm.GNNExplainer``
    does for an edge mask of type ``'object'`` (for a single-logit output the
    first term is the binary cross-entropy with the target class). For a
    regression model (``regression=True``) the first term is PyG's mean squared
    error between the masked output and the values to keep,
    :math:`\operatorname{mean}_c \big(f(w \odot M)_c - y_c\big)^2`. Masks of a
    batch are optimised independently, in one forward pass per epoch; a
    layerwise adapter gives a layerwise GNNExplainer.

    Args:
        forward_func (Callable): An adapter or any function of edge masks.
        epochs (int, optional): Optimisation steps. (default: ``100``)
        lr (float, optional): Adam's learning rate. (default: ``0.01``)
        edge_size (float, optional): Weight of the size penalty. (default: ``0.005``)
        edge_ent (float, optional): Weight of the entropy penalty. (default: ``1.0``)
        edge_reduction (str, optional): ``'sum'`` or ``'mean'`` of the size
            penalty. (default: ``'sum'``)
        regression (bool, optional): Keep output values instead of a class's
            likelihood; ``target`` then gives the values. (default: ``False``)
    """

    def __init__(
        self,
        forward_func: Callable,
        epochs: int = 100,
        lr: float = 0.01,
        edge_size: float = 0.005,
        edge_ent: float = 1.0,
        edge_reduction: str = "sum",
        regression: bool = False,
    ) -> None:
        GradientAttribution.__init__(self, forward_func)
        if epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs}")
        if edge_reduction not in ("sum", "mean"):
            raise ValueError(f"edge_reduction must be 'sum' or 'mean', got {edge_reduction!r}")
        self.epochs, self.lr = epochs, lr
        self.edge_size, self.edge_ent, self.edge_reduction = edge_size, edge_ent, edge_reduction
        self.regression = regression

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Edge masks :math:`w`, shape
                ``(B, E)`` or ``(B, L, E)``; usually ``forward_func.ones()``.
                The learned mask multiplies them.
            target (int, list or Tensor, optional): Class explained per mask;
                ``None`` is the class predicted with all edges at weight 1.
                With ``regression=True``: the output values to keep, ``(C,)``
                or ``(B, C)``; ``None`` keeps the model's output at ``inputs``.
            additional_forward_args: Must be ``None``; the adapter binds the graph.

        Returns:
            Tensor or tuple[Tensor]: :math:`M \in [0, 1]`, zero outside the hard
            mask, same shape and structure as ``inputs``.
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        check_forward_mask(self.forward_func, mask)
        mask = mask.detach()
        targets = self._kept_values(mask, target) if self.regression else resolve_target(self.forward_func, mask, target)
        num_nodes = getattr(self.forward_func, "num_nodes", mask.size(-1))
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
                loss = self._prediction_loss(self.forward_func(mask * soft), targets)
                if hard is not None:
                    loss = loss + self._regulariser(soft, hard)
                # Only the mask's gradient: the model's parameters must not accumulate any.
                (logits.grad,) = torch.autograd.grad(loss, logits)
                if hard is None:
                    hard = logits.grad != 0
                optimizer.step()
        return pack(torch.where(hard, logits.detach().sigmoid(), torch.zeros_like(mask)), is_tuple)

    def _kept_values(self, mask: Tensor, target: Any) -> Tensor:
        """The regression outputs each mask's optimisation keeps, ``(B, C)``."""
        with torch.no_grad():
            output = flat_output(self.forward_func(mask))
        if target is None:
            return output
        values = torch.as_tensor(target, dtype=output.dtype, device=output.device)
        if values.numel() not in (output.size(1), output.numel()):
            raise ValueError(
                f"a regression target holds the {output.size(1)} output values to keep, per mask or for all "
                f"{output.size(0)} masks; got shape {tuple(values.shape)}"
            )
        return values.reshape(-1, output.size(1)).expand_as(output)

    def _prediction_loss(self, output: Tensor, targets: Tensor) -> Tensor:
        """Each mask's prediction loss (negative log-likelihood, or squared error for regression), summed over masks."""
        logits = flat_output(output)
        if self.regression:
            return (logits - targets).pow(2).mean(1).sum()
        if logits.size(1) == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], targets.to(logits.dtype), reduction="sum")
        return F.cross_entropy(logits, targets, reduction="sum")

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

r"""GNNExplainer over an adapter's edge mask, for comparison with the gradient methods."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

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
    unpack_features,
)
from edgeattr.attribution.base import EdgeGradientAttribution
from edgeattr.checks import checked_count, checked_number
from edgeattr.modes import MULTICLASS, REGRESSION

EPS = 1e-15

#: PyG's node mask types (``ExplainerConfig.node_mask_type``): a learned feature mask of shape ``(N, 1)``
#: (one value per node), ``(N, F)`` (per node and feature) or ``(1, F)`` (per feature, shared by all nodes).
NODE_MASK_TYPES = ("object", "attributes", "common_attributes")

#: The standard deviation of PyG's initial node mask.
NODE_MASK_STD = 0.1


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

    **Node features.** Given the inputs ``(mask, x)`` of an adapter built
    with ``features=True``, it also learns PyG's node feature mask
    :math:`F = \sigma(\phi)`, :math:`\phi \sim \mathcal{N}(0, 0.1^2)`, of
    shape ``(N, 1)``, ``(N, F)`` or ``(1, F)`` for ``node_mask_type``
    ``'object'``, ``'attributes'`` or ``'common_attributes'``: the model runs
    on :math:`X \odot F` and the loss gains

    .. math::
        \alpha_{\text{feat size}} \operatorname*{mean}_{i \in H_F} F_i
        + \alpha_{\text{feat ent}} \operatorname*{mean}_{i \in H_F} \mathrm{H}(F_i)

    over its hard entries :math:`H_F`, exactly as PyG's GNNExplainer does
    (which draws the node mask before the edge mask, as here).

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function
            of edge masks (whose mask width :math:`E` then stands for :math:`N`).
        epochs (int, optional): Optimisation steps. (default: ``100``)
        lr (float, optional): Adam's learning rate, positive. (default: ``0.01``)
        edge_size (float, optional): Weight of the size penalty, at least 0. (default: ``0.005``)
        edge_ent (float, optional): Weight of the entropy penalty, at least 0. (default: ``1.0``)
        edge_reduction (str, optional): ``'sum'`` or ``'mean'`` of the size
            penalty. (default: ``'sum'``)
        node_mask_type (str, optional): The feature mask's shape, one of
            :data:`NODE_MASK_TYPES`, when node features are given.
            (default: ``'attributes'``)
        node_feat_size (float, optional): Weight of the feature mask's size
            penalty, at least 0. (default: ``1.0``, PyG's)
        node_feat_ent (float, optional): Weight of its entropy penalty, at
            least 0. (default: ``0.1``, PyG's)
        node_feat_reduction (str, optional): ``'sum'`` or ``'mean'`` of its
            size penalty. (default: ``'mean'``, PyG's)
    """

    def __init__(
        self,
        forward_func: ForwardFunc,
        epochs: int = 100,
        lr: float = 0.01,
        edge_size: float = 0.005,
        edge_ent: float = 1.0,
        edge_reduction: str = "sum",
        node_mask_type: str = "attributes",
        node_feat_size: float = 1.0,
        node_feat_ent: float = 0.1,
        node_feat_reduction: str = "mean",
    ) -> None:
        EdgeGradientAttribution.__init__(self, forward_func)
        for name, reduction in (("edge_reduction", edge_reduction), ("node_feat_reduction", node_feat_reduction)):
            if reduction not in ("sum", "mean"):
                raise ValueError(f"{name} must be 'sum' or 'mean', got {reduction!r}")
        if node_mask_type not in NODE_MASK_TYPES:
            raise ValueError(f"node_mask_type must be one of {NODE_MASK_TYPES}, got {node_mask_type!r}")
        self.epochs, self.lr = checked_count("epochs", epochs), checked_number("lr", lr, positive=True)
        self.edge_size, self.edge_ent = checked_number("edge_size", edge_size), checked_number("edge_ent", edge_ent)
        self.edge_reduction = edge_reduction
        self.node_mask_type, self.node_feat_reduction = node_mask_type, node_feat_reduction
        self.node_feat_size = checked_number("node_feat_size", node_feat_size)
        self.node_feat_ent = checked_number("node_feat_ent", node_feat_ent)

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
                The learned mask multiplies them. Or the masks and the node
                features of each, ``(w, X)`` with ``X`` ``(B, N, F)`` (an
                adapter built with ``features=True``; ``forward_func.inputs()``):
                the learned feature mask multiplies ``X``.
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
            mask, same shape and structure as ``inputs``; for ``(w, X)`` the
            tuple :math:`(M, F)`, :math:`F` of shape ``(B, N, 1)``,
            ``(B, N, F)`` or ``(B, 1, F)`` by ``node_mask_type`` (it
            broadcasts against ``X``), zero outside its hard mask.

        Raises:
            ValueError: for a target outside the output, values to keep of
                the wrong shape, or an output that does not depend on the mask
                (or on the node features).
        """
        mask, x, is_tuple = unpack_features(inputs, additional_forward_args)
        edge_mask, feature_mask = self._attribute(mask, target, kept_values, x)
        return pack(edge_mask, is_tuple) if feature_mask is None else (edge_mask, feature_mask)

    def _node_mask_shape(self, x: Tensor) -> Tuple[int, ...]:
        """The shape of one feature mask for node features ``x`` ``(B, N, *F)``, by ``node_mask_type``."""
        nodes, features = x.size(1), tuple(x.shape[2:])
        if self.node_mask_type == "object":
            return (nodes,) + (1,) * len(features)
        return (1,) + features if self.node_mask_type == "common_attributes" else (nodes,) + features

    def _attribute(self, mask: Tensor, target: TargetType, kept_values: Optional[Tensor], x: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
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
            # One draw per mask, in the default dtype, as PyG draws its single mask (its node mask first):
            # a seed gives PyG's initial masks, and each mask of a batch those of a call of its own.
            edge_draws: List[Tensor] = []
            node_draws: List[Tensor] = []
            for _ in range(mask.size(0)):
                if x is not None:
                    node_draws.append(torch.randn(self._node_mask_shape(x), device=x.device))
                edge_draws.append(torch.randn(mask.shape[1:], device=mask.device))
            parameters = [torch.nn.Parameter((torch.stack(edge_draws) * std).to(mask.dtype))]
            if x is not None:
                parameters.append(torch.nn.Parameter((torch.stack(node_draws) * NODE_MASK_STD).to(x.dtype)))
            optimizer = torch.optim.Adam(parameters, lr=self.lr)
            hard: Optional[List[Tensor]] = None
            for _ in range(self.epochs):
                soft = [logits.sigmoid() for logits in parameters]
                masked = [mask * soft[0]] + ([x * soft[1]] if x is not None else [])
                loss = self._prediction_loss(flat_output(self.forward_func(*masked)), targets, kept)
                if hard is not None:
                    loss = loss + self._regulariser(soft, hard)
                # Only the masks' gradients: the model's parameters must not accumulate any.
                gradients = torch.autograd.grad(loss, parameters, allow_unused=True) if loss.requires_grad else (None,) * len(parameters)
                for what, logits, gradient in zip(("edge mask", "node features"), parameters, gradients):
                    if gradient is None:
                        raise ValueError(
                            f"the explained output does not depend on the {what}: the model's output is computed apart "
                            f"from it (a detached branch, or a model that ignores its graph or reads its features elsewhere)"
                        )
                    logits.grad = gradient
                if hard is None:
                    hard = [logits.grad != 0 for logits in parameters if logits.grad is not None]
                optimizer.step()
        assert hard is not None  # set at the first of epochs >= 1 steps
        learned = [torch.where(h, logits.detach().sigmoid(), torch.zeros_like(h, dtype=logits.dtype)) for h, logits in zip(hard, parameters)]
        return learned[0], learned[1] if x is not None else None

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

    def _regulariser(self, soft: List[Tensor], hard: List[Tensor]) -> Tensor:
        """Size and entropy penalties of the edge mask (and of the feature mask), summed over masks."""
        penalty = _penalty(soft[0], hard[0], self.edge_size, self.edge_reduction, self.edge_ent)
        if len(soft) > 1:
            penalty = penalty + _penalty(soft[1], hard[1], self.node_feat_size, self.node_feat_reduction, self.node_feat_ent)
        return penalty


def _penalty(soft: Tensor, hard: Tensor, size_weight: float, reduction: str, entropy_weight: float) -> Tensor:
    """Size and entropy penalties over each mask's hard entries, summed over masks (rows)."""
    soft, hard = soft.flatten(1), hard.flatten(1)
    count = hard.sum(1).clamp(min=1)
    size = (soft * hard).sum(1)
    if reduction == "mean":
        size = size / count
    entropy = -soft * torch.log(soft + EPS) - (1 - soft) * torch.log(1 - soft + EPS)
    mean_entropy = (entropy * hard).sum(1) / count
    return (size_weight * size + entropy_weight * mean_entropy).sum()


__all__ = ["GNNExplainer", "NODE_MASK_TYPES"]

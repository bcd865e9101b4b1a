r"""How faithful an explanation is to the model: fidelity, the characterization score and unfaithfulness.

The definitions are PyG's (``torch_geometric.explain.metric``), computed
through an adapter so that they also work on heterogeneous graphs (flat masks
over all edge types, or dicts of masks per type) and for many explanations at
once. An explanation mask weights the messages of its edges, as PyG's
``Explainer.get_masked_prediction`` does; pass hard masks (0/1, e.g. from
:func:`hard_masks`) for the explanatory subgraph :math:`G_S` and its complement
:math:`G_{C \setminus S}`.
"""

from __future__ import annotations

from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.adapters.base.typed import EdgeType
from edgeattr.attribution._common import check_forward_mask, mode_of, predicted_targets
from edgeattr.modes import REGRESSION, resolve_mode

#: Explanation masks: ``(B, E)`` over an adapter's edges, or, for a heterogeneous adapter, ``{edge type: (B, E_t)}``.
Masks = Union[Tensor, Mapping[EdgeType, Tensor]]


def hard_masks(masks: Tensor, *, threshold: Optional[float] = None, topk: Optional[int] = None) -> Tensor:
    r"""0/1 masks of the explanatory subgraph: the edges scoring above ``threshold``, or each row's ``topk`` edges.

    Ties at the ``topk`` boundary go to the lower edge id, as
    :meth:`~edgeattr.EdgeExplanation.topk` breaks them.

    Args:
        masks (Tensor): Scores, ``(B, E)``.
        threshold (float, optional): Keep edges with a score above it (PyG's ``'hard'`` threshold).
        topk (int, optional): Keep each row's ``topk`` highest-scored edges (PyG's ``'topk_hard'``).

    Returns:
        Tensor of the shape and dtype of ``masks``.
    """
    if (threshold is None) == (topk is None):
        raise ValueError("pass exactly one of threshold= and topk=")
    if threshold is not None:
        return (masks > threshold).to(masks.dtype)
    if isinstance(topk, bool) or not isinstance(topk, int) or not 1 <= topk <= masks.size(-1):
        raise ValueError(f"topk must be an integer between 1 and the number of edges ({masks.size(-1)}), got {topk!r}")
    chosen = torch.sort(masks, dim=-1, descending=True, stable=True).indices[..., :topk]
    return torch.zeros_like(masks).scatter_(-1, chosen, 1.0)


def fidelity(forward_func: ForwardFunc, masks: Masks, target: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    r"""Fidelity+ and fidelity- of each explanation, as PyG defines them (GraphFramEx).

    With the model's prediction :math:`\hat{y}` (every edge at weight 1), its
    prediction :math:`\hat{y}^{G_S}` with the masks and
    :math:`\hat{y}^{G_{C \setminus S}}` with their complements :math:`1 - m`:

    .. math::
        \mathrm{fid}_+ = 1 - \mathbb{1}[\hat{y}^{G_{C \setminus S}} = \hat{y}], \qquad
        \mathrm{fid}_- = 1 - \mathbb{1}[\hat{y}^{G_S} = \hat{y}]

    (model explanations); with ``target`` the true labels :math:`y`
    (phenomenon explanations), :math:`\mathrm{fid}_+ = |\mathbb{1}[\hat{y} = y] -
    \mathbb{1}[\hat{y}^{G_{C \setminus S}} = y]|` and :math:`\mathrm{fid}_- =
    |\mathbb{1}[\hat{y} = y] - \mathbb{1}[\hat{y}^{G_S} = y]|`. PyG's value
    over several explained nodes is the mean of these.

    Args:
        forward_func (AdapterInterface or Callable): An adapter (or any function of masks).
        masks (Tensor or dict): ``B`` explanation masks, ``(B, E)``; for a
            heterogeneous adapter also ``{edge type: (B, E_t)}``. Row ``r``
            explains target ``r % T`` of an adapter with ``T`` targets.
        target (Tensor, optional): True labels, one per mask ``(B,)``, for
            phenomenon explanations; ``None`` compares with the model's prediction.

    Returns:
        ``(fid_plus, fid_minus)``, each of shape ``(B,)``.

    Raises:
        ValueError: for a regression model, where fidelity is not defined.
    """
    flat = _flat(forward_func, masks)
    with torch.no_grad():
        predicted = _predictions(forward_func, torch.ones_like(flat))
        kept = _predictions(forward_func, flat)
        removed = _predictions(forward_func, 1.0 - flat)
    if target is None:
        return (removed != predicted).to(flat.dtype), (kept != predicted).to(flat.dtype)
    labels = torch.as_tensor(target, device=flat.device).view(-1)
    right = (predicted == labels).to(flat.dtype)
    return (right - (removed == labels).to(flat.dtype)).abs(), (right - (kept == labels).to(flat.dtype)).abs()


def characterization_score(fid_plus: Tensor, fid_minus: Tensor, pos_weight: float = 0.5, neg_weight: float = 0.5) -> Tensor:
    r"""The characterization score of fidelity+ and fidelity-, as PyG defines it (GraphFramEx).

    .. math::
        \mathrm{charact} = \frac{w_+ + w_-}{\frac{w_+}{\mathrm{fid}_+} + \frac{w_-}{1 - \mathrm{fid}_-}}

    Args:
        fid_plus, fid_minus (Tensor): Fidelities, e.g. the means of :func:`fidelity`'s.
        pos_weight, neg_weight (float): The weights :math:`w_+`, :math:`w_-`, summing to 1.
    """
    if abs(pos_weight + neg_weight - 1.0) > 1e-12:
        raise ValueError(f"the weights must sum to 1, got {pos_weight} and {neg_weight}")
    return 1.0 / (pos_weight / fid_plus + neg_weight / (1.0 - fid_minus))


def unfaithfulness(forward_func: ForwardFunc, masks: Masks, return_type: str = "raw") -> Tensor:
    r"""The graph explanation unfaithfulness of each explanation, as PyG computes it (GEF).

    With :math:`p` the model's class probabilities (every edge at weight 1) and
    :math:`\hat{p}` those with the explanation's masks, PyG's
    ``F.kl_div(p.log(), p_hat)`` is :math:`\mathrm{KL}(\hat{p} \,\|\, p)`:

    .. math::
        \mathrm{GEF} = 1 - \exp\left(-\sum_c \hat{p}_c (\log \hat{p}_c - \log p_c)\right)

    Args:
        forward_func (AdapterInterface or Callable): An adapter (or any function of masks).
        masks (Tensor or dict): As for :func:`fidelity`.
        return_type (str): What the model returns, as PyG's ``ModelConfig``:
            ``'raw'`` (logits: softmax), ``'log_probs'`` or ``'probs'``.

    Returns:
        Tensor of shape ``(B,)``.
    """
    to_probabilities: Dict[str, Callable[[Tensor], Tensor]] = {
        "raw": lambda out: out.softmax(-1),
        "log_probs": torch.exp,
        "probs": lambda out: out,
    }
    if return_type not in to_probabilities:
        raise ValueError(f"return_type must be one of {sorted(to_probabilities)}, got {return_type!r}")
    flat = _flat(forward_func, masks)
    with torch.no_grad():
        own_output = forward_func(torch.ones_like(flat))
        _check_classifier(forward_func, own_output)
        own = to_probabilities[return_type](own_output.flatten(1))
        masked = to_probabilities[return_type](forward_func(flat).flatten(1))
    divergence = F.kl_div(own.log(), masked, reduction="none").sum(-1)
    return 1.0 - torch.exp(-divergence)


def _flat(forward_func: ForwardFunc, masks: Masks) -> Tensor:
    """The masks as one ``(B, E)`` tensor over the adapter's edges (a heterogeneous adapter's dict joined), checked."""
    if isinstance(masks, Mapping):
        adapter = adapter_of(forward_func)
        join = getattr(adapter, "join", None)
        if join is None:
            raise TypeError("masks per edge type need a heterogeneous adapter (PyGHeteroAdapter, DGLHeteroAdapter)")
        masks = join(masks)
    if not isinstance(masks, Tensor) or masks.dim() != 2 or not masks.is_floating_point():
        raise ValueError("masks must be a floating tensor of shape (B, E), one explanation per row")
    check_forward_mask(forward_func, masks)
    return masks


def _predictions(forward_func: ForwardFunc, masks: Tensor) -> Tensor:
    """The class each row's output predicts, ``(B,)``."""
    output = forward_func(masks)
    _check_classifier(forward_func, output)
    return predicted_targets(output, mode_of(forward_func)).targets


def _check_classifier(forward_func: ForwardFunc, output: Tensor) -> None:
    """Raises an error for a regression model (judged by one of its outputs), where fidelity and unfaithfulness are not defined."""
    if resolve_mode(mode_of(forward_func), output.flatten(1).size(1)) == REGRESSION:
        raise ValueError("fidelity and unfaithfulness are not defined for regression models (PyG's definitions need classes)")


__all__ = ["hard_masks", "fidelity", "characterization_score", "unfaithfulness"]

r"""Scoring edge attributions against ground-truth edge masks: ROC AUC, average precision, precision at k.

Every function takes scores ``mask`` and a ground truth ``truth`` of the same
shape ``(..., E)`` (any leading batch dimensions: one row per explanation) and
returns one value per row, shape ``(...)``. Higher scores rank an edge as more
important; ``truth`` is nonzero (or ``True``) on the edges that explain the
prediction (a motif's edges, an infection path).
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor


def roc_auc(mask: Tensor, truth: Tensor) -> Tensor:
    r"""Area under the ROC curve of each row's scores against its ground truth.

    The probability that a ground-truth edge scores above another edge, ties
    counting one half (the Mann-Whitney statistic):

    .. math::
        \mathrm{AUC} = \frac{1}{|P|\,|N|} \sum_{p \in P} \sum_{n \in N}
        \left( \mathbb{1}[s_p > s_n] + \tfrac{1}{2}\,\mathbb{1}[s_p = s_n] \right)

    Args:
        mask (Tensor): Scores, ``(..., E)``.
        truth (Tensor): Ground truth of the same shape; nonzero on the explaining edges.

    Returns:
        Tensor of shape ``(...)``; NaN for a row whose truth holds no
        explaining edge or only explaining edges (the AUC is undefined there).
    """
    scores, positive = _rows(mask, truth)
    ranks = _average_ranks(scores)
    positives = positive.sum(-1).to(scores.dtype)
    negatives = positive.size(-1) - positives
    rank_sum = (ranks * positive).sum(-1)
    auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return auc.where((positives > 0) & (negatives > 0), torch.full_like(auc, float("nan"))).view(mask.shape[:-1])


def average_precision(mask: Tensor, truth: Tensor) -> Tensor:
    r"""Average precision of each row's scores against its ground truth.

    The precision at each distinct score threshold, weighted by the recall
    gained there (tied scores enter together):

    .. math::
        \mathrm{AP} = \sum_k (R_k - R_{k-1})\, P_k

    Args:
        mask (Tensor): Scores, ``(..., E)``.
        truth (Tensor): Ground truth of the same shape; nonzero on the explaining edges.

    Returns:
        Tensor of shape ``(...)``; NaN for a row without explaining edges.
    """
    scores, positive = _rows(mask, truth)
    order = torch.sort(scores, dim=-1, descending=True, stable=True)
    hits = positive.gather(-1, order.indices).to(scores.dtype)
    found, ranked = hits.cumsum(-1), torch.arange(1, scores.size(-1) + 1, dtype=scores.dtype, device=scores.device)
    # The last edge of each run of tied scores closes a threshold: precision and recall are read there.
    closes = torch.ones_like(hits, dtype=torch.bool)
    closes[..., :-1] = order.values[..., 1:] != order.values[..., :-1]
    total = positive.sum(-1, keepdim=True).to(scores.dtype)
    recall = torch.where(closes, found / total, torch.zeros_like(found))
    previous = torch.cat([torch.zeros_like(recall[..., :1]), torch.cummax(recall, -1).values[..., :-1]], -1)
    gained = torch.where(closes, recall - previous, torch.zeros_like(recall))
    ap = (gained * found / ranked).sum(-1)
    return ap.where(total[..., 0] > 0, torch.full_like(ap, float("nan"))).view(mask.shape[:-1])


def precision_at_k(mask: Tensor, truth: Tensor, k: int) -> Tensor:
    r"""The fraction of each row's ``k`` highest-scored edges that explain the prediction.

    Ties are broken by the lower edge id, as :meth:`~edgeattr.EdgeExplanation.topk` does.

    Args:
        mask (Tensor): Scores, ``(..., E)``.
        truth (Tensor): Ground truth of the same shape; nonzero on the explaining edges.
        k (int): How many edges to take, ``1 <= k <= E``.

    Returns:
        Tensor of shape ``(...)``.

    Raises:
        ValueError: for ``k`` outside ``[1, E]``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= mask.size(-1):
        raise ValueError(f"k must be an integer between 1 and the number of edges ({mask.size(-1)}), got {k!r}")
    scores, positive = _rows(mask, truth)
    top = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]
    return positive.gather(-1, top).to(scores.dtype).mean(-1).view(mask.shape[:-1])


def _rows(mask: Tensor, truth: Tensor) -> Tuple[Tensor, Tensor]:
    """Scores ``(R, E)`` in floating point and the ground truth as booleans, checked."""
    if not isinstance(mask, Tensor) or not isinstance(truth, Tensor):
        raise TypeError(f"mask and truth must be tensors, got {type(mask).__name__} and {type(truth).__name__}")
    if mask.shape != truth.shape or mask.dim() == 0 or mask.size(-1) == 0:
        raise ValueError(f"mask and truth must have the same shape (..., E) with E >= 1, got {tuple(mask.shape)} and {tuple(truth.shape)}")
    scores = mask.detach().reshape(-1, mask.size(-1))
    scores = scores if scores.is_floating_point() else scores.double()
    if not torch.isfinite(scores).all():
        raise ValueError("mask holds NaN or inf; scores must be finite")
    return scores, truth.detach().reshape(-1, truth.size(-1)).to(scores.device) != 0


def _average_ranks(scores: Tensor) -> Tensor:
    """The rank of each score in its row, ``1`` the lowest, tied scores sharing their mean rank."""
    order = torch.sort(scores, dim=-1, stable=True)
    new_run = torch.ones_like(scores, dtype=torch.bool)
    new_run[:, 1:] = order.values[:, 1:] != order.values[:, :-1]  # every row starts a run
    run = new_run.reshape(-1).cumsum(0) - 1
    position = torch.arange(1, scores.size(-1) + 1, dtype=scores.dtype, device=scores.device).repeat(scores.size(0))
    mean = torch.zeros(int(run[-1]) + 1, dtype=scores.dtype, device=scores.device).scatter_reduce(0, run, position, "mean", include_self=False)
    return torch.empty_like(scores).scatter_(1, order.indices, mean[run].view_as(scores))


__all__ = ["roc_auc", "average_precision", "precision_at_k"]

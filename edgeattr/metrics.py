r"""Comparing explanations: cosine similarity of masks and the sign-flip diagnostic."""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.graph import GraphAdapter
from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.attribution._common import TargetType, checked_edges, explained_output, flat_entries, mask_view, resolve_target
from edgeattr.checks import checked_count


def cosine_similarity(a: Tensor, b: Tensor, entries: Optional[Tensor] = None) -> Tensor:
    r"""Cosine similarity of two batches of masks, the paper's comparison.

    .. math::
        \cos(a, b) = \frac{\langle a, b \rangle}{\lVert a \rVert \, \lVert b \rVert}

    taken per mask over all trailing dimensions; 0 where either mask is all zero.

    Args:
        a (Tensor): Masks of shape ``(B, ...)``.
        b (Tensor): Masks of the same shape.
        entries (Tensor, optional): Edge ids (last dimension) to compare on,
            e.g. an adapter's ``edge_ids``; default: all.

    Returns:
        Tensor of shape ``(B,)``.
    """
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if entries is not None:
        a, b = a.index_select(-1, entries), b.index_select(-1, entries)
    a, b = a.reshape(a.size(0), -1).double(), b.reshape(b.size(0), -1).double()
    norms = a.norm(dim=1) * b.norm(dim=1)
    dots = (a * b).sum(1)
    return torch.where(norms > 0, dots / norms.clamp(min=torch.finfo(torch.float64).tiny), torch.zeros_like(dots))


class SignFlips(NamedTuple):
    r"""Result of :func:`sign_flips`.

    Attributes:
        rate (float): Fraction of the examined edges whose gradient changes sign.
        flips (Tensor): Sign changes per examined edge, shape ``(K,)``.
        entries (Tensor): Flat mask indices of the examined edges, shape ``(K,)``.
        gradients (Tensor): :math:`\partial z / \partial w_e` at each weight,
            shape ``(K, steps)``.
    """

    rate: float
    flips: Tensor
    entries: Tensor
    gradients: Tensor


def sign_flips(
    forward_func: ForwardFunc,
    mask: Tensor,
    target: TargetType = None,
    steps: int = 21,
    per_eval: Optional[int] = None,
    edges: Union[None, Tensor, Sequence[int]] = None,
) -> SignFlips:
    r"""How often each edge's gradient changes sign as its weight sweeps :math:`[0, 1]`.

    For every examined entry :math:`e`, the mask is set to ``mask`` with
    :math:`w_e = t` for ``steps`` evenly spaced :math:`t \in [0, 1]`, and the
    number of sign changes of :math:`\partial z / \partial w_e` along the
    sweep is counted (exact zeros are skipped). Where the sign changes, the
    gradient-sign rule is not guaranteed to match GNNExplainer's optimum.
    The examined entries are the edges whose messages reach the target (of
    every layer, for a layerwise adapter), or all entries for a plain function.

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function of edge masks.
        mask (Tensor): One mask, shape ``(1, E)`` or ``(1, L, E)``.
        target (int, optional): Class explained; ``None`` as in the methods.
        steps (int, optional): Points of the sweep. (default: ``21``)
        per_eval (int, optional): Swept masks per forward and backward pass.
            Default: the adapter's ``copies_per_pass``, which bounds the memory
            autograd keeps for one backward pass; 1024 for a plain function.
        edges (Tensor, optional): Edge ids (columns of the mask) to examine,
            e.g. a sample of a large computation graph; default: every edge
            whose messages reach the target.

    Returns:
        :class:`SignFlips`, with ``entries`` as flat indices into ``mask[0]``.
    """
    if mask.dim() < 2 or mask.size(0) != 1:
        raise ValueError(f"sign_flips takes one mask of shape (1, E) or (1, L, E), got {tuple(mask.shape)}")
    steps = checked_count("steps", steps, minimum=2)
    per_eval = checked_count("per_eval", per_eval)
    edge_ids = checked_edges(edges, mask.size(-1), mask.device)
    adapter = adapter_of(forward_func)
    if adapter is not None and adapter.num_targets != 1:
        raise ValueError("sign_flips sweeps one target's edges: build the adapter with a single index")
    target_t = resolve_target(forward_func, mask, target)
    view = mask_view(forward_func, mask.detach())
    flat = view.masks[0].reshape(-1)
    swept_edges = view.message_edges
    if edge_ids is not None:
        swept_edges = swept_edges[torch.isin(view.edge_ids[swept_edges], edge_ids)]
    examined = flat_entries(view.masks[0].shape, swept_edges)
    sweep_entries = examined.repeat_interleave(steps)
    sweep_weights = torch.linspace(0, 1, steps, dtype=flat.dtype, device=flat.device).repeat(examined.numel())
    per_eval = per_eval or (forward_func.copies_per_pass if isinstance(forward_func, GraphAdapter) else 1024)
    grads = []
    chunks = zip(sweep_entries.split(per_eval), sweep_weights.split(per_eval)) if examined.numel() else []
    for idx, weight in chunks:
        rows = torch.arange(idx.numel(), device=flat.device)
        with torch.enable_grad():
            swept = flat.repeat(idx.numel(), 1)
            swept[rows, idx] = weight
            swept.requires_grad_(True)
            z = explained_output(view.run(swept.view((idx.numel(),) + view.masks.shape[1:])), target_t.expand(idx.numel()))
            (grad,) = torch.autograd.grad(z.sum(), swept)
        grads.append(grad[rows, idx])
    gradients = torch.cat(grads).view(examined.numel(), steps) if grads else flat.new_zeros(0, steps)
    signs = torch.sign(gradients)
    # Carry the last non-zero sign over exact zeros, then count changes between non-zero signs.
    positions = torch.arange(steps, device=flat.device).expand_as(signs)
    last_nonzero = torch.where(signs != 0, positions, torch.zeros_like(positions)).cummax(1).values
    carried = signs.gather(1, last_nonzero)
    before, after = carried[:, :-1], carried[:, 1:]
    flips = ((before != after) & (before != 0)).sum(1)
    rate = float((flips > 0).double().mean()) if examined.numel() else 0.0
    entries = flat_entries(mask[0].shape, view.edge_ids[swept_edges])
    return SignFlips(rate, flips, entries, gradients)


__all__ = ["cosine_similarity", "sign_flips", "SignFlips"]

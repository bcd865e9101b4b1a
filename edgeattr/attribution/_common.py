r"""What every attribution method shares: input formatting and the explained quantity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]
TargetType = Union[None, int, Sequence[int], Tensor]


def unpack(inputs: TensorOrTuple, additional_forward_args: Any = None) -> Tuple[Tensor, bool]:
    r"""The single mask of ``inputs`` and whether it came in a tuple.

    Raises:
        ValueError: for several inputs or additional forward arguments (the
            adapter binds the graph; nothing else goes through Captum).
    """
    if additional_forward_args is not None:
        raise ValueError(
            "additional_forward_args is not used: bind the graph and model arguments in "
            "the adapter, e.g. PyGAdapter(model, x, edge_index, index=v)"
        )
    is_tuple = isinstance(inputs, tuple)
    masks = inputs if is_tuple else (inputs,)
    if len(masks) != 1:
        raise ValueError(f"expected one edge mask, got a tuple of {len(masks)} inputs")
    mask = masks[0]
    if not isinstance(mask, Tensor):
        raise TypeError(f"inputs must be an edge mask tensor, got {type(mask).__name__}")
    if not mask.is_floating_point():
        raise TypeError(f"the edge mask must have a floating dtype, got {mask.dtype}; use mask.float()")
    return mask, is_tuple


def pack(result: Tensor, is_tuple: bool) -> TensorOrTuple:
    r"""Returns ``result`` in the structure the inputs came in."""
    return (result,) if is_tuple else result


def check_forward_mask(forward_func: Callable, mask: Tensor) -> None:
    r"""Lets an adapter check the mask's shape before any work is done."""
    check = getattr(forward_func, "check", None)
    if callable(check):
        check(mask)


def resolve_target(forward_func: Callable, mask: Tensor, target: TargetType) -> Tensor:
    r"""The class explained for each of the ``B`` masks, shape ``(B,)``.

    ``target=None`` is the class the model predicts with every edge at weight 1
    (for a single-logit output: 1 if the logit is positive, else 0).

    Raises:
        ValueError: for a target out of range or of the wrong length.
    """
    batch = mask.size(0)
    if target is None:
        with torch.no_grad():
            logits = flat_output(forward_func(torch.ones_like(mask[:1])))
        predicted = (logits[:, 0] > 0).long() if logits.size(1) == 1 else logits.argmax(1)
        return predicted.expand(batch)
    target = torch.as_tensor(target, device=mask.device)
    if target.is_floating_point() or target.dim() > 1:
        raise ValueError(f"target must be an int or a sequence of ints, one per mask; got {target.tolist()}")
    if target.dim() == 1 and target.numel() != batch:
        raise ValueError(f"target holds {target.numel()} classes for {batch} masks; pass one per mask or an int")
    return target.long().expand(batch)


def flat_output(output: Tensor) -> Tensor:
    r"""The output rows as ``(B, C)``; a single logit is ``C = 1``."""
    return output.reshape(output.size(0), -1)


def explained_output(output: Tensor, target: Tensor) -> Tensor:
    r"""The explained quantity :math:`z` of each output row, shape ``(B,)``.

    For ``C > 1`` classes, :math:`z = \text{output}[b, t_b]`. For a single
    logit :math:`y`, :math:`z = y` for class 1 and :math:`z = -y` for class 0,
    so that with ``target=None`` it is :math:`\operatorname{sign}(y) \cdot y`.
    """
    logits = flat_output(output)
    classes = logits.size(1)
    limit = 2 if classes == 1 else classes
    if (target < 0).any() or (target >= limit).any():
        raise ValueError(
            f"target {target.tolist()} is out of range for a model with "
            f"{'a single logit (classes 0 and 1)' if classes == 1 else f'{classes} classes'}"
        )
    if classes == 1:
        return logits[:, 0] * (2 * target - 1).to(logits.dtype)
    return logits.gather(1, target.view(-1, 1)).squeeze(1)


def explained_gradient(forward_func: Callable, mask: Tensor, target: Tensor) -> Tensor:
    r"""The gradient :math:`\partial z / \partial w` of each mask, same shape as ``mask``.

    Raises:
        ValueError: if the output does not depend on the mask although some
            edge's messages reach the target (a detached branch, a model that
            ignores its graph): silent zeros would be a wrong answer.
    """
    with torch.enable_grad():
        mask = mask.detach().requires_grad_(True)
        z = explained_output(forward_func(mask), target)
        grad = torch.autograd.grad(z.sum(), mask, allow_unused=True)[0] if z.requires_grad else None
    if grad is not None:
        return grad
    carriers = getattr(forward_func, "message_edges", None)
    if carriers is not None and carriers.numel() == 0:  # no edge reaches the target: exactly zero
        return torch.zeros_like(mask)
    raise ValueError(
        "the explained output does not depend on the edge mask: the model's output is computed apart "
        "from its message passing (a detached branch, or a model that ignores its graph)"
    )


@dataclass
class MaskView:
    r"""Masks in the coordinates a forward function runs on.

    For an adapter these are the computation graph's edges (``edge_ids``), so
    that methods perturbing many masks never build masks over all edges.

    Attributes:
        masks (Tensor): The masks, ``(B, ..., K)``.
        run (Callable): Masks ``(n, ..., K)`` to outputs ``(n, *out)``.
        remove (Callable, optional): Bool keep-masks to outputs with edges deleted.
        columns (Tensor): The edge id (column of the full mask) of each of the ``K`` columns.
        carriers (Tensor): Positions along ``K`` whose messages reach the output.
        scatter (Callable): Values ``(..., K)`` to values over all edges ``(..., E)``.
    """

    masks: Tensor
    run: Callable[[Tensor], Tensor]
    remove: Optional[Callable[[Tensor], Tensor]]
    columns: Tensor
    carriers: Tensor
    scatter: Callable[[Tensor], Tensor]


def mask_view(forward_func: Callable, mask: Tensor) -> MaskView:
    r"""The masks in the coordinates ``forward_func`` runs on (see :class:`MaskView`)."""
    if callable(getattr(forward_func, "forward_subgraph", None)):
        return MaskView(
            mask.index_select(-1, forward_func.edge_ids),
            forward_func.forward_subgraph,
            forward_func.remove_subgraph,
            forward_func.edge_ids,
            forward_func.message_edges,
            forward_func.expand,
        )
    every = torch.arange(mask.size(-1), device=mask.device)
    return MaskView(mask, forward_func, getattr(forward_func, "remove", None), every, every, lambda values: values)


def flat_entries(shape: torch.Size, columns: Tensor) -> Tensor:
    r"""Flat indices into a tensor of ``shape`` of the given last-dimension columns, all rows."""
    rows = torch.arange(shape[:-1].numel(), device=columns.device) * shape[-1]
    return (rows.view(-1, 1) + columns.view(1, -1)).view(-1)

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

    ``target=None`` is the class the model predicts for the mask's target
    (row ``r`` of an adapter with ``T`` targets explains target ``r % T``) with
    every edge at weight 1 (for a single-logit output: 1 if the logit is
    positive, else 0).

    Raises:
        ValueError: for a target out of range or of the wrong length.
    """
    batch = mask.size(0)
    if target is None:
        num_targets = getattr(forward_func, "num_targets", 1)
        with torch.no_grad():
            predicted = predicted_class(forward_func(torch.ones_like(mask[:num_targets])))
        return predicted.repeat(batch // num_targets)
    target = torch.as_tensor(target, device=mask.device)
    if target.is_floating_point() or target.dim() > 1:
        raise ValueError(f"target must be an int or a sequence of ints, one per mask; got {target.tolist()}")
    if target.dim() == 1 and target.numel() != batch:
        raise ValueError(f"target holds {target.numel()} classes for {batch} masks; pass one per mask or an int")
    return target.long().expand(batch)


def predicted_class(output: Tensor) -> Tensor:
    r"""The predicted class of each output row, ``(B,)``: the arg-max, or for a single logit whether it is positive."""
    logits = flat_output(output)
    return (logits[:, 0] > 0).long() if logits.size(1) == 1 else logits.argmax(1)


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


def explained_gradient(forward_func: Callable, mask: Tensor, target: TargetType) -> Tensor:
    r"""The gradient :math:`\partial z / \partial w` of each mask, same shape as ``mask``.

    With ``target=None`` and an all-ones mask, the predicted class is read off
    the same forward pass.

    Raises:
        ValueError: if the output does not depend on the mask although some
            edge's messages reach the target (a detached branch, a model that
            ignores its graph): silent zeros would be a wrong answer.
    """
    with torch.enable_grad():
        mask = mask.detach().requires_grad_(True)
        output = forward_func(mask)
        if target is None and bool((mask == 1).all()):
            targets = predicted_class(output.detach())
        else:
            targets = resolve_target(forward_func, mask, target)
        z = explained_output(output, targets)
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


def sparse_gradient(adapter: Any, target: TargetType) -> Tensor:
    r"""The gradient of every target at the all-ones mask as a sparse tensor, without dense masks.

    Runs one all-ones mask over the computation graphs' edges (``edge_ids``),
    so its cost does not grow with the number of edges times targets.

    Args:
        adapter: An edgeattr adapter with ``T`` targets.
        target (int, list or Tensor, optional): Class explained per target;
            ``None`` is each target's predicted class.

    Returns:
        Sparse COO tensor of shape ``(T, E)`` or ``(T, L, E)``, coalesced, with
        an entry for every edge of each target's computation graph.
    """
    if not callable(getattr(adapter, "forward_subgraph", None)):
        raise TypeError(f"sparse attributions need an edgeattr adapter as forward_func, got {type(adapter).__name__}")
    shape = (1, adapter.num_layers, adapter.edge_ids.numel()) if adapter.layerwise else (1, adapter.edge_ids.numel())
    with torch.enable_grad():
        ones = torch.ones(shape, dtype=adapter.dtype, device=adapter.device, requires_grad=True)
        output = adapter.forward_subgraph(ones)
        targets = predicted_class(output.detach()) if target is None else resolve_target(adapter, output, target)
        z = explained_output(output, targets)
        grad = torch.autograd.grad(z.sum(), ones, allow_unused=True)[0] if z.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(ones)
    rows, columns = adapter.column_targets, adapter.edge_ids
    if adapter.layerwise:
        layers = torch.arange(adapter.num_layers, device=adapter.device).repeat_interleave(columns.numel())
        indices = torch.stack([rows.repeat(adapter.num_layers), layers, columns.repeat(adapter.num_layers)])
        order = torch.argsort((indices[0] * adapter.num_layers + indices[1]) * adapter.num_edges + indices[2])
        indices, values = indices[:, order], grad[0].reshape(-1)[order]
        size: Tuple[int, ...] = (adapter.num_targets, adapter.num_layers, adapter.num_edges)
    else:
        indices, values, size = torch.stack([rows, columns]), grad[0], (adapter.num_targets, adapter.num_edges)
    return torch.sparse_coo_tensor(indices, values, size, is_coalesced=True, check_invariants=False)


@dataclass
class MaskView:
    r"""Masks in the coordinates a forward function runs on.

    For an adapter these are the computation graphs' edges (``edge_ids``), so
    that methods perturbing many masks never build masks over all edges. With
    ``T`` targets, each row covers all targets: column ``k`` belongs to target
    ``column_targets[k]``, and running ``C`` rows gives ``C * T`` output rows.

    Attributes:
        masks (Tensor): The masks, ``(C, ..., K)``.
        run (Callable): Masks ``(n, ..., K)`` to outputs ``(n * T, *out)``.
        remove (Callable, optional): Bool keep-masks to outputs with edges deleted.
        columns (Tensor): The edge id (column of the full mask) of each of the ``K`` columns.
        carriers (Tensor): Positions along ``K`` whose messages reach their target's output.
        column_targets (Tensor): The target of each column, ``(K,)``.
        num_targets (int): ``T``.
        scatter (Callable): Values ``(C, ..., K)`` to values over all edges ``(C * T, ..., E)``.
    """

    masks: Tensor
    run: Callable[[Tensor], Tensor]
    remove: Optional[Callable[[Tensor], Tensor]]
    columns: Tensor
    carriers: Tensor
    column_targets: Tensor
    num_targets: int
    scatter: Callable[[Tensor], Tensor]


def mask_view(forward_func: Callable, mask: Tensor) -> MaskView:
    r"""The masks ``(B, ..., E)`` in the coordinates ``forward_func`` runs on (see :class:`MaskView`)."""
    if callable(getattr(forward_func, "forward_subgraph", None)):
        return MaskView(
            forward_func.compact(mask),
            forward_func.forward_subgraph,
            forward_func.remove_subgraph,
            forward_func.edge_ids,
            forward_func.message_edges,
            forward_func.column_targets,
            forward_func.num_targets,
            forward_func.expand,
        )
    every = torch.arange(mask.size(-1), device=mask.device)
    return MaskView(
        mask, forward_func, getattr(forward_func, "remove", None), every, every, torch.zeros_like(every), 1, lambda values: values
    )


def flat_entries(shape: torch.Size, columns: Tensor) -> Tensor:
    r"""Flat indices into a tensor of ``shape`` of the given last-dimension columns, all rows."""
    rows = torch.arange(shape[:-1].numel(), device=columns.device) * shape[-1]
    return (rows.view(-1, 1) + columns.view(1, -1)).view(-1)

r"""What every attribution method shares: input formatting and the explained quantity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.modes import BINARY, MULTICLASS, REGRESSION, resolve_mode

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]
TargetType = Union[None, int, Sequence[int], Tensor]


#: The methods whose ``attribute`` takes node features beside the mask, for messages.
FEATURE_METHODS = "EdgeGradient and GNNExplainer (and Captum's own methods)"


def unpack(inputs: TensorOrTuple, additional_forward_args: Any = None) -> Tuple[Tensor, bool]:
    r"""The single mask of ``inputs`` and whether it came in a tuple.

    Raises:
        ValueError: for several inputs or additional forward arguments (the
            adapter binds the graph; nothing else goes through Captum).
    """
    mask, x, is_tuple = unpack_features(inputs, additional_forward_args)
    if x is not None:
        raise ValueError(
            f"expected one edge mask, got a tuple of 2 inputs: this method attributes edges only; the inputs "
            f"(mask, x) of an adapter built with features=True are taken by {FEATURE_METHODS}"
        )
    return mask, is_tuple


def unpack_features(inputs: TensorOrTuple, additional_forward_args: Any = None) -> Tuple[Tensor, Optional[Tensor], bool]:
    r"""The mask of ``inputs``, the node features after it if any, and whether they came in a tuple.

    Args:
        inputs (Tensor or tuple[Tensor]): A mask, or ``(mask,)``, or
            ``(mask, x)`` with node features ``x`` (``adapter.inputs()`` of
            an adapter built with ``features=True``).

    Raises:
        ValueError: for more than two inputs or additional forward arguments
            (the adapter binds the graph; nothing else goes through Captum).
        TypeError: for inputs that are not floating tensors.
    """
    if additional_forward_args is not None:
        raise ValueError(
            "additional_forward_args is not used: bind the graph and model arguments in "
            "the adapter, e.g. PyGAdapter(model, x, edge_index, index=v)"
        )
    is_tuple = isinstance(inputs, tuple)
    given: Tuple[Any, ...] = inputs if isinstance(inputs, tuple) else (inputs,)
    if len(given) not in (1, 2):
        raise ValueError(f"expected an edge mask, or an edge mask and node features (mask, x), got a tuple of {len(given)} inputs")
    mask = given[0]
    if not isinstance(mask, Tensor):
        raise TypeError(f"inputs must be an edge mask tensor, got {type(mask).__name__}")
    if not mask.is_floating_point():
        raise TypeError(f"the edge mask must have a floating dtype, got {mask.dtype}; use mask.float()")
    x = given[1] if len(given) == 2 else None
    if x is not None and not (isinstance(x, Tensor) and x.is_floating_point()):
        described = f"a {x.dtype} tensor" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"the node features (the second input) must be a floating tensor (B, N, *F), got {described}")
    if x is not None and x.size(0) != mask.size(0):
        raise ValueError(f"the node features hold {x.size(0)} rows for {mask.size(0)} masks: pass one row per mask, e.g. adapter.inputs()")
    return mask, x, is_tuple


def checked_edges(edges: Any, num_edges: int, device: torch.device) -> Optional[Tensor]:
    r"""Edge ids (columns of the mask) as a long tensor on ``device``, checked to lie in ``[0, E)``.

    Args:
        edges (Tensor or Sequence[int], optional): Edge ids; ``None`` passes through.
        num_edges (int): :math:`E`, the width of the mask.

    Raises:
        TypeError: for ids that are not integers (floats, bools).
        ValueError: for ids that are not a flat list of ids, or outside ``[0, E)``.
    """
    if edges is None:
        return None
    ids = edges if isinstance(edges, Tensor) else torch.as_tensor(list(edges) if not isinstance(edges, (int, str)) else edges)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"edges must be integer edge ids (columns of the mask), got a {ids.dtype} tensor; for a bool mask pass mask.nonzero().view(-1)")
    if ids.dim() != 1:
        raise ValueError(f"edges must be a 1-D tensor or a list of edge ids, got shape {tuple(ids.shape)}")
    outside = ids[(ids < 0) | (ids >= num_edges)]
    if outside.numel():
        raise ValueError(f"edge id {int(outside[0])} is out of range for a mask of {num_edges} edges; ids lie in [0, {num_edges})")
    return ids.to(device=device, dtype=torch.long)


def pack(result: Tensor, is_tuple: bool) -> TensorOrTuple:
    r"""Returns ``result`` in the structure the inputs came in."""
    return (result,) if is_tuple else result


def check_forward_mask(forward_func: ForwardFunc, mask: Tensor) -> None:
    r"""Lets an adapter check the mask's shape before any work is done."""
    adapter = adapter_of(forward_func)
    if adapter is not None:
        adapter.check(mask)


def mode_of(forward_func: ForwardFunc) -> Optional[str]:
    r"""The output mode of an adapter (see :mod:`edgeattr.modes`); ``None`` (inferred) for a plain function."""
    adapter = adapter_of(forward_func)
    return None if adapter is None else adapter.mode


@dataclass(frozen=True)
class Targets:
    r"""What is explained for each of ``B`` masks, as :func:`resolve_target` resolves it.

    Attributes:
        targets (Tensor): The target of each mask as the user states it: a
            class, or an output column (see :mod:`edgeattr.modes`), ``(B,)``.
        mode (str, optional): The output's mode; ``None`` until an output is
            seen, when it is inferred from the number of columns.
    """

    targets: Tensor
    mode: Optional[str]

    def __getitem__(self, rows: slice) -> "Targets":
        return Targets(self.targets[rows], self.mode)

    def repeat(self, times: int) -> "Targets":
        r"""The targets of ``times`` rounds of the masks, one after another."""
        return Targets(self.targets.repeat(times), self.mode)

    def expand(self, size: int) -> "Targets":
        r"""The target of a single mask, for ``size`` masks."""
        return Targets(self.targets.expand(size), self.mode)

    def checked(self, columns: int) -> "Targets":
        r"""These targets with their mode resolved for an output of ``columns`` values per row.

        Raises:
            ValueError: for a target outside the output, or a single column without a mode.
        """
        mode = resolve_mode(self.mode, columns)
        limit = 2 if mode == BINARY and columns == 1 else columns
        if (self.targets < 0).any() or (self.targets >= limit).any():
            what = {
                MULTICLASS: f"a model with {columns} classes",
                BINARY: "a single-logit binary classifier (classes 0 and 1)" if columns == 1 else f"a multi-label model with {columns} label columns",
                REGRESSION: f"a regression model with {columns} output columns",
            }[mode]
            raise ValueError(f"target {self.targets.tolist()} is out of range for {what}")
        return Targets(self.targets, mode)


def resolve_target(forward_func: ForwardFunc, mask: Tensor, target: TargetType, x: Optional[Tensor] = None) -> Targets:
    r"""What is explained for each of the ``B`` masks.

    ``target=None`` is the class the model predicts for the mask's target
    (row ``r`` of an adapter with ``T`` targets explains target ``r % T``)
    with every edge at weight 1: the arg-max for a multiclass output, 1 iff
    the logit is positive for a single-logit binary classifier, column 0 of a
    regression model with one output. The output's mode is the forward
    function's ``mode`` (an adapter's), else inferred (see :mod:`edgeattr.modes`).
    An adapter predicts with the node features it was built with; a plain
    function given node features ``x`` ``(B, N, *F)`` with those of the first mask.

    Raises:
        TypeError: for a target that is not an integer (a string, a float).
        ValueError: for a target of the wrong length, or ``None`` where the
            mode needs one (a multi-label or multi-output regression model).
    """
    batch = mask.size(0)
    adapter = adapter_of(forward_func)
    mode = None if adapter is None else adapter.mode
    if target is None:
        num_targets = 1 if adapter is None else adapter.num_targets
        features = (x[:1],) if x is not None and adapter is None else ()
        with torch.no_grad():
            predicted = predicted_targets(forward_func(torch.ones_like(mask[:num_targets]), *features), mode)
        return predicted.repeat(batch // num_targets)
    wrong = f"target must be an integer class or column, or one per mask; got {target!r}"
    try:
        targets = torch.as_tensor(target, device=mask.device)
    except (TypeError, ValueError, RuntimeError):  # a string, an object
        raise TypeError(wrong) from None
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool or targets.dim() > 1:
        raise TypeError(wrong)
    if targets.dim() == 1 and targets.numel() != batch:
        raise ValueError(f"target holds {targets.numel()} classes for {batch} masks; pass one per mask or an int")
    return Targets(targets.long().expand(batch), mode)


def predicted_targets(output: Tensor, mode: Optional[str]) -> Targets:
    r"""The target each output row predicts (see :func:`resolve_target`), ``(B,)``.

    Raises:
        ValueError: where the mode has no predicted target: a multi-label model
            (name the label's column) or a regression model of several outputs.
    """
    logits = flat_output(output)
    columns = logits.size(1)
    mode = resolve_mode(mode, columns)
    if mode == MULTICLASS:
        return Targets(logits.argmax(1), mode)
    if columns == 1:
        label = (logits[:, 0] > 0).long() if mode == BINARY else torch.zeros(logits.size(0), dtype=torch.long, device=logits.device)
        return Targets(label, mode)
    what = "a multi-label model: name the label's column" if mode == BINARY else f"a regression model with {columns} outputs: name the output's column"
    raise ValueError(f"target is required for {what}, e.g. target=0")


def flat_output(output: Tensor) -> Tensor:
    r"""The output rows as ``(B, C)``; a single logit is ``C = 1``."""
    return output.reshape(output.size(0), -1)


def explained_output(output: Tensor, targets: Targets) -> Tensor:
    r"""The explained quantity :math:`z` of each output row, shape ``(B,)``.

    :math:`z = \text{output}[b, t_b]`, except for a single-logit binary
    classifier, where :math:`z = y` for class 1 and :math:`z = -y` for class
    0, so that with ``target=None`` it is :math:`\operatorname{sign}(y) \cdot y`.
    """
    logits = flat_output(output)
    targets = targets.checked(logits.size(1))
    if targets.mode == BINARY and logits.size(1) == 1:
        return logits[:, 0] * (2 * targets.targets - 1).to(logits.dtype)
    return logits.gather(1, targets.targets.view(-1, 1)).squeeze(1)


def explained_gradient(
    forward_func: ForwardFunc, mask: Tensor, target: TargetType, elementwise: Optional[Callable[[Tensor], Tensor]] = None
) -> Tensor:
    r"""The gradient :math:`\partial z / \partial w` of each mask, same shape as ``mask``, or ``elementwise`` of it.

    With ``target=None`` and an all-ones mask, the predicted class is read off
    the same forward pass. An adapter runs the masks' entries on its
    computation graphs alone (:meth:`~AdapterInterface.compact`), and only
    the result is spread over all edges, where every other entry's gradient is
    exactly zero: no pass over ``(B, E)`` masks beyond the shape and
    finiteness check.

    Args:
        forward_func (AdapterInterface or Callable): As for :func:`explained_gradients`.
        mask (Tensor): The masks, ``(B, E)`` or ``(B, L, E)``.
        target (int, list or Tensor, optional): As for :func:`resolve_target`.
        elementwise (Callable, optional): A function applied to each entry of
            the gradient that maps 0 to 0 (``abs``, a threshold at or above 0),
            applied before the gradient is spread over all edges.

    Raises:
        ValueError: if the output does not depend on the mask although some
            edge's messages reach the target (a detached branch, a model that
            ignores its graph): silent zeros would be a wrong answer.
    """
    adapter = adapter_of(forward_func)
    if adapter is None:
        grad = explained_gradients(forward_func, mask, None, target)[0]
        return grad if elementwise is None else elementwise(grad)
    adapter.check(mask)
    with torch.enable_grad():
        sub_mask = adapter.compact(mask.detach()).requires_grad_(True)
        output = adapter.forward_subgraph(sub_mask)
        if target is None and bool((sub_mask == 1).all()):
            targets = predicted_targets(output.detach(), adapter.mode)
        else:
            targets = resolve_target(adapter, mask, target)
        sub_grad = _gradients(adapter, output, targets, sub_mask, ())[0]
    return adapter.expand(sub_grad if elementwise is None else elementwise(sub_grad))


def explained_gradients(forward_func: ForwardFunc, mask: Tensor, x: Optional[Tensor], target: TargetType) -> Tuple[Tensor, Optional[Tensor]]:
    r"""The gradients :math:`\partial z / \partial w` of each mask and :math:`\partial z / \partial X` of its node features.

    Args:
        forward_func (AdapterInterface or Callable): Run as ``forward_func(mask)``,
            or ``forward_func(mask, x)`` with node features.
        mask (Tensor): The masks, ``(B, E)`` or ``(B, L, E)``.
        x (Tensor, optional): The node features of each mask, ``(B, N, *F)``.
        target (int, list or Tensor, optional): As for :func:`resolve_target`,
            which reads the predicted class of an adapter with the node
            features it was built with (of a plain function, with ``x[:1]``).

    Returns:
        tuple: The gradient of ``mask`` (same shape) and of ``x`` (same shape;
        ``None`` without ``x``). With ``target=None``, an all-ones mask and no
        ``x``, the predicted class is read off the same forward pass.

    Raises:
        ValueError: if the output does not depend on the mask although some
            edge's messages reach the target (a detached branch, a model that
            ignores its graph), or does not depend on ``x`` (the model reads
            its features elsewhere than the argument ``x`` replaces): silent
            zeros would be a wrong answer.
    """
    features = () if x is None else (x.detach().requires_grad_(True),)
    with torch.enable_grad():
        mask = mask.detach().requires_grad_(True)
        output = forward_func(mask, *features)
        if target is None and not features and bool((mask == 1).all()):
            targets = predicted_targets(output.detach(), mode_of(forward_func))
        else:
            targets = resolve_target(forward_func, mask, target, *features)
        return _gradients(forward_func, output, targets, mask, features)


def _gradients(forward_func: ForwardFunc, output: Tensor, targets: Targets, mask: Tensor, features: Tuple[Tensor, ...]) -> Tuple[Tensor, Optional[Tensor]]:
    """The gradients of the explained ``output`` rows in ``mask`` and ``features`` (see :func:`explained_gradients`)."""
    z = explained_output(output, targets)
    grads = torch.autograd.grad(z.sum(), (mask,) + features, allow_unused=True) if z.requires_grad else (None,) * (1 + len(features))
    if features and grads[1] is None:
        raise ValueError(
            "the explained output does not depend on the node features x: the model detaches them, or reads its "
            "features elsewhere than the argument x replaces (inside the graph object, or from an attribute of the model)"
        )
    feature_grad = grads[1] if features else None
    if grads[0] is not None:
        return grads[0], feature_grad
    adapter = adapter_of(forward_func)
    if adapter is not None and adapter.message_edges.numel() == 0:  # no edge reaches the target: exactly zero
        return torch.zeros_like(mask), feature_grad
    raise ValueError(
        "the explained output does not depend on the edge mask: the model's output is computed apart "
        "from its message passing (a detached branch, or a model that ignores its graph)"
    )


def sparse_gradient(forward_func: ForwardFunc, target: TargetType) -> Tensor:
    r"""The gradient of every target at the all-ones mask as a sparse tensor, without dense masks.

    Runs one all-ones mask over the computation graphs' edges (``edge_ids``),
    so its cost does not grow with the number of edges times targets.

    Args:
        forward_func (AdapterInterface): An edgeattr adapter with ``T`` targets.
        target (int, list or Tensor, optional): Class explained per target;
            ``None`` is each target's predicted class.

    Returns:
        Sparse COO tensor of shape ``(T, E)`` or ``(T, L, E)``, coalesced, with
        an entry for every edge of each target's computation graph.
    """
    adapter = adapter_of(forward_func)
    if adapter is None:
        raise TypeError(f"sparse attributions need an edgeattr adapter as forward_func, got {type(forward_func).__name__}")
    shape = (1, adapter.num_layers, adapter.edge_ids.numel()) if adapter.layerwise else (1, adapter.edge_ids.numel())
    with torch.enable_grad():
        ones = torch.ones(shape, dtype=adapter.dtype, device=adapter.device, requires_grad=True)
        output = adapter.forward_subgraph(ones)
        targets = predicted_targets(output.detach(), adapter.mode) if target is None else resolve_target(adapter, output, target)
        z = explained_output(output, targets)
        grad = torch.autograd.grad(z.sum(), ones, allow_unused=True)[0] if z.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(ones)
    rows, edge_ids = adapter.edge_segment, adapter.edge_ids
    if adapter.layerwise:
        layers = torch.arange(adapter.num_layers, device=adapter.device).repeat_interleave(edge_ids.numel())
        indices = torch.stack([rows.repeat(adapter.num_layers), layers, edge_ids.repeat(adapter.num_layers)])
        order = torch.argsort((indices[0] * adapter.num_layers + indices[1]) * adapter.num_edges + indices[2])
        indices, values = indices[:, order], grad[0].reshape(-1)[order]
        size: Tuple[int, ...] = (adapter.num_targets, adapter.num_layers, adapter.num_edges)
    else:
        indices, values, size = torch.stack([rows, edge_ids]), grad[0], (adapter.num_targets, adapter.num_edges)
    return torch.sparse_coo_tensor(indices, values, size, is_coalesced=True, check_invariants=False)


@dataclass
class MaskView:
    r"""Masks in the coordinates a forward function runs on.

    For an adapter these are the computation graphs' edges (``edge_ids``), so
    that methods perturbing many masks never build masks over all edges. With
    ``T`` targets, each row covers all targets: column ``k`` belongs to target
    ``edge_segment[k]``, and running ``C`` rows gives ``C * T`` output rows.

    Attributes:
        masks (Tensor): The masks, ``(C, ..., E_sub)``.
        run (Callable): Masks ``(n, ..., E_sub)`` to outputs ``(n * T, *out)``.
        remove (Callable): Bool keep-masks to outputs with edges deleted (a
            plain function cannot delete edges: it raises a :class:`TypeError`).
        edge_ids (Tensor): The edge id (column of the full mask) of each of the ``E_sub`` columns.
        message_edges (Tensor): Positions along ``E_sub`` whose messages reach their target's output.
        edge_segment (Tensor): The target of each column, ``(E_sub,)``.
        num_targets (int): ``T``.
        scatter (Callable): Values ``(C, ..., E_sub)`` to values over all edges ``(C * T, ..., E)``.
        message_layers (Tensor, optional): For layerwise masks, whether each column's message at each
            layer reaches its target's output, ``(L, E_sub)``; ``None``: ``message_edges`` at every layer.
    """

    masks: Tensor
    run: Callable[[Tensor], Tensor]
    remove: Callable[[Tensor], Tensor]
    edge_ids: Tensor
    message_edges: Tensor
    edge_segment: Tensor
    num_targets: int
    scatter: Callable[[Tensor], Tensor]
    message_layers: Optional[Tensor] = None

    def message_entries(self, shape: torch.Size) -> Tensor:
        r"""Flat positions in one mask of ``shape`` (``(E_sub,)`` or ``(L, E_sub)``) whose messages reach their target."""
        if self.message_layers is not None and len(shape) == 2:
            return self.message_layers.reshape(-1).nonzero().view(-1)
        return flat_entries(shape, self.message_edges)


def mask_view(forward_func: ForwardFunc, mask: Tensor) -> MaskView:
    r"""The masks ``(B, ..., E)`` in the coordinates ``forward_func`` runs on (see :class:`MaskView`)."""
    adapter = adapter_of(forward_func)
    if adapter is not None:
        return MaskView(
            adapter.compact(mask),
            adapter.forward_subgraph,
            adapter.remove_subgraph,
            adapter.edge_ids,
            adapter.message_edges,
            adapter.edge_segment,
            adapter.num_targets,
            adapter.expand,
            # Other implementations of the interface may not say which layer's messages reach the target.
            getattr(adapter, "message_layers", None),
        )
    every = torch.arange(mask.size(-1), device=mask.device)
    return MaskView(mask, forward_func, _cannot_remove, every, every, torch.zeros_like(every), 1, lambda values: values)


#: Why a plain function of edge masks cannot run with edges deleted.
REMOVAL_NEEDS_ADAPTER = "mode='remove' needs an edgeattr adapter as forward_func (it deletes edges)"


def _cannot_remove(keep: Tensor) -> Tensor:
    raise TypeError(REMOVAL_NEEDS_ADAPTER)


def flat_entries(shape: torch.Size, columns: Tensor) -> Tensor:
    r"""Flat indices into a tensor of ``shape`` of the given last-dimension columns, all rows."""
    rows = torch.arange(shape[:-1].numel(), device=columns.device) * shape[-1]
    return (rows.view(-1, 1) + columns.view(1, -1)).view(-1)

r"""Edge occlusion, at input level and per layer of the computation graph."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor

from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.attribution._common import (
    REMOVAL_NEEDS_ADAPTER,
    MaskView,
    Targets,
    TargetType,
    TensorOrTuple,
    check_forward_mask,
    checked_edges,
    explained_output,
    flat_entries,
    mask_view,
    pack,
    resolve_target,
    unpack,
)
from edgeattr.checks import checked_count

#: Upper bound on the mask entries built at once when ``perturbations_per_eval`` is not set.
MASK_ELEMENTS_PER_CHUNK = 1 << 22

MODES = ("message", "remove")


class EdgeOcclusion(PerturbationAttribution):
    r"""The drop of the explained logit when one edge is occluded.

    .. math::
        O_e = z(w) - z(w \text{ with } w_e = 0)
        \qquad\text{(layerwise: } O_{l,e} = z(W) - z(W \text{ with } W_{l,e} = 0)\text{)}

    Every entry of the mask is occluded in turn, and all occluded masks of a
    chunk run as disjoint graph copies in one forward pass. Only entries inside
    the adapter's computation graph are evaluated; the others are exactly 0.
    On a layerwise adapter this is layerwise occlusion.

    Mode ``'message'`` (the paper's) zeroes the edge's message; mode
    ``'remove'`` deletes the edge, which differs for degree-normalised, mean and
    attention aggregation (the inputs must then be 0/1 masks: zeros are edges
    already deleted).

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function
            of edge masks (mode ``'remove'`` needs an adapter, which deletes edges).
    """

    def __init__(self, forward_func: ForwardFunc) -> None:
        PerturbationAttribution.__init__(self, forward_func)

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        mode: str = "message",
        perturbations_per_eval: Optional[int] = None,
        additional_forward_args: Any = None,
        edges: Union[None, Tensor, Sequence[int]] = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Edge masks to occlude from, shape
                ``(B, E)`` or ``(B, L, E)``; usually ``forward_func.ones()``.
            target (int, list or Tensor, optional): Class explained per mask;
                ``None`` is the class predicted with all edges at weight 1.
            mode (str, optional): ``'message'`` or ``'remove'``. (default: ``'message'``)
            perturbations_per_eval (int, optional): Occluded masks per call of
                ``forward_func``. Default: as many as fit about four million
                mask entries (the adapter still chunks its forward passes).
            additional_forward_args: Must be ``None``; the adapter binds the graph.
            edges (Tensor or list[int], optional): Edge ids (columns of the
                mask) to occlude, in every layer; the other entries are returned
                as 0. Default: every edge. For a sample of a large computation graph.

        Returns:
            Tensor or tuple[Tensor]: :math:`O`, same shape and structure as ``inputs``.
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        return pack(self._attribute(mask, target, mode, perturbations_per_eval, edges), is_tuple)

    def _attribute(
        self, mask: Tensor, target: TargetType, mode: str, perturbations_per_eval: Optional[int], edges: Union[None, Tensor, Sequence[int]]
    ) -> Tensor:
        check_forward_mask(self.forward_func, mask)
        self._check_mode(mask, mode)
        perturbations_per_eval = checked_count("perturbations_per_eval", perturbations_per_eval)
        edge_ids = checked_edges(edges, mask.size(-1), mask.device)
        targets = resolve_target(self.forward_func, mask, target)
        view = mask_view(self.forward_func, mask)
        per_eval = perturbations_per_eval or max(1, MASK_ELEMENTS_PER_CHUNK // max(1, view.masks[0].numel()))
        num_targets = view.num_targets
        with torch.no_grad():
            result = torch.stack([
                self._occlude(view, index, targets[index * num_targets : (index + 1) * num_targets], mode, per_eval, edge_ids)
                for index in range(view.masks.size(0))
            ])
        return view.scatter(result)

    def _check_mode(self, mask: Tensor, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "remove":
            if adapter_of(self.forward_func) is None:
                raise TypeError(REMOVAL_NEEDS_ADAPTER)
            if not ((mask == 0) | (mask == 1)).all():
                raise ValueError("mode='remove' takes 0/1 masks (0 = edge deleted); use mode='message' for weighted masks")

    def _occlude(self, view: MaskView, index: int, targets: Targets, mode: str, per_eval: int, edge_ids: Optional[Tensor]) -> Tensor:
        """Occlusion of every entry of the mask ``view.masks[index]``, same shape.

        Each target's entries are occluded in turn, one entry of every target
        per occluded mask: the targets' computation graphs are disjoint, so
        occluded mask ``p`` gives the ``p``-th occlusion of each target.
        Entries that are already 0, and (mode 'message') entries whose message
        cannot reach the output, are exactly 0 and not evaluated.
        """
        shape = view.masks.shape[1:]
        flat = view.masks[index].reshape(-1)
        entries = view.message_entries(shape) if mode == "message" else flat_entries(shape, torch.arange(shape[-1], device=flat.device))
        if edge_ids is not None:
            entries = entries[torch.isin(view.edge_ids[entries % shape[-1]], edge_ids)]
        entries = entries[flat[entries] != 0]
        owner = view.edge_segment[entries % shape[-1]]
        owner, order = torch.sort(owner, stable=True)
        entries = entries[order]
        counts = torch.bincount(owner, minlength=view.num_targets)
        rank = torch.arange(entries.numel(), device=flat.device) - (torch.cumsum(counts, 0) - counts)[owner]
        result = torch.zeros_like(flat)
        base: Optional[Tensor] = None
        for first in range(0, int(counts.max()) if entries.numel() else 0, per_eval):
            chosen = (rank >= first) & (rank < first + per_eval)
            offset = first - (base is None)
            masks = flat.repeat(int(rank[chosen].max()) - offset + 1, 1)
            masks[rank[chosen] - offset, entries[chosen]] = 0
            masks = masks.view((masks.size(0),) + shape)
            output = view.remove(masks != 0) if mode == "remove" else view.run(masks)
            z = explained_output(output, targets.repeat(masks.size(0))).view(masks.size(0), view.num_targets)
            if base is None:
                base = z[0]
            result[entries[chosen]] = (base[owner[chosen]] - z[rank[chosen] - offset, owner[chosen]]).to(result.dtype)
        return result.view(shape)


class LayerwiseOcclusion(EdgeOcclusion):
    r"""Occlusion of each edge in each layer of the computation graph.

    .. math::
        O_{l,e} = z(\mathbf{1}) - z(W \text{ with } W_{l,e} = 0)

    For a linear GNN, :math:`z` is affine in each single :math:`W_{l,e}`, so
    :math:`O_{l,e}` equals the layerwise gradient :math:`G_{l,e}` exactly.
    Same options as :class:`EdgeOcclusion`; needs a layerwise adapter.

    Args:
        forward_func (AdapterInterface or Callable): A layerwise adapter
            (``layerwise=True``), or a function of layerwise masks ``(B, L, E)``.
    """

    def __init__(self, forward_func: ForwardFunc) -> None:
        adapter = adapter_of(forward_func)
        if adapter is not None and not adapter.layerwise:
            raise ValueError(
                "LayerwiseOcclusion needs a layerwise adapter: build it with layerwise=True "
                "(or use EdgeOcclusion for input-level occlusion)"
            )
        EdgeOcclusion.__init__(self, forward_func)

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        mode: str = "message",
        perturbations_per_eval: Optional[int] = None,
        additional_forward_args: Any = None,
        edges: Union[None, Tensor, Sequence[int]] = None,
    ) -> TensorOrTuple:
        r"""
        Args:
            inputs (Tensor or tuple[Tensor]): Layerwise masks ``(B, L, E)``;
                usually ``forward_func.ones()``.
            target, mode, perturbations_per_eval, additional_forward_args, edges:
                As in :meth:`EdgeOcclusion.attribute`.

        Returns:
            Tensor or tuple[Tensor]: :math:`O_{l,e}`, shape ``(B, L, E)``.
        """
        mask, is_tuple = unpack(inputs, additional_forward_args)
        if mask.dim() != 3:
            raise ValueError(f"LayerwiseOcclusion takes layerwise masks of shape (B, L, E), got {tuple(mask.shape)}")
        return pack(self._attribute(mask, target, mode, perturbations_per_eval, edges), is_tuple)


__all__ = ["EdgeOcclusion", "LayerwiseOcclusion"]

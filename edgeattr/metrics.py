r"""Comparing explanations: cosine similarity of masks, the sign-flip diagnostic, and ground-truth scores.

The ground-truth scores (:func:`roc_auc`, :func:`average_precision`,
:func:`precision_at_k`) live in :mod:`edgeattr.ground_truth`, the faithfulness
measures (:func:`fidelity`, :func:`characterization_score`,
:func:`unfaithfulness`, with :func:`hard_masks`) in :mod:`edgeattr.fidelity`.
"""

from __future__ import annotations

from typing import Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import EdgeMaskAdapter
from edgeattr.adapters.base.interface import ForwardFunc, adapter_of
from edgeattr.adapters.base.typed import EdgeType
from edgeattr.attribution._common import (
    MaskView,
    Targets,
    TargetType,
    checked_edges,
    explained_output,
    flat_entries,
    mask_view,
    resolve_target,
)
from edgeattr.checks import checked_count
from edgeattr.fidelity import characterization_score, fidelity, hard_masks, unfaithfulness
from edgeattr.ground_truth import average_precision, precision_at_k, roc_auc

#: Masks of a heterogeneous graph keyed by edge type, ``{edge type: (B, ..., E_t)}``.
MasksPerType = Mapping[EdgeType, Tensor]


def cosine_similarity(
    a: Union[Tensor, MasksPerType], b: Union[Tensor, MasksPerType], entries: Union[None, Tensor, MasksPerType] = None
) -> Tensor:
    r"""Cosine similarity of two batches of masks, the paper's comparison.

    .. math::
        \cos(a, b) = \frac{\langle a, b \rangle}{\lVert a \rVert \, \lVert b \rVert}

    taken per mask over all trailing dimensions; 0 where either mask is all zero.
    Masks of a heterogeneous graph may come as dicts keyed by edge type (an
    adapter's ``split``, a ``HeteroEdgeExplanation``'s or PyG
    ``HeteroExplanation``'s masks per type, each with a leading batch
    dimension): the similarity is then over the edges of every type
    together, matched by edge type whatever the order of the keys.

    Args:
        a (Tensor or dict): Masks of shape ``(B, ...)``, or ``{edge type: (B, ..., E_t)}``.
        b (Tensor or dict): Masks of the same shape (the same edge types and shapes).
        entries (Tensor or dict, optional): Edge ids (last dimension) to
            compare on, e.g. an adapter's ``edge_ids``; for dicts, edge ids
            per edge type, and a type left out is not compared. Default: all.

    Returns:
        Tensor of shape ``(B,)``.

    Example::

        >>> first, second = explain(model, x_dict, edge_index_dict, index=3), explain(..., method="edge_gradient")
        >>> cosine_similarity({t: m[None] for t, m in first.edge_mask_dict.items()},
        ...                   {t: m[None] for t, m in second.edge_mask_dict.items()})   # (1,)
    """
    a, b, entries = _flat_masks(a, b, entries)
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if entries is not None:
        a, b = a.index_select(-1, entries), b.index_select(-1, entries)
    a, b = a.reshape(a.size(0), -1).double(), b.reshape(b.size(0), -1).double()
    norms = a.norm(dim=1) * b.norm(dim=1)
    dots = (a * b).sum(1)
    return torch.where(norms > 0, dots / norms.clamp(min=torch.finfo(torch.float64).tiny), torch.zeros_like(dots))


def _flat_masks(
    a: Union[Tensor, MasksPerType], b: Union[Tensor, MasksPerType], entries: Union[None, Tensor, MasksPerType]
) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Both masks and the entries as tensors: dicts per edge type become one last dimension, type after type in ``a``'s order."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if entries is not None and not isinstance(entries, Tensor):
            raise TypeError("entries keyed by edge type need masks keyed by edge type; pass entries as a tensor of edge ids")
        return a, b, entries
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        raise TypeError("pass both masks as tensors or both as dicts keyed by edge type, got one of each")
    if set(a) != set(b):
        raise ValueError(f"the masks have different edge types: {sorted(set(a) ^ set(b), key=str)} are in only one of them")
    if entries is not None and not isinstance(entries, Mapping):
        raise TypeError("masks keyed by edge type take entries keyed by edge type, {edge type: edge ids}")
    types = [t for t in a if entries is None or t in entries]
    for t in types:
        if a[t].shape != b[t].shape or a[t].shape[:-1] != a[types[0]].shape[:-1]:
            raise ValueError(
                f"masks of edge type {t} have shapes {tuple(a[t].shape)} and {tuple(b[t].shape)}; every type needs "
                f"the same shape in both, with the same leading dimensions (B, ...) as the others"
            )
    if entries is not None:
        a, b = ({t: m[t].index_select(-1, entries[t]) for t in types} for m in (a, b))
    if not types:
        raise ValueError("no edge type to compare: the dicts are empty, or entries names none of their edge types")
    return torch.cat([a[t] for t in types], -1), torch.cat([b[t] for t in types], -1), None


#: The statistics :func:`sign_flips` computes: edgeattr's own (the default) and the paper's reference code's.
PROTOCOLS = ("edgeattr", "paper")

#: Default points of the sweep per protocol: 21 weights in [0, 1]; the reference's 20 parameters 0, 0.05, ..., 0.95.
DEFAULT_STEPS = {"edgeattr": 21, "paper": 20}


class SignFlips(NamedTuple):
    r"""Result of :func:`sign_flips`; what the fields hold depends on the protocol.

    Attributes:
        rate (float): ``protocol='edgeattr'``: the fraction of the swept edges
            whose gradient changes sign. ``protocol='paper'``: the number of
            flagged edges over the number of edges with a non-zero gradient at
            ``mask``, the reference's per-target rate (0 where no gradient is
            non-zero; it can exceed 1, since an edge whose gradient is 0 at
            ``mask`` is flagged where it becomes non-zero).
        flips (Tensor): ``'edgeattr'``: sign changes along the sweep per swept
            edge. ``'paper'``: the flag (0 or 1) of each compared edge.
            Shape ``(K,)``.
        entries (Tensor): Flat mask indices of the ``K`` edges ``flips`` is
            about: the swept edges (``'edgeattr'``), or every edge whose
            messages reach the target (``'paper'``: the reference compares the
            gradients of all edges at each point of the sweep of any one), ``(K,)``.
        gradients (Tensor): ``'edgeattr'``: :math:`\partial z / \partial w_e`
            at each weight of the sweep, ``(K, steps)``. ``'paper'``: the
            gradient :math:`\partial z / \partial w_e` at ``mask``, the signs
            the sweep is compared against, ``(K,)``; its non-zero entries are
            the denominator of ``rate``.
    """

    rate: float
    flips: Tensor
    entries: Tensor
    gradients: Tensor


def sign_flips(
    forward_func: ForwardFunc,
    mask: Tensor,
    target: TargetType = None,
    steps: Optional[int] = None,
    per_eval: Optional[int] = None,
    edges: Union[None, Tensor, Sequence[int], Mapping[EdgeType, Tensor]] = None,
    protocol: str = "edgeattr",
) -> SignFlips:
    r"""How often edge gradients change sign as an edge's weight sweeps an interval.

    ``protocol='edgeattr'`` (the default): for every swept entry :math:`e`,
    the mask is set to ``mask`` with :math:`w_e = t` for ``steps`` evenly
    spaced :math:`t \in [0, 1]`, and the number of sign changes of
    :math:`\partial z / \partial w_e` along the sweep is counted (exact zeros
    are skipped). Where the sign changes, the gradient-sign rule is not
    guaranteed to match GNNExplainer's optimum. ``rate`` is the fraction of
    swept entries with at least one change.

    ``protocol='paper'``: the statistic of the paper's reference code
    (``track_grads/tracking_gradients*.py``), which parameterises the mask as
    PyG's ``set_masks(..., apply_sigmoid=True)`` does, :math:`w = \sigma(p)`.
    The gradient :math:`g^0 = \partial z / \partial w` is taken at ``mask``
    itself (the reference: PyG's Captum explainer at a mask of ones). Then
    for every swept edge :math:`s` and parameter :math:`q = k / \text{steps}`,
    :math:`k = 0, \dots, \text{steps} - 1` (the reference: 20 points, 0 to
    0.95), the parameters are :math:`p = \text{mask}` with :math:`p_s = q`
    (so for a mask of ones every other edge weighs :math:`\sigma(1) \approx
    0.73`), and the gradient with respect to the parameters,
    :math:`g_e(s, q) = \partial z / \partial w_e \cdot \sigma'(p_e)`, of
    *every* edge :math:`e` whose messages reach the target is compared with
    :math:`g^0_e`. Edge :math:`e` is flagged,
    :math:`f_e = \bigvee_{s, q} [\operatorname{sign} g_e(s, q) \ne \operatorname{sign} g^0_e]`
    (a change to or from 0 counts), and

    .. math::
        \text{rate} = \frac{\sum_e f_e}{\lvert \{e : g^0_e \ne 0\} \rvert}.

    For a graph target (an adapter with ``task='graph'``) the reference flags
    reversals only, :math:`\lvert \operatorname{sign} g_e(s, q) - \operatorname{sign} g^0_e \rvert > 1`,
    and so does this protocol. An edge whose messages do not reach the target
    leaves the others' gradients as they are at the rest parameters
    (:math:`p = \text{mask}`), so sweeping any such edges costs one pass at
    the rest parameters. The paper reports, per cell, the mean of the rates
    over graphs, and on node tasks the flags of all test nodes over their
    non-zero gradients pooled.

    Args:
        forward_func (AdapterInterface or Callable): An adapter or any function of edge masks.
        mask (Tensor): One mask, shape ``(1, E)`` or ``(1, L, E)`` (``'paper'``: ``(1, E)``).
        target (int, optional): Class explained; ``None`` as in the methods.
        steps (int, optional): Points of the sweep. Default: 21 (``'edgeattr'``),
            20 (``'paper'``, the reference's).
        per_eval (int, optional): Swept masks per backward pass. Default: a
            graph adapter's ``copies_per_pass``, which bounds the memory
            autograd keeps for one backward pass; 1 for the adapters that
            run one mask per forward pass (heterographs, DGL blocks), where
            chunks would save no pass; 1024 for a plain function.
        edges (Tensor or dict, optional): Edge ids (columns of the mask) to
            sweep, e.g. a sample of a large computation graph; for a
            heterogeneous adapter also ``{edge type: edge ids within the
            type}``. Default: every edge whose messages reach the target
            (``'edgeattr'``); every edge of the graph (``'paper'``, as the
            reference does on graph tasks and WebKB; it samples 1000 on Cora
            and CiteSeer).
        protocol (str, optional): ``'edgeattr'`` or ``'paper'``. (default: ``'edgeattr'``)

    Returns:
        :class:`SignFlips`, with ``entries`` as flat indices into ``mask[0]``
        (for a heterogeneous adapter, positions in its mask: ``split`` keys
        them by edge type).

    Raises:
        ValueError: for an unknown ``protocol``, a mask of the wrong shape, or
            an adapter with several targets.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, got {protocol!r}")
    if mask.dim() < 2 or mask.size(0) != 1 or (protocol == "paper" and mask.dim() != 2):
        shapes = "(1, E), the paper's input-level mask" if protocol == "paper" else "(1, E) or (1, L, E)"
        raise ValueError(f"sign_flips with protocol={protocol!r} takes one mask of shape {shapes}, got {tuple(mask.shape)}")
    steps = checked_count("steps", steps, minimum=2) or DEFAULT_STEPS[protocol]
    per_eval = checked_count("per_eval", per_eval)
    edge_ids = checked_edges(_flat_edges(forward_func, edges), mask.size(-1), mask.device)
    adapter = adapter_of(forward_func)
    if adapter is not None and adapter.num_targets != 1:
        raise ValueError("sign_flips sweeps one target's edges: build the adapter with a single index")
    targets = resolve_target(forward_func, mask, target)
    view = mask_view(forward_func, mask.detach())
    per_eval = per_eval or _default_per_eval(forward_func)
    if protocol == "paper":
        reversals_only = getattr(adapter, "task", None) == "graph"
        return _paper_sign_flips(view, targets, edge_ids, mask.size(-1), steps, per_eval, reversals_only)
    flat = view.masks[0].reshape(-1)
    swept_edges = view.message_edges
    if edge_ids is not None:
        swept_edges = swept_edges[torch.isin(view.edge_ids[swept_edges], edge_ids)]
    examined = flat_entries(view.masks[0].shape, swept_edges)
    sweep_entries = examined.repeat_interleave(steps)
    sweep_weights = torch.linspace(0, 1, steps, dtype=flat.dtype, device=flat.device).repeat(examined.numel())
    grads = [grad[torch.arange(idx.numel(), device=idx.device), idx] for idx, _, grad in _swept_gradients(view, targets, flat, sweep_entries, sweep_weights, per_eval)]
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


def _paper_sign_flips(
    view: MaskView, targets: Targets, edge_ids: Optional[Tensor], num_edges: int, steps: int, per_eval: int, reversals_only: bool
) -> SignFlips:
    r"""The reference's flags and rate (see :func:`sign_flips`, ``protocol='paper'``) on the view of a ``(1, E)`` mask."""
    parameters = view.masks[0]  # p: the rest parameters, and the weights of the reference gradient g0
    compared = view.message_edges
    message_ids = view.edge_ids[compared]
    requested = torch.arange(num_edges, device=parameters.device) if edge_ids is None else edge_ids
    swept = compared[torch.isin(message_ids, requested)]
    if compared.numel() == 0:
        empty = compared.new_zeros(0)
        return SignFlips(0.0, empty, empty, parameters.new_zeros(0))
    # g0: the gradient at the mask itself (a sweep of one copy that sets an entry to its own value).
    first = compared[:1]
    ((_, _, at_mask),) = _swept_gradients(view, targets, parameters, first, parameters[first], 1)
    reference = at_mask[0, compared]
    sweep_entries = swept.repeat_interleave(steps)
    sweep_parameters = (torch.arange(steps, dtype=parameters.dtype, device=parameters.device) / steps).repeat(swept.numel())
    if not torch.isin(requested, message_ids).all():  # a swept edge the target does not see: the rest parameters once
        sweep_entries, sweep_parameters = torch.cat([sweep_entries, first]), torch.cat([sweep_parameters, parameters[first]])
    reference_signs = reference.sign()
    flags = torch.zeros_like(compared, dtype=torch.bool)
    for _, weights, grad in _swept_gradients(view, targets, parameters.sigmoid(), sweep_entries, sweep_parameters.sigmoid(), per_eval):
        # Chain rule through w = sigmoid(p): dz/dp = dz/dw * w * (1 - w).
        signs = (grad * weights * (1 - weights))[:, compared].sign()
        changed = (signs - reference_signs).abs() > 1 if reversals_only else signs != reference_signs
        flags |= changed.any(0)
    nonzero = int((reference != 0).sum())
    rate = float(flags.sum()) / nonzero if nonzero else 0.0
    return SignFlips(rate, flags.long(), message_ids, reference)


def _swept_gradients(
    view: MaskView, targets: Targets, rest: Tensor, entries: Tensor, weights: Tensor, per_eval: int
) -> Iterator[Tuple[Tensor, Tensor, Tensor]]:
    r"""Gradients :math:`\partial z / \partial w` at copies of the flat mask ``rest``, copy ``i``
    with entry ``entries[i]`` set to ``weights[i]``, ``per_eval`` copies per backward pass.

    Yields:
        tuple: Per chunk of ``n`` copies, the swept entries ``(n,)``, the swept
        masks ``(n, numel)`` and their gradients ``(n, numel)``.
    """
    if entries.numel() == 0:
        return
    for idx, weight in zip(entries.split(per_eval), weights.split(per_eval)):
        rows = torch.arange(idx.numel(), device=rest.device)
        with torch.enable_grad():
            swept = rest.reshape(1, -1).repeat(idx.numel(), 1)
            swept[rows, idx] = weight
            swept.requires_grad_(True)
            z = explained_output(view.run(swept.view((idx.numel(),) + view.masks.shape[1:])), targets.expand(idx.numel()))
            (grad,) = torch.autograd.grad(z.sum(), swept)
        yield idx, swept.detach(), grad


def _flat_edges(forward_func: ForwardFunc, edges: Union[None, Tensor, Sequence[int], Mapping[EdgeType, Tensor]]) -> Union[None, Tensor, Sequence[int]]:
    """Edges given per edge type as positions in a heterogeneous adapter's flat mask; anything else as it is."""
    if not isinstance(edges, Mapping):
        return edges
    adapter = adapter_of(forward_func)
    split = getattr(adapter, "split", None)
    if adapter is None or split is None:
        raise TypeError(
            "edges keyed by edge type need a heterogeneous adapter (PyGHeteroAdapter, DGLHeteroAdapter); "
            "pass edge ids as a tensor for this forward_func"
        )
    positions = split(torch.arange(adapter.num_edges, device=adapter.device))
    unknown = set(edges) - set(positions)
    if unknown:
        raise ValueError(f"edges names edge types {sorted(unknown, key=str)} that the adapter does not have; it has {list(positions)}")
    picked: List[Tensor] = []
    for edge_type, ids in edges.items():
        ids = torch.as_tensor(ids, dtype=torch.long).view(-1).cpu()
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < positions[edge_type].numel():
            raise ValueError(f"edges[{edge_type!r}] holds ids outside [0, {positions[edge_type].numel()})")
        picked.append(positions[edge_type][ids])
    return torch.cat(picked) if picked else torch.zeros(0, dtype=torch.long)


def _default_per_eval(forward_func: ForwardFunc) -> int:
    """Swept masks per backward pass: an adapter's copies per pass (1 for one that runs one mask per pass), else 1024."""
    if isinstance(forward_func, EdgeMaskAdapter):
        return getattr(forward_func, "copies_per_pass", 1)
    return 1024


__all__ = [
    "cosine_similarity",
    "sign_flips",
    "SignFlips",
    "PROTOCOLS",
    "roc_auc",
    "average_precision",
    "precision_at_k",
    "hard_masks",
    "fidelity",
    "characterization_score",
    "unfaithfulness",
]

r"""Node features as a second input of an adapter, beside the edge mask (``features=True``).

With ``features=True`` an adapter's forward function is :math:`f(w, X)`: row
:math:`b` of the mask :math:`w` ``(B, E)`` and row :math:`b` of the node
features :math:`X` ``(B, N, *F)`` run together, for target :math:`b \bmod T`.
This module says which argument of the model call :math:`X` replaces
(:func:`feature_slot`), checks :math:`X` (:func:`check_features`), and takes
each segment's rows out of its own row of :math:`X` (:func:`gather_rows`), as
:meth:`~edgeattr.adapters.base.EdgeMaskAdapter.compact` does for the mask, so
that autograd puts every gradient on the right node of the right row and
exact zeros on the nodes outside each target's computation subgraph.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import Tensor

from edgeattr.adapters.base.call import NODE, Key, Slot
from edgeattr.adapters.base.subgraph import Segments


def feature_slot(slots: List[Slot], features: bool, features_arg: Optional[Key]) -> Optional[Slot]:
    r"""The argument of the model call whose values the forward function takes as its second input.

    It is the node-level floating argument named by ``features_arg`` (a
    position or a name, as ``edge_index_arg`` names the graph), or else the
    only one there is.

    Args:
        slots (list[Slot]): The classified slots of the model call.
        features (bool): Whether node features are attributed (``features=True``).
        features_arg (int or str, optional): Position or name of the node features.

    Returns:
        Slot or None: The node features' slot; ``None`` without ``features``.

    Raises:
        ValueError: for ``features_arg`` without ``features``, a name that is
            no node-level floating argument, none such argument, or several
            without ``features_arg``.
    """
    if not features:
        if features_arg is not None:
            raise ValueError(f"features_arg={features_arg!r} names the node features to attribute: pass features=True too")
        return None
    candidates = [slot for slot in slots if slot.kind == NODE and slot.value.is_floating_point()]
    names = [_name(slot) for slot in candidates]
    if features_arg is not None:
        named = [slot for slot in slots if features_arg in (slot.key, slot.name)]
        if not named:
            raise ValueError(f"features_arg={features_arg!r} names no argument of the model call; its floating node-level arguments: {names}")
        if not any(named[0] is slot for slot in candidates):
            raise ValueError(
                f"features_arg={features_arg!r} names an argument that is not a floating tensor with one row per node; "
                f"the floating node-level arguments are {names}"
            )
        return named[0]
    if not candidates:
        raise ValueError(
            "features=True attributes the node features, but the model call has no floating argument with one row per "
            "node: pass the features as an argument of the model call (not only inside the graph object), "
            "or name it with node_args= where its size does not tell"
        )
    if len(candidates) > 1:
        raise ValueError(
            f"features=True: the model call has several floating node-level arguments, {names}; "
            f"name the one to attribute with features_arg=, e.g. features_arg={names[0]!r}"
        )
    return candidates[0]


def _name(slot: Slot) -> str:
    return str(slot.name or slot.key)


def check_features(x: Tensor, features: Tensor, rows: int, name: str) -> None:
    r"""Raises an error naming the problem and the fix if ``x`` does not fit the mask's rows.

    Args:
        x (Tensor): The node features of each mask, ``(B, N, *F)``.
        features (Tensor): The user's node features, ``(N, *F)``.
        rows (int): :math:`B`, the rows of the mask.
        name (str): The argument's name, for messages.
    """
    expected = (rows,) + tuple(features.shape)
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of node features {expected}, got {type(x).__name__}")
    if tuple(x.shape) != expected:
        raise ValueError(
            f"x must hold {name!r} once per mask row, shape {expected} (B = {rows} rows of the mask), got {tuple(x.shape)}; "
            f"adapter.inputs() gives the mask and the features at their values"
        )
    if not x.is_floating_point():
        raise TypeError(f"x must have a floating dtype, got {x.dtype}; use x.float()")
    if x.device != features.device:
        raise ValueError(f"x is on {x.device} but {name!r} is on {features.device}; use x.to({str(features.device)!r})")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf; explanations need finite features")


def repeated(features: Tensor, num_targets: int) -> Tensor:
    r"""The node features once per target, ``(T, N, *F)`` (a copy, so that Captum may set it to require grad)."""
    return features.unsqueeze(0).repeat((num_targets,) + (1,) * features.dim())


def gather_rows(x: Tensor, segments: Segments, num_targets: int) -> Tensor:
    r"""Node features over all nodes to node features over the segments' nodes.

    Args:
        x (Tensor): Shape ``(C * T, N, *F)``.
        segments (Segments): Every target's segment.
        num_targets (int): :math:`T`.

    Returns:
        Tensor of shape ``(C, N_u, *F)``: position ``k`` of row ``c`` is
        ``x[c * T + node_segment[k], nodes[k]]``.
    """
    if num_targets == 1:
        return x.index_select(1, segments.nodes)
    rounds = x.view((x.size(0) // num_targets, num_targets) + x.shape[1:])
    return rounds[:, segments.node_segment, segments.nodes]


r"""The model's own output, kept per (model, inputs), and the verdicts on an adapter's shortcuts.

An adapter runs a node target on its computation subgraph and ``B`` masks as
``B`` disjoint copies in one pass. Both shortcuts assume something of the
model (that it is local; that copies do not see each other) which a model may
break: a normalisation over all nodes, batch statistics, a global softmax.
The adapter checks them against the model's own output on the user's full
input, once per (model, inputs) (see :class:`~edgeattr.adapters.base.fingerprint.Snapshot`),
and keeps the verdict here, so that a loop over nodes pays for it once.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, List, Optional, Tuple, Type

import torch
from torch import Tensor

from edgeattr.adapters.base.fingerprint import Snapshot
from edgeattr.errors import InputModifiedError

#: PyG layers that pool over all nodes of a graph (of the whole input, without a ``batch`` vector).
POOLING_NORMS = ("GraphNorm", "PairNorm", "InstanceNorm", "GraphSizeNorm", "MeanSubtractionNorm")

#: Records kept per model: a loop over different inputs replaces the oldest.
RECORDS_PER_MODEL = 4


@dataclass
class Record:
    r"""The model's own output on one set of inputs, and the verdicts reached on them.

    Attributes:
        snapshot (Snapshot): The model and inputs it was computed on.
        output (Tensor): The model's output on the full input, detached.
        verdicts (dict): Check name -> ``None`` (the shortcut is exact) or
            the reason it is not.
    """

    snapshot: Snapshot
    output: Tensor
    verdicts: Dict[Hashable, Optional[str]] = field(default_factory=dict)


_lock = threading.Lock()
_records: "weakref.WeakKeyDictionary[torch.nn.Module, List[Record]]" = weakref.WeakKeyDictionary()


def record_for(model: torch.nn.Module, snapshot: Snapshot, own_output: Callable[[], Tensor]) -> Record:
    r"""The record of ``model`` on the inputs of ``snapshot``, computing the model's own output if it is new.

    Args:
        model (torch.nn.Module): The model.
        snapshot (Snapshot): The model and inputs as they are now.
        own_output (Callable): Runs the model on the user's full input.
    """
    with _lock:
        records = _records.setdefault(model, [])
        records[:] = [r for r in records if r.snapshot.alive()]
        for record in records:
            if record.snapshot.matches(snapshot):
                return record
    record = Record(snapshot, own_output())
    with _lock:
        records = _records.setdefault(model, [])
        records.append(record)
        del records[:-RECORDS_PER_MODEL]
    return record


def tolerance(reference: Tensor) -> float:
    r"""The largest difference from ``reference`` that counts as the same output.

    Summation order differs between the shortcuts and the model's own pass:
    :math:`10^{-4}` (float32), :math:`10^{-8}` (float64) or :math:`10^{-2}`
    (half precision) times the output's scale, :math:`\max(1, \max |y|)`.
    """
    relative = {torch.float64: 1e-8, torch.float32: 1e-4}.get(reference.dtype, 1e-2)
    scale = float(reference.abs().max()) if reference.numel() else 1.0
    return relative * max(1.0, scale)


def difference(output: Tensor, reference: Tensor) -> Optional[float]:
    r"""The largest absolute difference of ``output`` from ``reference`` if beyond :func:`tolerance`, else ``None``.

    Shapes that differ, and NaN where the reference has none, always differ.
    """
    if output.shape != reference.shape:
        return float("inf")
    gap = (output.to(reference.dtype) - reference).abs().nan_to_num(nan=float("inf"))
    largest = float(gap.max()) if gap.numel() else 0.0
    return largest if largest > tolerance(reference) else None


def not_reproduced(gap: float) -> str:
    r"""Why an adapter's pass at mask 1 on the whole input, ``gap`` away from the model's own output, cannot be explained exactly."""
    return (
        f"the model's output with every edge at weight 1 on its full input differs from its own output by {gap:.3g}: "
        f"it is not deterministic in eval mode (random numbers in forward), or its messages change in a way edgeattr "
        f"cannot see, so no explanation of it can be exact"
    )


def pooling_modules(model: torch.nn.Module, name_of: Callable[[torch.nn.Module], str]) -> List[str]:
    r"""Names of the modules of ``model`` known to mix nodes: PyG's graph normalisations and batch norms without running statistics."""
    found = []
    for module in model.modules():
        kind = type(module).__name__
        pools = kind in POOLING_NORMS or (kind == "LayerNorm" and getattr(module, "mode", None) == "graph")
        batch_statistics = isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.running_mean is None
        if pools or batch_statistics:
            found.append(f"{name_of(module)} ({kind})")
    return found


__all__ = ["Record", "record_for", "difference", "tolerance", "not_reproduced", "pooling_modules", "POOLING_NORMS"]


def shortcut_problem(
    run: Callable[[], Tensor], rows: Tensor, place: str, hint: str = "", refusals: Tuple[Type[BaseException], ...] = ()
) -> Optional[str]:
    r"""Why the rows a shortcut (a part of the graph per target) gives at mask 1 differ from the model's own, if they do.

    Args:
        run (Callable): Runs the shortcut at mask 1, returning its rows ``(T, *out)``.
        rows (Tensor): The model's own rows of the targets on the full input.
        place (str): Where the shortcut runs, for the message.
        hint (str): What to add to a difference (modules that may cause it).
        refusals (tuple): Errors that are raised as they are; any other error of
            the run, like a model that fails on a part of its graph, is a problem.
    """
    raised: Tuple[Type[BaseException], ...] = (InputModifiedError, *refusals)
    try:
        with torch.no_grad():
            out = run()
    except raised:
        raise
    except Exception as error:  # e.g. a model that reads all nodes' embeddings of its own
        first_line = (str(error).strip().splitlines() or [""])[0]
        return f"the model is not local: it fails on {place} ({type(error).__name__}: {first_line})"
    gap = difference(out, rows)
    if gap is None:
        return None
    return f"the model is not local: on {place} its output differs from its own on the full input by {gap:.3g}{hint}"


def together_masks(width: int, num_layers: int, layerwise: bool, copies: int, device: torch.device, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    r"""The masks that check copies run together: a seeded random mask, and the masks of a pass of ``copies`` copies.

    Returns:
        ``(random, masks)``: the random mask, ``(L, width)`` (``layerwise``) or
        ``(width,)``, and ``[1, random]`` for two copies, else ``[random]``.
        The seed is edgeattr's own generator's: torch's global one is left alone.
    """
    shape = (num_layers, width) if layerwise else (width,)
    random = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device, dtype)
    return random, torch.stack([torch.ones_like(random), random]) if copies == 2 else random[None]


def together_gap(together: Tensor, alone: Tensor, rows: Tensor, copies: int, num_targets: int) -> Optional[float]:
    r"""How far the rows of copies run together are from the same masks run alone, if they differ.

    Args:
        together (Tensor): The pass of :func:`together_masks`' ``masks`` over a unit of
            ``num_targets`` targets, ``(copies * num_targets, *out)``.
        alone (Tensor): The random mask run on the first target's part alone, ``(1, *out)``.
        rows (Tensor): The model's own rows of the targets.
    """
    first_random = (copies - 1) * num_targets
    gap = difference(together[first_random : first_random + 1], alone)
    if gap is None and copies == 2:
        gap = difference(together[:num_targets], rows[:num_targets])
    return gap

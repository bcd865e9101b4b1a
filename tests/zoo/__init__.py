"""The zoo: models written as PyG's and DGL's official examples write them, explained as those examples call them.

Each :class:`ZooCase` declares one model class, where it comes from, how its example calls it
and what edgeattr does with it: explains it exactly (``refused is None``) or refuses it with an
error that names the layer and says why (``refused`` is a part of that message). The zoo tests
(``test_pyg_zoo.py``, ``test_dgl_zoo.py``) check every declaration against an independent
reference, and README's "Supported layers" table is generated from the declarations
(``python -m tests.zoo.table --write``), so the table claims nothing the tests do not check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor


@dataclass
class Example:
    r"""One model, its inputs as its example passes them, and the references to check an explanation against.

    Args:
        model: The model, in eval mode, seeded.
        args, kwargs: The model call, exactly as the example makes it: ``model(*args, **kwargs)``.
        index: The explained output row (a node id, or a graph id for graph tasks).
        options: Further keywords of :func:`edgeattr.explain` (``task=``, ``mode=``, ``output=``, ...).
        reference_gradient: ``() -> (E,)``, :math:`\partial z / \partial w` at :math:`w = 1` for the
            predicted class :math:`z` of row ``index``, computed without edgeattr (PyG's
            ``set_masks``, a layer's own ``edge_weight`` / ``eweight``, or a closed form).
        without: ``(keep) -> Tensor``, the explained score :math:`z` with the input edges where
            ``keep`` is ``False`` deleted (the brute-force reference of occlusion), or ``None``
            where the model cannot run on a graph with edges deleted.
    """

    model: torch.nn.Module
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any]
    index: Optional[int]
    reference_gradient: Callable[[], Tensor]
    without: Optional[Callable[[Tensor], Tensor]] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ZooCase:
    r"""One model class of the zoo and what edgeattr does with it.

    Args:
        name: Unique id, ``'<framework>/<model>'``.
        framework: ``'PyG'`` or ``'DGL'``.
        layers: The layers the model is built from, as the table lists them.
        source: The example the model is written after (a path in PyG's or DGL's repository).
        call: How the example calls the model, e.g. ``'model(data.x, data.edge_index)'``.
        build: ``() -> Example``, seeded.
        refused: ``None`` if edgeattr explains the model exactly; else a part of the error it raises,
            which must also name the refused layer.
        notes: What a user should know, for the table.
        own_edges: Whether the model also passes messages along edges it builds in ``forward``
            (kept at weight 1). On a torch whose modes do not see indexing
            (``edgeattr.adapters.base.provenance.follows_indexing``) such a model is refused instead.
    """

    name: str
    framework: str
    layers: str
    source: str
    call: str
    build: Callable[[], Example]
    refused: Optional[str] = None
    notes: str = ""
    own_edges: bool = False

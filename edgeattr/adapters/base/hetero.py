r"""Adapters over graphs with several edge types: one flat mask, split per type."""

from __future__ import annotations

from abc import abstractmethod
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base.adapter import EdgeMaskAdapter, run_in_passes

#: An edge type as PyG and DGL name it: ``(source node type, relation, destination node type)``.
EdgeType = Tuple[str, str, str]


class HeteroAdapter(EdgeMaskAdapter):
    r"""An adapter whose mask holds the edges of every edge type, type after type.

    Entries ``offset_t .. offset_t + E_t - 1`` of a mask are the edges of type
    ``t`` in their own order (:meth:`split` and :meth:`join` convert). The
    whole graph runs, one mask per forward pass.
    """

    #: The edge types, in mask order.
    edge_types: List[EdgeType]

    def _set_edge_types(self, counts: Mapping[EdgeType, int], device: torch.device) -> None:
        r"""Lays the edge types out in the mask: ``counts`` maps each type to its number of edges."""
        self.edge_types = list(counts)
        sizes = [counts[t] for t in self.edge_types]
        self._offsets = dict(zip(self.edge_types, torch.tensor([0] + sizes).cumsum(0).tolist()))
        self._counts = dict(zip(self.edge_types, sizes))
        self.num_edges = sum(sizes)
        self.edge_ids = torch.arange(self.num_edges, device=device)
        self.message_edges = self.edge_ids

    def split(self, values: Tensor) -> Dict[EdgeType, Tensor]:
        r"""Keys the last dimension of ``values`` ``(..., E)`` by edge type: ``{edge type: (..., E_t)}``."""
        return {t: values[..., self._offsets[t] : self._offsets[t] + self._counts[t]] for t in self.edge_types}

    def join(self, values: Mapping[EdgeType, Tensor]) -> Tensor:
        r"""The inverse of :meth:`split`: one tensor ``(..., E)`` from per-type tensors ``(..., E_t)``."""
        missing = set(self.edge_types) - set(values)
        if missing:
            raise ValueError(f"values are missing edge types {sorted(missing, key=str)}")
        return torch.cat([values[t] for t in self.edge_types], -1)

    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        return run_in_passes(sub_mask, 1, keep, self._run)

    @abstractmethod
    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        r"""Runs the model once with ``weights`` (``(1, E)`` or ``(1, L, E)``) or the edges ``keep`` keeps."""

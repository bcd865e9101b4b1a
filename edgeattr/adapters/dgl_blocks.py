r"""Edge masks for DGL models run on sampled blocks, over the parent graph's edges."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base import CallCounter, EdgeMaskAdapter, Layer, MessageWeights, prepared, session_for
from edgeattr.adapters.base.adapter import run_in_passes
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.dgl import message_weighting
from edgeattr.errors import UnsupportedLayerError


class DGLBlockAdapter(EdgeMaskAdapter):
    r"""Edge masks for a DGL model called on sampled blocks (message-flow graphs).

    A neighbour sampler turns a parent graph into one block per layer; DGL
    records each block edge's parent edge id in ``block.edata[dgl.EID]``. The
    adapter runs ``model(blocks, *model_args, **model_kwargs)`` with every
    message weighted by the mask entry of its *parent* edge, so that masks and
    attributions are indexed by the parent graph's edge ids, as for
    :class:`~edgeattr.adapters.DGLAdapter` on the whole graph. A parent edge
    sampled into several blocks shares its input-level entry; layerwise masks
    have one row per message-passing call (usually one per block). Masks run
    one forward pass each: copies of blocks cannot be batched, since DGL
    models read a block's destination nodes as the first rows of its sources.

    Args:
        model (torch.nn.Module): The model, unchanged.
        blocks (list[dgl.DGLGraph]): The sampled blocks, first layer first.
        *model_args: Further positional arguments, e.g. the input features.
        index (int): Parent id of the seed node to explain; it must be a
            destination node of the last block.
        parent_graph (dgl.DGLGraph, optional): The graph the blocks were
            sampled from (gives the number of edges and nodes).
        num_edges (int, optional): The parent graph's edge count, if
            ``parent_graph`` is not passed.
        layerwise (bool, optional): One mask row per call. (default: ``False``)
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output. (default: ``True``)
        **model_kwargs: Keyword arguments of the model call.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        blocks: List[dgl.DGLGraph],
        *model_args: Any,
        index: int,
        parent_graph: Optional[dgl.DGLGraph] = None,
        num_edges: Optional[int] = None,
        layerwise: bool = False,
        mode: Optional[str] = None,
        verify: bool = True,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode)
        if not isinstance(blocks, (list, tuple)) or not blocks or not all(isinstance(b, dgl.DGLGraph) and b.is_block for b in blocks):
            raise TypeError("blocks must be a non-empty list of DGL blocks, as a neighbour sampler returns them")
        if any(dgl.EID not in b.edata for b in blocks):
            raise ValueError("every block needs its parent edge ids in block.edata[dgl.EID], as DGL's samplers store them")
        if parent_graph is not None and num_edges is None:
            self.num_edges = parent_graph.num_edges()
        elif parent_graph is None and num_edges is not None:
            self.num_edges = int(num_edges)
        else:
            raise ValueError("pass exactly one of parent_graph= (the sampled graph) or num_edges= (its edge count)")
        self.num_nodes = parent_graph.num_nodes() if parent_graph is not None else blocks[0].num_src_nodes()
        parent_ids = torch.cat([b.edata[dgl.EID] for b in blocks])
        if parent_ids.numel() and int(parent_ids.max()) >= self.num_edges:
            raise ValueError(f"the blocks hold parent edge ids up to {int(parent_ids.max())}, but the parent graph has {self.num_edges} edges")
        self.edge_ids = torch.unique(parent_ids)
        self.message_edges = torch.arange(self.edge_ids.numel(), device=self.edge_ids.device)
        seeds = blocks[-1].dstdata[dgl.NID]
        row = (seeds == index).nonzero().view(-1)
        if row.numel() != 1:
            raise IndexError(f"node {index} is not a seed of these blocks (the last block's destination nodes)")
        self.index, self._row = int(index), row
        self._blocks, self._args, self._kwargs = list(blocks), model_args, model_kwargs
        self.layers = self._discover()
        self.num_layers = len(self.layers)
        if verify:
            self._verify_whole_input(lambda: self._checked_output(model(self._blocks, *model_args, **model_kwargs), self._blocks)[self._row])

    @property
    def device(self) -> torch.device:
        return self._blocks[0].device

    def _input_tensors(self) -> Iterable[Tensor]:
        return (a for a in self._args if isinstance(a, Tensor))

    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        return run_in_passes(sub_mask, 1, keep, self._run)

    def _discover(self) -> List[Layer]:
        return discover_layers(lambda session: self._call(self._blocks, session), "the blocks")

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        blocks = self._blocks
        if keep is not None:
            if self.layerwise and self.num_layers != len(blocks):
                raise ValueError(
                    f"mode='remove' per layer removes edges from block l at layer l, but the model made "
                    f"{self.num_layers} calls on {len(blocks)} blocks; use mode='message'"
                )
            rows = keep[0] if self.layerwise else keep[0].expand(len(blocks), -1)
            blocks = [self._cut(block, row) for block, row in zip(blocks, rows)]
        session = session_for(weights, self.num_layers, self.edge_ids, self.edge_ids)
        out = self._call(blocks, session)
        session.finish()
        return out[self._row]

    def _call(self, blocks: List[dgl.DGLGraph], session: CallCounter) -> Tensor:
        def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> Tensor:
            if dgl.EID not in call_graph.edata:
                raise UnsupportedLayerError("it ran message passing on a graph without parent edge ids (dgl.EID)")
            return self._positions(call_graph.edata[dgl.EID])

        handler, routing = message_weighting(self.model, session, self._name_of, locate)
        with prepared(self.model, handler), routing:
            out = self.model(blocks, *self._args, **self._kwargs)
        return self._checked_output(out, blocks)

    @staticmethod
    def _checked_output(out: Any, blocks: List[dgl.DGLGraph]) -> Tensor:
        """The model's output, if it has one row per seed node."""
        if not isinstance(out, Tensor) or out.dim() == 0 or out.size(0) != blocks[-1].num_dst_nodes():
            raise ValueError(f"the model must return one row per seed node ({blocks[-1].num_dst_nodes()}), got {getattr(out, 'shape', type(out))}")
        return out

    def _positions(self, parent_ids: Tensor) -> Tensor:
        """Column of each parent edge id among ``edge_ids``."""
        return torch.searchsorted(self.edge_ids, parent_ids)

    def _cut(self, block: dgl.DGLGraph, keep: Tensor) -> dgl.DGLGraph:
        """The block without the edges whose parent edge ``keep`` drops."""
        kept = keep[self._positions(block.edata[dgl.EID])]
        src, dst = block.edges(order="eid")
        cut = dgl.create_block((src[kept], dst[kept]), num_src_nodes=block.num_src_nodes(), num_dst_nodes=block.num_dst_nodes(), device=block.device)
        for key, value in block.srcdata.items():
            cut.srcdata[key] = value
        for key, value in block.dstdata.items():
            cut.dstdata[key] = value
        for key, value in block.edata.items():
            cut.edata[key] = value[kept]
        return cut

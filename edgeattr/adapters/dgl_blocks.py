r"""Edge masks for DGL models run on sampled blocks, over the parent graph's edges."""

from __future__ import annotations

import functools
import numbers
from typing import Any, Iterable, List, Optional, Tuple, Union

import dgl
import torch
from torch import Tensor

from edgeattr.adapters.base import CallCounter, EdgeMaskAdapter, Layer, MessageWeights, prepared, session_for
from edgeattr.adapters.base.adapter import run_in_passes
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.base.verification import difference, not_reproduced
from edgeattr.adapters.dgl import message_weighting
from edgeattr.errors import UnsupportedLayerError, VerificationError
from edgeattr.modes import resolve_mode


class DGLBlockAdapter(EdgeMaskAdapter):
    r"""Edge masks for a DGL model called on sampled blocks (message-flow graphs).

    A neighbour sampler turns a parent graph into one block per layer; DGL
    records each block edge's parent edge id in ``block.edata[dgl.EID]``. The
    adapter runs ``model(blocks, *model_args, **model_kwargs)`` with every
    message weighted by the mask entry of its *parent* edge, so that masks and
    attributions are indexed by the parent graph's edge ids, as for
    :class:`~edgeattr.adapters.DGLAdapter` on the whole graph. A parent edge
    sampled into several blocks shares its input-level entry; layerwise masks
    have one row per message-passing call (usually one per block).

    ``index`` may be a 1-D tensor of ``T`` seeds: masks then have ``T`` rows,
    row ``r`` applying to seed ``r % T`` (``ones()`` is ``(T, E)``), and each
    seed's columns are the parent edges the blocks hold (``edge_ids``, once
    per seed). Every mask runs one forward pass over the whole blocks, of
    which the row of its seed is kept: copies of blocks cannot be batched,
    since DGL models read a block's destination nodes as the first rows of
    its sources, and a seed's part of the blocks would change every block's
    node numbering, which the model's features follow.

    **Link prediction** (``task='edge'``), as DGL's mini-batch link
    prediction writes it: ``model(blocks, x, pair_graph)`` scores the edges of
    a pair graph over the last block's destination nodes (as an edge data
    loader returns it), one output row per pair; ``index`` then names pair
    graph edge ids, and each pair's attribution is over the parent edges the
    blocks hold.

    Args:
        model (torch.nn.Module): The model, unchanged.
        blocks (list[dgl.DGLGraph]): The sampled blocks, first layer first.
        *model_args: Further positional arguments, e.g. the input features.
        index (int or Tensor): Parent id of the seed node to explain; it must
            be a destination node of the last block. A 1-D tensor of ``T``
            seeds gives ``T`` targets. For an edge task, the pair graph's
            edge id(s) of the explained pair(s).
        parent_graph (dgl.DGLGraph, optional): The graph the blocks were
            sampled from (gives the number of edges and nodes).
        num_edges (int, optional): The parent graph's edge count, if
            ``parent_graph`` is not passed.
        layerwise (bool, optional): One mask row per call. (default: ``False``)
        task (str, optional): ``'node'`` (a seed's output) or ``'edge'`` (a
            pair's score). Default: ``'edge'`` with ``pairs_arg``, else ``'node'``.
        pairs_arg (int or str, optional): Position among ``model_args`` or name
            among ``model_kwargs`` of the pair graph; default the one
            ``dgl.DGLGraph`` among them.
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output at every seed (one
            pass for all of them). (default: ``True``)
        features (bool, optional): ``True`` is refused with a
            :class:`ValueError` naming the alternative: the blocks' input
            features are not attributed here.
        **model_kwargs: Keyword arguments of the model call.

    Example::

        >>> fwd = DGLBlockAdapter(model, blocks, feat, index=7, parent_graph=g)
        >>> EdgeGradient(fwd).attribute(fwd.ones())                 # (1, g.num_edges())
        >>> many = DGLBlockAdapter(model, blocks, feat, index=seeds, parent_graph=g)
        >>> EdgeGradient(many).attribute(many.ones()).shape          # (len(seeds), g.num_edges())
    """

    _features_instead = (
        "at mask 1 the features' gradient is the model's own, so attribute feat with Captum on the model itself "
        "(e.g. captum.attr.Saliency of a function of feat that returns the seeds' rows)"
    )

    def __init__(
        self,
        model: torch.nn.Module,
        blocks: List[dgl.DGLGraph],
        *model_args: Any,
        index: Union[int, Tensor],
        parent_graph: Optional[dgl.DGLGraph] = None,
        num_edges: Optional[int] = None,
        layerwise: bool = False,
        task: Optional[str] = None,
        pairs_arg: Optional[Union[int, str]] = None,
        mode: Optional[str] = None,
        verify: bool = True,
        features: bool = False,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode, features=features)
        if task not in (None, "node", "edge"):
            raise ValueError(f"DGL blocks explain a seed node (task='node') or a scored pair (task='edge'), got task={task!r}")
        #: ``'node'`` or ``'edge'``.
        self.task = "edge" if task == "edge" or (task is None and pairs_arg is not None) else "node"
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
        #: The parent edges the blocks hold, sorted: one seed's columns.
        self._parents = torch.unique(parent_ids)
        if self.task == "edge":
            #: Rows of the model's output: one per pair (edge task) or per seed.
            self.num_rows = _pair_graph(model_args, model_kwargs, pairs_arg).num_edges()
            self.index, self.targets = _pair_ids(index, self.num_rows, blocks[0].device)
            self._rows = self.targets
        else:
            self.num_rows = blocks[-1].num_dst_nodes()
            self.index, self.targets, self._rows = _seeds(index, blocks[-1].dstdata[dgl.NID])
        self.num_targets = self.targets.numel()
        self.edge_ids = self._parents.repeat(self.num_targets)
        self.message_edges = torch.arange(self.edge_ids.numel(), device=self.edge_ids.device)
        self._blocks, self._args, self._kwargs = list(blocks), model_args, model_kwargs
        self.layers = self._discover()
        self.num_layers = len(self.layers)
        if verify:
            self._verify()

    @property
    def device(self) -> torch.device:
        return self._blocks[0].device

    @property
    def edge_segment(self) -> Tensor:
        return torch.arange(self.num_targets, device=self.device).repeat_interleave(self._parents.numel())

    def _input_tensors(self) -> Iterable[Tensor]:
        return (a for a in self._args if isinstance(a, Tensor))

    def _verify(self) -> None:
        r"""Checks that one pass at mask 1 reproduces the model's own output at every seed.

        Raises:
            ValueError: for a single output column without a mode.
            VerificationError: if the outputs differ.
        """
        with torch.no_grad(), prepared(self.model):
            own = self._checked_output(self.model(self._blocks, *self._args, **self._kwargs))[self._rows]
        resolve_mode(self.mode, own[0].numel())
        shape = (1, self.num_layers, self._parents.numel()) if self.layerwise else (1, self._parents.numel())
        with torch.no_grad():
            out = self._pass(torch.ones(shape, dtype=self.dtype, device=self.device), None)[self._rows]
        gap = difference(out, own)
        if gap is not None:
            raise VerificationError(not_reproduced(gap))

    def _batched(self, sub_mask: Tensor, *, keep: bool) -> Tensor:
        width, rows = self._parents.numel(), []
        for target in range(self.num_targets):
            run = functools.partial(self._run, target)
            rows.append(run_in_passes(sub_mask[..., target * width : (target + 1) * width], 1, keep, run))
        return torch.stack(rows, 1).reshape((sub_mask.size(0) * self.num_targets,) + rows[0].shape[1:])

    def _discover(self) -> List[Layer]:
        return discover_layers(lambda session: self._call(self._blocks, session), "the blocks")

    def _run(self, target: int, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        """Seed ``target``'s row under one mask over the blocks' parent edges, ``(1, *out)``."""
        return self._pass(weights, keep)[self._rows[target : target + 1]]

    def _pass(self, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        """The model's output at every seed of the blocks with message ``weights``, or the edges ``keep`` drops deleted."""
        blocks = self._blocks
        if keep is not None:
            if self.layerwise and self.num_layers != len(blocks):
                raise ValueError(
                    f"mode='remove' per layer removes edges from block l at layer l, but the model made "
                    f"{self.num_layers} calls on {len(blocks)} blocks; use mode='message'"
                )
            rows = keep[0] if self.layerwise else keep[0].expand(len(blocks), -1)
            blocks = [self._cut(block, row) for block, row in zip(blocks, rows)]
        session = session_for(weights, self.num_layers, self._parents, self._parents)
        out = self._call(blocks, session)
        session.finish()
        return out

    def _call(self, blocks: List[dgl.DGLGraph], session: CallCounter) -> Tensor:
        def locate(session: MessageWeights, call_graph: dgl.DGLGraph) -> Tensor:
            if dgl.EID not in call_graph.edata:
                raise UnsupportedLayerError("it ran message passing on a graph without parent edge ids (dgl.EID)")
            return self._positions(call_graph.edata[dgl.EID])

        handler, routing = message_weighting(self.model, session, self._name_of, locate)
        with prepared(self.model, handler), routing:
            out = self.model(blocks, *self._args, **self._kwargs)
        return self._checked_output(out)

    def _checked_output(self, out: Any) -> Tensor:
        """The model's output, if it has one row per seed node (one per pair of an edge task)."""
        if not isinstance(out, Tensor) or out.dim() == 0 or out.size(0) != self.num_rows:
            rows = "scored pair" if self.task == "edge" else "seed node"
            raise ValueError(f"the model must return one row per {rows} ({self.num_rows}), got {getattr(out, 'shape', type(out))}")
        return out

    def _positions(self, parent_ids: Tensor) -> Tensor:
        """Column of each parent edge id among one seed's columns."""
        return torch.searchsorted(self._parents, parent_ids)

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


def _seeds(index: Any, seeds: Tensor) -> Tuple[Union[int, Tensor], Tensor, Tensor]:
    """``index`` as given (an int, or a 1-D tensor of seeds), the seeds' ids ``(T,)`` and their rows among the last block's destination nodes."""
    given, ids = _ids(index, seeds.device, "a seed's node id", "a seed's node id (in the parent graph)")
    matches = ids.view(-1, 1) == seeds.long().view(1, -1)
    missing = ids[matches.sum(1) != 1]
    if missing.numel():
        raise IndexError(f"node {int(missing[0])} is not a seed of these blocks (the last block's destination nodes)")
    return given, ids, matches.long().argmax(1)


def _pair_graph(model_args: tuple, model_kwargs: dict, pairs_arg: Optional[Union[int, str]]) -> dgl.DGLGraph:
    """The pair graph of an edge task among the model's further arguments: ``pairs_arg``, else the one DGLGraph."""
    if pairs_arg is not None:
        found = [model_args[pairs_arg]] if isinstance(pairs_arg, int) and -len(model_args) <= pairs_arg < len(model_args) else (
            [model_kwargs[pairs_arg]] if pairs_arg in model_kwargs else []
        )
        if not found:
            raise ValueError(f"pairs_arg={pairs_arg!r} names no argument of the model call after the blocks")
    else:
        found = [value for value in (*model_args, *model_kwargs.values()) if isinstance(value, dgl.DGLGraph)]
        if len(found) != 1:
            raise ValueError(f"an edge task scores the edges of one pair graph; the model call holds {len(found)} graphs beside the blocks: name it with pairs_arg=")
    if not isinstance(found[0], dgl.DGLGraph) or found[0].is_block:
        raise ValueError(f"the pairs of an edge task on blocks are the edges of a pair graph (a dgl.DGLGraph), got {type(found[0]).__name__}")
    return found[0]


def _pair_ids(index: Any, num_pairs: int, device: torch.device) -> Tuple[Union[int, Tensor], Tensor]:
    """``index`` as given and as the pair graph's edge ids ``(T,)``, checked against its ``num_pairs`` edges."""
    given, ids = _ids(index, device, "a pair graph's edge id", "a pair graph's edge id")
    outside = ids[(ids < 0) | (ids >= num_pairs)]
    if outside.numel():
        raise IndexError(f"index {int(outside[0])} is out of range for a pair graph of {num_pairs} edges")
    return given, ids


def _ids(index: Any, device: torch.device, what: str, described: str) -> Tuple[Union[int, Tensor], Tensor]:
    """``index`` as given (an int, or a 1-D tensor of ids) and as ids ``(T,)`` on ``device``; ``what`` an id is, for messages.

    Raises:
        ValueError: for a tensor that is not a non-empty 1-D (or 0-D) integer tensor.
        TypeError: for anything but an integer or a tensor (``described`` in the message).
    """
    many = isinstance(index, Tensor) and index.dim() == 1
    if isinstance(index, Tensor):
        if index.is_floating_point() or index.dtype == torch.bool or index.dim() > 1 or (many and index.numel() == 0):
            raise ValueError(f"index must be {what} or a 1-D tensor of them, got a {index.dtype} tensor of shape {tuple(index.shape)}")
        ids = index.to(device, torch.long).view(-1)
    elif isinstance(index, numbers.Integral) and not isinstance(index, bool):
        ids = torch.tensor([int(index)], device=device)
    else:
        raise TypeError(f"index must be {described} or a 1-D tensor of them, got {index!r}")
    return (ids if many else int(ids[0])), ids

r"""Edge masks for heterogeneous PyG models (e.g. built with ``to_hetero``), keyed by edge type."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch
from torch import Tensor

from edgeattr.adapters.base import IN_ORDER, CallCounter, Layer, MessageWeights, align_messages, prepared, session_for
from edgeattr.adapters.base.hetero import EdgeType, HeteroAdapter
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.pyg import MessageWeighting, check_layers
from edgeattr.errors import UnsupportedLayerError


class PyGHeteroAdapter(HeteroAdapter):
    r"""Edge masks for a heterogeneous PyG model, as a Captum ``forward_func``.

    The model is called as ``model(x_dict, edge_index_dict, *model_args,
    **model_kwargs)``, the way models built with
    :func:`torch_geometric.nn.to_hetero` are. The mask is one tensor over all
    edges, edge type after edge type in the order of ``edge_index_dict`` and by
    column of ``edge_index_dict[edge_type]`` within a type, so that Captum sees
    a single input; :meth:`split` keys any mask or attribution by edge type and
    :meth:`join` builds one from such a dict.

    Every :class:`~torch_geometric.nn.conv.MessagePassing` call runs on one
    edge type (``to_hetero`` gives each relation its own copy of each layer)
    and is recognised by the ``edge_index`` tensor it propagates over; its
    messages are weighted by that type's entries, through PyG's message hooks
    as in :class:`~edgeattr.PyGAdapter`. Each call is one layer, in call order,
    so a two-layer model over three edge types has six layers; row ``l`` of a
    layerwise mask acts only on the edge type of call ``l``
    (``adapter.layers[l].name`` names it, e.g. ``'conv1.paper__cites__paper'``).
    Self-loops a layer adds itself keep weight 1. Masks run one forward pass
    each, on the whole graph.

    Args:
        model (torch.nn.Module): The model, unchanged.
        x_dict (dict): Node features per node type.
        edge_index_dict (dict): ``edge_index`` of shape ``(2, E_t)`` per edge
            type ``(src, relation, dst)``; one tensor object per type.
        *model_args: Further positional arguments of the model call.
        index (int, optional): The output row to explain: a node id of
            ``node_type`` (node task) or a graph id. Default: the only row.
        node_type (str, optional): For a model returning a dict of outputs per
            node type, the type of the explained node.
        layerwise (bool, optional): One mask row per message-passing call,
            shape ``(B, L, E)``. (default: ``False``)
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output. (default: ``True``)
        **model_kwargs: Keyword arguments of the model call. Dicts of
            tensors per edge type with one row per edge (e.g. the
            ``edge_attr`` of a ``to_hetero`` model) lose the rows of the
            edges :meth:`remove` deletes.

    Example::

        >>> model = to_hetero(GNN(), data.metadata())
        >>> fwd = PyGHeteroAdapter(model, data.x_dict, data.edge_index_dict, index=3, node_type='paper')
        >>> grads = fwd.split(EdgeGradient(fwd).attribute(fwd.ones())[0])   # {edge type: (E_t,)}
    """

    def __init__(
        self,
        model: torch.nn.Module,
        x_dict: Dict[str, Tensor],
        edge_index_dict: Dict[EdgeType, Tensor],
        *model_args: Any,
        index: Optional[int] = None,
        node_type: Optional[str] = None,
        layerwise: bool = False,
        mode: Optional[str] = None,
        verify: bool = True,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode)
        check_layers(model, self._name_of)
        self.x_dict = _checked_features(x_dict)
        self.edge_index_dict = _checked_edges(edge_index_dict, self.x_dict)
        self._set_edge_types({t: edge_index.size(1) for t, edge_index in self.edge_index_dict.items()}, self.device)
        self._type_of = {id(self.edge_index_dict[t]): t for t in self.edge_types}
        self.num_nodes = sum(x.size(0) for x in self.x_dict.values())
        self.index, self.node_type = index, node_type
        self._args, self._kwargs = model_args, model_kwargs
        self.layers: List[Layer] = discover_layers(
            lambda session: self._call(self.edge_index_dict, session), "the heterogeneous graph"
        )
        self.num_layers = len(self.layers)
        if verify:
            self._verify_whole_input(lambda: self._explained_row(model(self.x_dict, self.edge_index_dict, *model_args, **model_kwargs)))

    @property
    def device(self) -> torch.device:
        return next(iter(self.x_dict.values())).device

    def _input_tensors(self) -> Iterable[Tensor]:
        return self.x_dict.values()

    def _run(self, copies: int, weights: Optional[Tensor], keep: Optional[Tensor]) -> Tensor:
        edge_index_dict, kwargs = self.edge_index_dict, self._kwargs
        if keep is not None:
            if self.layerwise:
                raise ValueError("mode='remove' per layer is not supported on heterogeneous graphs; use mode='message'")
            kept = self.split(keep[0])
            edge_index_dict = {t: ei[:, kept[t]] for t, ei in edge_index_dict.items()}
            kwargs = {name: self._cut_edge_values(value, kept) for name, value in kwargs.items()}
        session = session_for(weights, self.num_layers, self.edge_ids, self.edge_ids)
        out = self._call(edge_index_dict, session, kwargs)
        session.finish()
        return out

    def _cut_edge_values(self, value: Any, kept: Dict[EdgeType, Tensor]) -> Any:
        """``value`` without the removed edges' rows, if it is a dict of edge features per edge type."""
        if not isinstance(value, dict):
            return value
        return {
            t: v[kept[t]] if t in kept and isinstance(v, Tensor) and v.dim() and v.size(0) == self._counts[t] else v
            for t, v in value.items()
        }

    def _weights_of(
        self, session: MessageWeights, layer: int, edge_index: Tensor, node_ids: Optional[Tensor], candidates: Optional[Tensor]
    ) -> Tensor:
        """The weights of call ``layer``: the mask entries of the edge type it propagates over (the rest: see ``WeightsOf``)."""
        edge_type = self._type_of.get(id(edge_index))
        if edge_type is None:
            edge_type, local = self._locate(edge_index, self.layers[layer])
        else:
            local = torch.arange(self._counts[edge_type], device=self.device)
        return session.weights_at(layer, torch.where(local >= 0, local + self._offsets[edge_type], local))

    def _locate(self, edge_index: Tensor, layer: Layer) -> Tuple[EdgeType, Tensor]:
        """The edge type and edge ids (``-1`` for self-loops the layer added) of a call over a derived edge_index.

        Only a relation between nodes of one type can gain self-loops, so only
        those are candidates; the messages must fit exactly one of them.
        """
        found = []
        for edge_type in self.edge_types:
            if edge_type[0] != edge_type[2]:
                continue
            ref = self.edge_index_dict[edge_type]
            try:
                local = align_messages(edge_index[0], edge_index[1], ref[0], ref[1])
            except UnsupportedLayerError:
                continue
            found.append((edge_type, torch.arange(ref.size(1), device=self.device) if local is IN_ORDER else local))
        if len(found) == 1:
            return found[0]
        why = (
            f"its messages fit the edges of several edge types {[t for t, _ in found]}"
            if found
            else "it propagated over an edge_index that is none of edge_index_dict's tensors (nor one with "
            "self-loops added), so its messages cannot be matched to an edge type"
        )
        raise UnsupportedLayerError(f"layer '{layer.name}' ({type(layer.module).__name__}) is not supported: {why}")

    def _call(self, edge_index_dict: Dict[EdgeType, Tensor], session: CallCounter, kwargs: Optional[dict] = None) -> Tensor:
        """Runs the model on ``edge_index_dict`` (the bound one, or one with edges removed: then unweighted)."""
        handler = MessageWeighting(session, self._name_of, self._weights_of)
        with prepared(self.model, handler):
            out = self.model(self.x_dict, edge_index_dict, *self._args, **(self._kwargs if kwargs is None else kwargs))
        return self._explained_row(out)

    def _explained_row(self, out: Any) -> Tensor:
        """The explained row ``(1, *out)`` of the model's output (of ``node_type``, for a dict of outputs)."""
        if isinstance(out, dict):
            if self.node_type not in out:
                raise ValueError(f"the model returns outputs per node type {sorted(out)}: pass node_type= and index=")
            out = out[self.node_type]
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor or a dict of Tensors, got {type(out).__name__}")
        if self.index is None:
            if out.size(0) != 1:
                raise ValueError(f"the model returned {out.size(0)} rows: pass index= for the one to explain")
            return out[:1]
        if not 0 <= self.index < out.size(0):
            raise IndexError(f"index {self.index} is out of range for an output of {out.size(0)} rows")
        return out[self.index : self.index + 1]


def _checked_features(x_dict: Any) -> Dict[str, Tensor]:
    if not isinstance(x_dict, dict) or not x_dict or not all(isinstance(x, Tensor) for x in x_dict.values()):
        raise TypeError("x_dict must be a non-empty dict of node features per node type, e.g. data.x_dict")
    return x_dict


def _checked_edges(edge_index_dict: Any, x_dict: Dict[str, Tensor]) -> Dict[EdgeType, Tensor]:
    if not isinstance(edge_index_dict, dict) or not edge_index_dict:
        raise TypeError("edge_index_dict must be a non-empty dict of edge_index per edge type, e.g. data.edge_index_dict")
    seen: Dict[int, EdgeType] = {}
    for edge_type, edge_index in edge_index_dict.items():
        if not (isinstance(edge_type, tuple) and len(edge_type) == 3):
            raise ValueError(f"edge types must be (src, relation, dst) tuples, got {edge_type!r}")
        if not (isinstance(edge_index, Tensor) and edge_index.dim() == 2 and edge_index.size(0) == 2 and not edge_index.is_floating_point()):
            raise ValueError(f"edge_index_dict[{edge_type!r}] must be an integer tensor of shape (2, E), got {edge_index!r}")
        if id(edge_index) in seen:
            raise ValueError(
                f"edge types {seen[id(edge_index)]} and {edge_type} share one edge_index tensor, so their messages "
                f"cannot be told apart; pass a copy for each (edge_index.clone())"
            )
        seen[id(edge_index)] = edge_type
        for node_type, row in ((edge_type[0], 0), (edge_type[2], 1)):
            if node_type not in x_dict:
                raise ValueError(f"edge type {edge_type} names node type {node_type!r}, which x_dict lacks")
            if edge_index.numel() and (edge_index[row].min() < 0 or edge_index[row].max() >= x_dict[node_type].size(0)):
                raise ValueError(f"edge_index_dict[{edge_type!r}] holds {node_type!r} ids outside [0, {x_dict[node_type].size(0)})")
    return edge_index_dict

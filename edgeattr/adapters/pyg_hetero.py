r"""Edge masks for heterogeneous PyG models (e.g. built with ``to_hetero``), keyed by edge type."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from edgeattr.adapters.base import IN_ORDER, CallCounter, MessageWeights, align_messages, prepared
from edgeattr.adapters.base.fingerprint import snapshot_objects
from edgeattr.adapters.base.hetero import HeteroAdapter
from edgeattr.adapters.base.messages import discover_layers
from edgeattr.adapters.base.prepared import Handler, Handlers
from edgeattr.adapters.base.typed import EdgeType, Parts, cut_typed, whole_parts
from edgeattr.adapters.pyg import MessageWeighting, check_layers
from edgeattr.errors import UnsupportedLayerError


class PyGHeteroAdapter(HeteroAdapter):
    r"""Edge masks for a heterogeneous PyG model, as a Captum ``forward_func``.

    The model is called as ``model(x_dict, edge_index_dict, *model_args,
    **model_kwargs)``, the way models built with
    :func:`torch_geometric.nn.to_hetero` and PyG's heterogeneous examples are.
    The mask is one tensor over all edges, edge type after edge type in the
    order of ``edge_index_dict`` and by column of ``edge_index_dict[edge_type]``
    within a type, so that Captum sees a single input; :meth:`split` keys any
    mask or attribution by edge type and :meth:`join` builds one from such a dict.

    Every :class:`~torch_geometric.nn.conv.MessagePassing` call is one layer,
    in call order, and its messages are weighted through PyG's message hooks
    as in :class:`~edgeattr.PyGAdapter`. A call is matched to its edges by the
    ``edge_index`` it propagates over:

    * one of the tensors of ``edge_index_dict`` (``to_hetero`` and
      ``HeteroConv`` give each relation its own copy of each layer): that
      type's entries, in order;
    * one of them with self-loops the layer adds (those keep weight 1);
    * several of them one after another, each shifted by node offsets of its
      own: :class:`~torch_geometric.nn.conv.HGTConv` concatenates every edge
      type into one bipartite ``edge_index``
      (``torch_geometric.utils.hetero.construct_bipartite_edge_index``) and
      propagates once, so message :math:`m` of block :math:`t` is edge
      :math:`m - \mathrm{start}_t` of type :math:`t`. The blocks are found by
      their columns (each must equal its type's ``edge_index`` plus one source
      and one destination offset, the offsets of one side either equal for one
      node type or their ranges disjoint); an arrangement that is not the only
      one is refused.

    Row ``l`` of a layerwise mask acts only on the edges of call ``l``
    (``adapter.layers[l].name`` names it, e.g. ``'conv1.paper__cites__paper'``;
    calls of one module forward over other edges share a row, ``layer.row``,
    as in :class:`~edgeattr.PyGAdapter`).

    ``index`` may be a 1-D tensor of ``T`` node ids: masks then have ``T``
    rows, row ``r`` applying to target ``r % T`` (``ones()`` is ``(T, E)``).
    Where the explained output has one row per node of one node type (the
    entry ``node_type`` of a dict output, or a tensor with as many rows as
    nodes of exactly one type, or of ``node_type``), each target runs on its
    computation subgraph over every edge type, and many masks and targets as
    disjoint copies of those in one pass; both are verified once per model and
    inputs against the model's own output, and where either differs a
    :class:`~edgeattr.FallbackWarning` says so and every target runs alone on
    the whole graph, one mask per pass (see :mod:`edgeattr.adapters.base.hetero`).

    Args:
        model (torch.nn.Module): The model, unchanged.
        x_dict (dict): Node features per node type.
        edge_index_dict (dict): ``edge_index`` of shape ``(2, E_t)`` per edge
            type ``(src, relation, dst)``; one tensor object per type.
        *model_args: Further positional arguments of the model call.
        index (int or Tensor, optional): The output row to explain: a node id
            of ``node_type`` (node task) or a graph id; a 1-D tensor of ``T``
            ids gives ``T`` targets. Default: the only row. For a link
            predictor called with ``edge_label_index`` (one score per pair, as
            PyG's heterogeneous link-prediction example), the pair's column;
            its rows are no node type's, so every pair runs on the whole
            graph, one mask per pass (exact, not restricted).
        node_type (str, optional): For a model returning a dict of outputs per
            node type, the type of the explained node (for a tensor output, the
            node type of its rows, where their number does not tell).
        layerwise (bool, optional): One mask row per message-passing call,
            shape ``(B, L, E)``. (default: ``False``)
        restrict (bool, optional): Run each target on its computation
            subgraph, masks as copies, where verified. (default: ``True``)
        copies_per_pass (int, optional): Masks (times targets of a group) run
            per forward pass. Default: as many as fit :math:`2^{24}` input values.
        mode (str, optional): What the output means (see :mod:`edgeattr.modes`);
            required for a single output column.
        verify (bool, optional): Check once that a pass with every edge at
            weight 1 reproduces the model's own output, and the shortcuts
            against it; ``False`` runs every target on the whole graph, one mask
            per pass, unchecked. (default: ``True``)
        features (bool, optional): ``True`` is refused with a
            :class:`ValueError` naming the alternative: node features are
            attributed on homogeneous graphs (:class:`~edgeattr.PyGAdapter`).
        **model_kwargs: Keyword arguments of the model call. Dicts of
            tensors per edge type with one row per edge (e.g. the
            ``edge_attr`` of a ``to_hetero`` model) follow the edges, and dicts
            per node type with one row per node follow the nodes, into
            subgraphs and copies, and lose the rows of the edges :meth:`remove`
            deletes.

    Example::

        >>> model = to_hetero(GNN(), data.metadata())
        >>> fwd = PyGHeteroAdapter(model, data.x_dict, data.edge_index_dict, index=3, node_type='paper')
        >>> grads = fwd.split(EdgeGradient(fwd).attribute(fwd.ones())[0])   # {edge type: (E_t,)}
        >>> many = PyGHeteroAdapter(model, data.x_dict, data.edge_index_dict, index=torch.arange(8), node_type='paper')
        >>> EdgeGradient(many).attribute(many.ones()).shape                 # (8, E)
    """

    _type_keyword = "node_type"
    _graphs = "heterogeneous graphs"
    _infers_row_type = True
    _features_instead = "attribute x_dict with PyG's CaptumExplainer (node_mask_type='attributes'), which takes heterogeneous inputs"

    def __init__(
        self,
        model: torch.nn.Module,
        x_dict: Dict[str, Tensor],
        edge_index_dict: Dict[EdgeType, Tensor],
        *model_args: Any,
        index: Union[None, int, Tensor] = None,
        node_type: Optional[str] = None,
        layerwise: bool = False,
        restrict: bool = True,
        copies_per_pass: Optional[int] = None,
        mode: Optional[str] = None,
        verify: bool = True,
        features: bool = False,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(model, layerwise=layerwise, mode=mode, features=features)
        check_layers(model, self._name_of)
        self.x_dict = _checked_features(x_dict)
        self.edge_index_dict = _checked_edges(edge_index_dict, self.x_dict)
        self.node_type = node_type
        self._args, self._kwargs = model_args, model_kwargs
        #: How each call derived its edge_index, where not one of edge_index_dict's tensors (see ``_locate``).
        self._forms: Dict[int, Tuple[str, Any]] = {}
        self._set_edge_types({t: edge_index.size(1) for t, edge_index in self.edge_index_dict.items()}, self.device)
        self._set_index(index)
        whole = whole_parts(self._layout, self.targets, None)
        self._set_layers(discover_layers(lambda session: self._run_parts(whole, session), "the heterogeneous graph"))
        self._bind(verify=verify, restrict=restrict, copies_per_pass=copies_per_pass)

    @property
    def device(self) -> torch.device:
        return next(iter(self.x_dict.values())).device

    def _input_tensors(self) -> Iterable[Tensor]:
        return self.x_dict.values()

    # -- the heterogeneous graph ---------------------------------------------------------------

    def _node_counts(self) -> Dict[str, int]:
        return {node_type: x.size(0) for node_type, x in self.x_dict.items()}

    def _typed_edges(self) -> Dict[EdgeType, Tuple[Tensor, Tensor]]:
        return {t: (edge_index[0], edge_index[1]) for t, edge_index in self.edge_index_dict.items()}

    def _row_key(self) -> Optional[str]:
        return self.node_type

    def _snapshot_objects(self) -> Iterable[Tuple[Any, tuple]]:
        return snapshot_objects([("x_dict", self.x_dict), ("edge_index_dict", self.edge_index_dict), ("args", self._args), ("kwargs", self._kwargs)])

    def _element_sizes(self) -> Tuple[int, int]:
        widths = [x[0].numel() for x in self.x_dict.values() if x.dim() and x.size(0)]
        return max([1] + widths), 1

    def _inputs(self, parts: Parts) -> Tuple[Dict[str, Tensor], Dict[EdgeType, Tensor], tuple, Dict[str, Any]]:
        """The model's arguments on ``parts``: the user's own for the whole graph, else the pass's nodes and edges."""
        if parts.whole and parts.all_edges:
            return self.x_dict, self.edge_index_dict, self._args, self._kwargs
        layout = self._layout
        edge_index_dict = {t: torch.stack([parts.src[t], parts.dst[t]]).to(ei.dtype) for t, ei in self.edge_index_dict.items()}
        args = tuple(cut_typed(value, parts, layout) for value in self._args)
        kwargs = {name: cut_typed(value, parts, layout) for name, value in self._kwargs.items()}
        return cut_typed(self.x_dict, parts, layout), edge_index_dict, args, kwargs

    # -- running the model ---------------------------------------------------------------------

    def _own_call(self) -> Any:
        return self.model(self.x_dict, self.edge_index_dict, *self._args, **self._kwargs)

    def _run_parts(self, parts: Parts, session: CallCounter, observer: Optional[Handler] = None) -> Any:
        x_dict, edge_index_dict, args, kwargs = self._inputs(parts)
        type_of = {id(edge_index): t for t, edge_index in edge_index_dict.items()}
        counts = {node_type: x.size(0) for node_type, x in x_dict.items()}

        def weights_of(weights: MessageWeights, layer: int, edge_index: Tensor, node_ids: Optional[Tensor], candidates: Optional[Tensor]) -> Tensor:
            # node_ids and candidates (pooled graphs, a relation argument) concern homogeneous graphs: a call here
            # is matched to its edge types by the edge_index it propagates over.
            edge_type = type_of.get(id(edge_index))
            if edge_type is not None:
                self._note_types(layer, [edge_type])
                return weights.weights_at(layer, parts.positions[edge_type])
            pieces = self._locate(edge_index, layer, edge_index_dict, counts)
            self._note_types(layer, [t for t, _ in pieces])
            return weights.weights_at(layer, _positions(pieces, parts))

        handler: Handler = MessageWeighting(session, self._name_of, weights_of)
        with prepared(self.model, handler if observer is None else Handlers([handler, observer])):
            return self.model(x_dict, edge_index_dict, *args, **kwargs)

    def _locate(self, edge_index: Tensor, layer: int, edge_index_dict: Dict[EdgeType, Tensor], counts: Dict[str, int]) -> List[Piece]:
        """The edges of each message of a call over a derived ``edge_index``: pieces ``(edge type, edge ids or None)``.

        The call's form on the first pass that weighted it (one relation with
        self-loops the layer adds, or a concatenation of relations) is tried
        first; otherwise every form, and the messages must fit exactly one.
        """
        known = self._forms.get(layer)
        if known is not None:
            pieces = _pieces_of(known, edge_index, edge_index_dict, counts)
            if pieces is not None:
                return pieces
        found = _forms(edge_index, edge_index_dict, counts)
        if len(found) == 1:
            self._forms.setdefault(layer, found[0][0])
            return found[0][1]
        module = self.layers[layer].module
        why = (
            f"its messages fit the edges of several edge types or arrangements of them ({', '.join(_named(form) for form, _ in found)})"
            if found
            else "it propagated over an edge_index that is none of edge_index_dict's tensors, nor one with self-loops "
            "added, nor several of them one after another with node offsets per type (as HGTConv builds it), so its "
            "messages cannot be matched to an edge type"
        )
        raise UnsupportedLayerError(f"layer '{self.layers[layer].name}' ({type(module).__name__}) is not supported: {why}")


#: The edges of part of a call's messages: an edge type and the edge id of each message (``-1``: a
#: self-loop the layer added), or ``None`` for every edge of that type in order.
Piece = Tuple[EdgeType, Optional[Tensor]]


def _positions(pieces: List[Piece], parts: Parts) -> Tensor:
    """The mask positions in ``parts`` of the messages the pieces describe, one after another (``-1``: weight 1)."""
    out = [torch.zeros(0, dtype=torch.long, device=parts.rows.device)]
    for edge_type, local in pieces:
        positions = parts.positions[edge_type]
        out.append(positions if local is None else torch.where(local >= 0, positions[local.clamp(min=0)], local))
    return torch.cat(out)


def _forms(edge_index: Tensor, edge_index_dict: Dict[EdgeType, Tensor], counts: Dict[str, int]) -> List[Tuple[Tuple[str, Any], List[Piece]]]:
    """Every form the messages of ``edge_index`` fit, with their pieces; forms that give the same pieces count once."""
    found: List[Tuple[Tuple[str, Any], List[Piece]]] = []
    candidates: List[Tuple[str, Any]] = [("loops", t) for t in edge_index_dict if t[0] == t[2]]
    order = concatenation(edge_index, edge_index_dict, counts)
    if order is not None:
        candidates.append(("concatenated", order))
    for form in candidates:
        pieces = _pieces_of(form, edge_index, edge_index_dict, counts)
        if pieces is not None and not any(_same(pieces, other) for _, other in found):
            found.append((form, pieces))
    return found


def _pieces_of(form: Tuple[str, Any], edge_index: Tensor, edge_index_dict: Dict[EdgeType, Tensor], counts: Dict[str, int]) -> Optional[List[Piece]]:
    """The pieces of ``edge_index`` in ``form``, or ``None`` if it does not fit it."""
    kind, value = form
    if kind == "concatenated":
        return [(t, None) for t in value] if concatenation(edge_index, edge_index_dict, counts, value) is not None else None
    ref = edge_index_dict[value]
    try:
        local = align_messages(edge_index[0], edge_index[1], ref[0], ref[1])
    except UnsupportedLayerError:
        return None
    return [(value, None if local is IN_ORDER else local)]


def _same(pieces: List[Piece], other: List[Piece]) -> bool:
    """Whether two lists of pieces weight the same messages by the same edges."""
    def expanded(p: List[Piece]) -> List[Tuple[EdgeType, Optional[Tensor]]]:
        return [(t, local) for t, local in p if local is None or local.numel()]

    a, b = expanded(pieces), expanded(other)
    return len(a) == len(b) and all(
        ta == tb and (la is None and lb is None or la is not None and lb is not None and torch.equal(la, lb)) for (ta, la), (tb, lb) in zip(a, b)
    )


def _named(form: Tuple[str, Any]) -> str:
    kind, value = form
    return f"{value} with self-loops" if kind == "loops" else "the concatenation of " + " then ".join(str(t) for t in value)


def concatenation(
    edge_index: Tensor, edge_index_dict: Dict[EdgeType, Tensor], counts: Dict[str, int], order: Optional[List[EdgeType]] = None
) -> Optional[List[EdgeType]]:
    r"""The edge types whose edges make up the columns of ``edge_index`` one type after another, each shifted by node offsets.

    This is the ``edge_index`` of :func:`torch_geometric.utils.hetero.construct_bipartite_edge_index`
    (HGTConv): the columns of type :math:`t` are ``edge_index_dict[t] + (a_t, b_t)``,
    with :math:`a_t` the offset of its source nodes and :math:`b_t` that of its
    destination nodes. On each side the offsets must place the node ranges
    :math:`[a_t, a_t + N_{\mathrm{src}(t)})` either at the same offset for the
    same node type or apart; types without edges have no columns. A copy of
    one type's ``edge_index`` (one block, no offsets) is not taken for one.

    Args:
        edge_index (Tensor): The call's ``edge_index``, ``(2, M)``.
        edge_index_dict (dict): The pass's edges per type.
        counts (dict[str, int]): Nodes per node type in the pass.
        order (list[EdgeType], optional): Check this arrangement only.

    Returns:
        The edge types with edges, in the order of their blocks; ``None`` if
        no arrangement fits (or ``order`` does not).

    Raises:
        UnsupportedLayerError: if several arrangements fit, which the endpoints cannot tell apart.
    """
    blocks = _Blocks(edge_index, edge_index_dict, counts)
    if order is not None:
        return order if blocks.fit(order) else None
    # One type's edges without offsets are a copy of that edge_index, not a concatenation: refused as before.
    found = [types for types in blocks.search(0, (), 3) if not (len(types) == 1 and blocks.shift(types[0], 0) == (0, 0))]
    if len(found) > 1:
        raise UnsupportedLayerError(
            f"its messages fit several arrangements of the edge types ({found[0]} and {found[1]}), which their endpoints cannot tell apart"
        )
    return found[0] if found else None


class _Blocks:
    """The columns of a call's edge_index tried against each edge type's edges, block by block (see :func:`concatenation`)."""

    def __init__(self, edge_index: Tensor, edge_index_dict: Dict[EdgeType, Tensor], counts: Dict[str, int]) -> None:
        self.edge_index = edge_index.long()
        self.total = edge_index.size(1)
        self.refs = {t: ei.long() for t, ei in edge_index_dict.items() if ei.size(1)}
        self.counts = counts
        self._shifts: Dict[Tuple[EdgeType, int], Optional[Tuple[int, int]]] = {}

    def shift(self, edge_type: EdgeType, start: int) -> Optional[Tuple[int, int]]:
        """The (source, destination) offsets with which type ``edge_type``'s edges are the columns from ``start``, if they are."""
        key = (edge_type, start)
        if key not in self._shifts:
            ref = self.refs[edge_type]
            shift = None
            if start + ref.size(1) <= self.total:
                delta = self.edge_index[:, start : start + ref.size(1)] - ref
                if bool((delta == delta[:, :1]).all()):
                    shift = (int(delta[0, 0]), int(delta[1, 0]))
            self._shifts[key] = shift
        return self._shifts[key]

    def consistent(self, used: Tuple[Tuple[EdgeType, Tuple[int, int]], ...], edge_type: EdgeType, shift: Tuple[int, int]) -> bool:
        """Whether type ``edge_type`` at ``shift`` places its node ranges as the blocks before it allow."""
        for side, end in ((0, 0), (1, 2)):
            node_type, low = edge_type[end], shift[side]
            high = low + self.counts.get(node_type, 0)
            if low < 0:
                return False
            for other, other_shift in used:
                other_low = other_shift[side]
                other_high = other_low + self.counts.get(other[end], 0)
                if not (other[end] == node_type and other_low == low) and low < other_high and other_low < high:
                    return False
        return True

    def search(self, start: int, used: Tuple[Tuple[EdgeType, Tuple[int, int]], ...], limit: int) -> List[List[EdgeType]]:
        """Up to ``limit`` arrangements of the unused types that make up the columns from ``start``."""
        if start == self.total:
            return [[t for t, _ in used]]
        found: List[List[EdgeType]] = []
        for edge_type, ref in self.refs.items():
            if any(edge_type == t for t, _ in used):
                continue
            shift = self.shift(edge_type, start)
            if shift is None or not self.consistent(used, edge_type, shift):
                continue
            found += self.search(start + ref.size(1), used + ((edge_type, shift),), limit - len(found))
            if len(found) >= limit:
                break
        return found

    def fit(self, order: List[EdgeType]) -> bool:
        """Whether the types of ``order`` (those with edges) make up the columns in that order."""
        start, used = 0, ()  # type: int, Tuple[Tuple[EdgeType, Tuple[int, int]], ...]
        for edge_type in order:
            if edge_type not in self.refs:
                continue
            shift = self.shift(edge_type, start)
            if shift is None or not self.consistent(used, edge_type, shift):
                return False
            used += ((edge_type, shift),)
            start += self.refs[edge_type].size(1)
        return start == self.total


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

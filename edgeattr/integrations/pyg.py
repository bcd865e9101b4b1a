r"""edgeattr's methods as a PyG :class:`~torch_geometric.explain.ExplainerAlgorithm`.

    >>> explainer = Explainer(model, algorithm=EdgeAttrExplainer('gradient_sign'),
    ...                       explanation_type='model', edge_mask_type='object',
    ...                       model_config=dict(mode='multiclass_classification',
    ...                                         task_level='node', return_type='raw'))
    >>> explanation = explainer(data.x, data.edge_index, index=10)
    >>> explanation.edge_mask                  # (E,) in [0, 1], for PyG's metrics
"""

from __future__ import annotations

import copy
import inspect
import logging
import numbers
from typing import Any, Dict, List, Optional, Set, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.explain import Explanation, HeteroExplanation
from torch_geometric.explain.algorithm import ExplainerAlgorithm
from torch_geometric.explain.config import (
    ExplainerConfig,
    ModelConfig,
    ModelMode,
    ModelReturnType,
    ModelTaskLevel,
)

from edgeattr.adapters.base import EdgeMaskAdapter
from edgeattr.adapters.base.interface import AdapterWrapper
from edgeattr.adapters.pyg import PyGAdapter
from edgeattr.adapters.pyg_hetero import PyGHeteroAdapter
from edgeattr.attribution import EdgeGradient
from edgeattr.checks import checked_count
from edgeattr.explanation import node_mask_of
from edgeattr.methods import FEATURES_NEED, METHODS, method_named

#: Ways to map a signed attribution into [0, 1] for PyG's metrics (``None`` keeps it as it is).
NORMALIZATIONS = ("positive", "abs", None)

#: Keys of the per-layer values a layerwise explanation carries, shape ``[L, E]``.
LAYER_KEYS = ("layer_masks", "layer_attribution")




class EdgeAttrExplainer(ExplainerAlgorithm):
    r"""edgeattr's edge attributions as a PyG explainer algorithm.

    Use it as the ``algorithm`` of :class:`torch_geometric.explain.Explainer`
    with ``edge_mask_type='object'``, for node or graph tasks of homogeneous
    models and of heterogeneous ones (e.g. built with
    :func:`~torch_geometric.nn.to_hetero`, called with ``x_dict`` and
    ``edge_index_dict``), and for edge-level tasks (link prediction):
    ``task_level='edge'``, the model called with ``edge_label_index=``
    (passed through) and ``index`` the explained pair, a column of
    ``edge_label_index``; ``node_mask_type`` (homogeneous models)
    adds node masks, see below. It runs the method of the same name on a
    :class:`~edgeattr.PyGAdapter` (:class:`~edgeattr.adapters.PyGHeteroAdapter`
    for dicts) and returns an :class:`~torch_geometric.explain.Explanation`
    (a :class:`~torch_geometric.explain.HeteroExplanation` with masks per edge
    type) holding:

    - ``edge_mask`` ``[E]``: the attribution mapped into :math:`[0, 1]` by
      ``normalize``, for PyG's ``fidelity``, ``get_explanation_subgraph``
      (edges with mask :math:`> 0`) and ``visualize_graph``;
    - ``edge_attribution`` ``[E]``: the raw attribution, signed;
    - layerwise methods also ``layer_masks`` and ``layer_attribution``
      ``[L, E]``, one row per message-passing call in call order, normalized
      and raw; ``edge_mask`` and ``edge_attribution`` are then their sums over
      layers (for gradients, the input-level gradient). The explanation
      subgraphs keep their columns of the kept edges.

    **Node masks.** With ``node_mask_type`` ``'object'``, ``'attributes'`` or
    ``'common_attributes'`` (for ``'edge_gradient'``, ``'layerwise_gradient'``
    and ``'gnnexplainer'``), the method also attributes ``x`` (the adapter is
    built with ``features=True``), and the explanation holds, in PyG's shapes
    ``[N, 1]``, ``[N, F]`` or ``[1, F]``:

    - ``node_mask``: the node attribution normalized as ``edge_mask`` is,
      for PyG's ``fidelity`` (which multiplies ``x`` by it) and
      ``get_explanation_subgraph`` (nodes whose mask sums to :math:`> 0`);
    - ``node_attribution``: the raw one. For the gradients it is derived
      from the feature gradient :math:`a_{v,f} = \partial z / \partial x_{v,f}`
      by :func:`edgeattr.explanation.node_mask_of`: :math:`\sum_f a_{v,f}`,
      :math:`a_{v,f}` or :math:`\sum_v a_{v,f}`; for ``'gnnexplainer'`` it is
      the feature mask learned in that shape, as PyG's GNNExplainer learns it.

    With ``edge_mask_type=None`` the explanation holds the node masks only
    (not for ``'gnnexplainer'``, which learns both masks together).

    Methods (the classes of :mod:`edgeattr.attribution`, at the all-ones mask):

    ===========================  ===========================================  ==================
    ``method``                   attribution                                  options
    ===========================  ===========================================  ==================
    ``'edge_gradient'``          :math:`g_e = \partial z / \partial w_e`      ``abs``
    ``'gradient_sign'``          :math:`\mathbb{1}[g_e > \varepsilon]`        ``eps``
    ``'edge_occlusion'``         :math:`z(\mathbf{1}) - z(w_e = 0)`           ``mode``, ``perturbations_per_eval``
    ``'layerwise_gradient'``     :math:`\partial z / \partial W_{l,e}`        ``abs``
    ``'layerwise_occlusion'``    :math:`z(\mathbf{1}) - z(W_{l,e} = 0)`       ``mode``, ``perturbations_per_eval``
    ``'gnnexplainer'``           GNNExplainer's mask                          ``epochs``, ``lr``, ``edge_size``, ``edge_ent``, ``edge_reduction``; with node masks ``node_feat_size``, ``node_feat_ent``, ``node_feat_reduction``
    ===========================  ===========================================  ==================

    The explained quantity :math:`z` is the model's output at the target
    class of the explained node or graph, as the model returns it
    (``return_type`` ``'raw'``: the logit, ``'probs'``: the probability,
    ``'log_probs'``: its log), as PyG's ``CaptumExplainer`` explains it, with
    the adapter's ``mode`` taken from PyG's ``model_config`` (see
    :mod:`edgeattr.modes`). The target class is the predicted one
    (``explanation_type='model'``) or the one given (``'phenomenon'``:
    ``target[index]``). For a single-output binary classifier :math:`z = y`
    for class 1 and :math:`-y` for class 0; for a multi-label one, ``column``
    names the label whose output is explained. A regression model is
    explained by :math:`z = y` itself, whatever the explanation type (the
    output of ``column`` where it has several). GNNExplainer minimises PyG's
    loss for the ``mode`` and ``return_type``: outputs are mapped to logits
    first (:math:`\log p` for probabilities, :math:`\log p - \log(1 - p)`
    for a binary probability); for regression it is the mean squared error to
    the target row (the model's own output for ``explanation_type='model'``),
    over every output, or that of ``column``.

    Normalization (``normalize``), applied to ``edge_mask`` and
    ``layer_masks``; ``'gradient_sign'`` and ``'gnnexplainer'`` masks already
    lie in :math:`[0, 1]` and are never rescaled:

    - ``'positive'`` (default): :math:`\max(a, 0) / \max_e \max(a_e, 0)`, the
      supporting evidence only, so that, as for GNNExplainer's masks, the
      explanation subgraph is the edges that support the target and its
      complement holds the opposing ones;
    - ``'abs'``: :math:`|a| / \max_e |a_e|`, evidence of either sign;
    - ``None``: the raw attribution (not a mask for ``fidelity``).

    An all-zero attribution stays zero.

    ``index`` is a single node id (node tasks) or graph id (graph tasks; may be
    omitted for a single graph): an ``int`` or a one-element tensor, as
    :class:`~torch_geometric.explain.Explainer` passes it. Several ids raise a
    :class:`ValueError`: call the explainer once per id.

    Args:
        method (str): One of :data:`edgeattr.methods.METHODS`.
        normalize (str, optional): ``'positive'``, ``'abs'`` or ``None``.
            (default: ``'positive'``)
        column (int, optional): The output column explained, for a model with
            several outputs per row in ``'binary_classification'`` (multi-label)
            or ``'regression'`` mode.
        **options: Options of the method's class, e.g. ``eps=0.1`` for
            ``'gradient_sign'`` or ``epochs=200`` for ``'gnnexplainer'``.
    """

    def __init__(self, method: str, normalize: Optional[str] = "positive", column: Optional[int] = None, **options: Any) -> None:
        super().__init__()
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
        if "node_mask_type" in options:
            raise ValueError("node_mask_type is a setting of PyG's Explainer: pass Explainer(..., node_mask_type=...)")
        self.method, self.normalize, self.column = method, normalize, checked_count("column", column, minimum=0)
        self._spec = method_named(method)
        self._init_options, self._attribute_options = self._spec.split_options(options)

    # -- PyG's algorithm interface ----------------------------------------------------------

    def connect(self, explainer_config: ExplainerConfig, model_config: ModelConfig) -> None:
        r"""Connects the explainer and model configurations.

        Raises:
            ValueError: naming the setting this method does not support and the fix.
        """
        self._explainer_config = ExplainerConfig.cast(explainer_config)
        self._model_config = ModelConfig.cast(model_config)
        problem = self._unsupported()
        if problem is not None:
            raise ValueError(f"EdgeAttrExplainer({self.method!r}) does not support these settings: {problem}")

    def supports(self) -> bool:
        r"""Whether the connected settings are supported (the reason is logged when not)."""
        problem = self._unsupported()
        if problem is not None:
            logging.error(f"EdgeAttrExplainer({self.method!r}): {problem}")
        return problem is None

    def _unsupported(self) -> Optional[str]:
        explainer, model = self.explainer_config, self.model_config
        if explainer.node_mask_type is not None and not self._spec.features:
            return f"{self.method!r} attributes edges only, so node_mask_type needs another method ({FEATURES_NEED}); or set node_mask_type=None"
        if explainer.edge_mask_type is None and self.method == "gnnexplainer":
            return "GNNExplainer learns the edge mask together with the node mask here; set edge_mask_type='object'"
        if model.mode == ModelMode.binary_classification and model.return_type == ModelReturnType.log_probs:
            return "binary classification with return_type='log_probs' has no class threshold in PyG; return logits ('raw') or probabilities ('probs')"
        return None

    def forward(
        self,
        model: torch.nn.Module,
        x: Union[Tensor, Dict[str, Tensor]],
        edge_index: Union[Tensor, Dict[Tuple[str, str, str], Tensor]],
        *,
        target: Tensor,
        index: Optional[Union[int, Tensor]] = None,
        **kwargs: Any,
    ) -> Union[Explanation, HeteroExplanation]:
        r"""Explains one output row of ``model``.

        Args:
            model (torch.nn.Module): The model, unchanged (restored on return).
            x (Tensor or dict): Node features ``[N, F]``, or a dict per node type.
            edge_index (Tensor or dict): ``[2, E]``, or a dict per edge type.
            target (Tensor): Class (or value) per output row, as
                :class:`~torch_geometric.explain.Explainer` passes it.
            index (int or Tensor, optional): The node or graph id to explain, or
                for an edge-level task the pair's column of ``edge_label_index``,
                or a tensor of them: the explanation is then that of the sum of
                the pairs' explained outputs, as PyG's explainers sum their
                losses over ``index`` (the sum of the pairs' attributions for the
                gradients and occlusions, the gradient-sign rule on the summed
                gradient; GNNExplainer explains one pair per call).
            **kwargs: Further keyword arguments of the model call.

        Returns:
            :class:`~torch_geometric.explain.Explanation` (or
            :class:`~torch_geometric.explain.HeteroExplanation`) with
            ``edge_mask`` and ``edge_attribution`` ``[E]`` (per edge type), and
            for layerwise methods ``layer_masks`` and ``layer_attribution`` ``[L, E]``;
            with ``node_mask_type``, ``node_mask`` and ``node_attribution``.
        """
        edge_level = self.model_config.task_level == ModelTaskLevel.edge
        rows = _pair_indices(index) if edge_level else [_single_index(index)]
        adapter = self._adapter(model, x, edge_index, rows[0] if len(rows) == 1 else torch.tensor(rows), kwargs)
        if len(rows) == 1:
            edges, nodes = self._attribute(adapter, *self._explained_target(adapter, target, rows[0] or 0))
            raw, raw_features = edges[0], None if nodes is None else nodes[0]
        else:
            raw, raw_features = self._joint_attribution(adapter, [self._explained_target(adapter, target, row or 0)[0] for row in rows])
        values = self._values(raw, raw_features)
        if isinstance(adapter, PyGHeteroAdapter):
            explanation = LayerwiseHeteroExplanation() if self._spec.layerwise else HeteroExplanation()
            for key, value in values.items():
                explanation.set_value_dict(key, adapter.split(value))
            return explanation
        return (LayerwiseExplanation if self._spec.layerwise else Explanation)(**values)

    # -- the steps ----------------------------------------------------------------------------

    def _adapter(self, model: torch.nn.Module, x: Any, edge_index: Any, index: Union[None, int, Tensor], kwargs: dict) -> Union[PyGAdapter, PyGHeteroAdapter]:
        hetero = isinstance(x, dict) or isinstance(edge_index, dict)
        shadowed = adapter_parameters(PyGHeteroAdapter if hetero else PyGAdapter) & set(kwargs)
        if shadowed:
            raise ValueError(
                f"model keyword arguments {sorted(shadowed)} clash with edgeattr's adapter parameters; "
                f"rename them in the model's forward"
            )
        layerwise, mode = self._spec.layerwise, self.model_config.mode.value
        features = self.explainer_config.node_mask_type is not None
        if hetero:
            return PyGHeteroAdapter(model, x, edge_index, index=index, layerwise=layerwise, mode=mode, features=features, **kwargs)
        task = self.model_config.task_level.value
        features_arg = 0 if features else None  # PyG's node masks are x's
        return PyGAdapter(model, x, edge_index, index=index, layerwise=layerwise, task=task, mode=mode, features=features, features_arg=features_arg, **kwargs)

    def _explained_target(self, adapter: EdgeMaskAdapter, target: Tensor, row: int) -> Tuple[Optional[int], Optional[Tensor]]:
        """The target of the attribution method for output row ``row`` (a class or a column) and, for
        GNNExplainer on a regression model, the output values to keep.

        PyG passes a class per row (multiclass), a label per output (binary;
        flattened for several labels) or the values themselves (regression).
        """
        if target is None:
            raise ValueError("target is required: pass the class (or value) per output row, as PyG's Explainer does")
        mode = self.model_config.mode
        if mode == ModelMode.multiclass_classification:
            value = torch.as_tensor(target).reshape(-1)[row]
            if value.is_floating_point() and value != value.round():
                raise ValueError(f"the target of row {row} must be one class label, got {value.tolist()}")
            return int(value), None
        with torch.no_grad():
            columns = adapter(adapter.ones()).reshape(adapter.num_targets, -1).size(1)
        values = torch.as_tensor(target).reshape(-1, columns)[row]
        regression_gnnexplainer = mode == ModelMode.regression and self.method == "gnnexplainer"
        if columns == 1:
            return (None, values) if regression_gnnexplainer else (0 if mode == ModelMode.regression else int(values[0]), None)
        if self.column is None and not regression_gnnexplainer:
            what = "labels (multi-label binary classification)" if mode == ModelMode.binary_classification else "values"
            raise ValueError(
                f"the model returns {columns} {what} per row; edgeattr explains one: pass "
                f"EdgeAttrExplainer(..., column=c) with the output column to explain"
            )
        if self.column is not None and self.column >= columns:
            raise ValueError(f"column={self.column} is out of range for a model with {columns} outputs per row")
        return self.column, values if regression_gnnexplainer else None

    def _attribute(
        self, adapter: EdgeMaskAdapter, target: Union[None, int, List[Optional[int]]], kept_values: Optional[Tensor]
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """The method's attribution of each target's output (class ``target``, one per target) to every edge,
        ``(T, E)`` or ``(T, L, E)``, and with node masks to the node features: PyG's node mask for GNNExplainer,
        else ``(T, N, F)``."""
        forward_func: Any = adapter
        init_options, attribute_options = dict(self._init_options), dict(self._attribute_options)
        if self.method == "gnnexplainer":
            forward_func = _AsLogits(adapter, self.model_config)
            if kept_values is not None:
                attribute_options["kept_values"] = kept_values
            if adapter.features:
                init_options["node_mask_type"] = self.explainer_config.node_mask_type.value
        attribution = self._spec.attribution(forward_func, **init_options)
        if not adapter.features:
            return attribution.attribute(adapter.ones(), target=target, **attribute_options).detach(), None
        edges, nodes = attribution.attribute(adapter.inputs(), target=target, **attribute_options)
        return edges.detach(), nodes.detach()

    def _joint_attribution(self, adapter: EdgeMaskAdapter, targets: List[Optional[int]]) -> Tuple[Tensor, Optional[Tensor]]:
        """The attribution of the sum of the targets' explained outputs to every edge, ``(E,)`` or ``(L, E)``,
        and with node masks to the node features, ``(N, F)``.

        Gradients and occlusions are linear in the explained output, so the
        sum's attribution is the sum of the targets' rows; the gradient-sign
        rule is applied to the summed gradient.
        """
        if self.method == "gnnexplainer":
            raise ValueError(
                f"EdgeAttrExplainer('gnnexplainer') learns one mask per pair; got index with {len(targets)} pairs: "
                f"call the explainer once per pair, or use a gradient or occlusion method for their sum"
            )
        if self.method != "gradient_sign":
            edges, nodes = self._attribute(adapter, targets, None)
            return edges.sum(0), None if nodes is None else nodes.sum(0)
        gradient = EdgeGradient(adapter).attribute(adapter.ones(), target=targets).detach().sum(0)
        return (gradient > self._init_options.get("eps", 0.0)).to(gradient.dtype), None

    def _values(self, raw: Tensor, raw_features: Optional[Tensor]) -> Dict[str, Tensor]:
        """What the explanation holds, from the raw attributions of the edges and of the node features."""
        values: Dict[str, Tensor] = {}
        if self.explainer_config.edge_mask_type is not None:
            total = raw.sum(0) if self._spec.layerwise else raw
            values.update(edge_mask=self._normalized(total), edge_attribution=total)
            if self._spec.layerwise:
                values.update(layer_masks=self._normalized(raw), layer_attribution=raw)
        if raw_features is not None:
            node_mask_type = self.explainer_config.node_mask_type.value
            nodes = raw_features if self.method == "gnnexplainer" else node_mask_of(raw_features.reshape(raw_features.size(0), -1), node_mask_type)
            values.update(node_mask=self._normalized(nodes), node_attribution=nodes)
        return values

    def _normalized(self, values: Tensor) -> Tensor:
        if self._spec.bounded or self.normalize is None:
            return values
        return normalized(values, self.normalize)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.method!r}, normalize={self.normalize!r})"


def normalized(values: Tensor, how: str) -> Tensor:
    r"""Maps an attribution into :math:`[0, 1]`.

    Args:
        values (Tensor): Attribution of any shape.
        how (str): ``'positive'``: :math:`\max(a, 0) / \max \max(a, 0)`;
            ``'abs'``: :math:`|a| / \max |a|`.

    Returns:
        Tensor of the same shape; all zeros where no entry scores above 0.
    """
    scores = values.clamp(min=0) if how == "positive" else values.abs()
    top = scores.max() if scores.numel() else scores.new_zeros(())
    return scores / top if top > 0 else torch.zeros_like(scores)


class _AsLogits(AdapterWrapper):
    """An adapter whose outputs are mapped to logits, so that GNNExplainer's cross-entropy is PyG's loss.

    ``log_probs`` are logits already (the softmax of log-probabilities is the
    probabilities); probabilities become their log, a single binary
    probability its logit.
    """

    def __init__(self, adapter: EdgeMaskAdapter, model_config: ModelConfig) -> None:
        super().__init__(adapter)
        self.config = model_config

    def map_output(self, output: Tensor) -> Tensor:
        if self.config.return_type != ModelReturnType.probs:
            return output
        if self.config.mode == ModelMode.binary_classification:
            return output.log() - (1 - output).log()
        return output.log()


def adapter_parameters(adapter: type) -> Set[str]:
    r"""The keyword-only parameters of an adapter's constructor, which a model keyword argument must not shadow."""
    parameters = inspect.signature(adapter).parameters.values()
    return {parameter.name for parameter in parameters if parameter.kind == inspect.Parameter.KEYWORD_ONLY}


def _pair_indices(index: Any) -> List[int]:
    """The explained pairs of an edge-level task: one id, or a 1-D tensor (or list) of distinct ids."""
    if isinstance(index, (Tensor, list, tuple)) and not (isinstance(index, Tensor) and index.dim() == 0):
        ids = torch.as_tensor(index)
        if ids.is_floating_point() or ids.dtype == torch.bool or ids.dim() != 1 or ids.numel() == 0:
            raise ValueError(f"index must be a pair's column of edge_label_index or a 1-D tensor of them, got {index!r}")
        if ids.unique().numel() != ids.numel():
            raise ValueError("index names a pair twice; pass each pair once")
        return [int(i) for i in ids]
    one = _single_index(index)
    if one is None:
        raise ValueError("index is required for an edge-level task: pass the pair's column of edge_label_index")
    return [one]


def _single_index(index: Any) -> Optional[int]:
    """One node or graph id from what PyG passes: ``None``, an int, or a tensor of ids."""
    if index is None or isinstance(index, numbers.Integral) and not isinstance(index, bool):
        return None if index is None else int(index)
    if isinstance(index, Tensor) and not index.is_floating_point() and index.dtype != torch.bool:
        if index.numel() == 1:
            return int(index)
        raise ValueError(
            f"EdgeAttrExplainer explains one node or graph per call, got index with {index.numel()} ids; "
            f"call the explainer once per id, e.g. [explainer(x, edge_index, index=int(i)) for i in ids]"
        )
    raise TypeError(f"index must be an int or a tensor of one id, got {index!r}")


class LayerwiseExplanation(Explanation):
    r"""An :class:`~torch_geometric.explain.Explanation` with layer masks ``[L, E]``.

    ``get_explanation_subgraph`` and ``get_complement_subgraph`` keep the
    columns of :data:`LAYER_KEYS` that belong to the kept edges.
    """

    def _apply_masks(self, node_mask: Optional[Tensor] = None, edge_mask: Optional[Tensor] = None) -> "LayerwiseExplanation":
        inner = copy.copy(self)
        layers = {key: inner[key] for key in LAYER_KEYS if key in inner}
        for key in layers:
            del inner[key]
        out = Explanation._apply_masks(inner, node_mask, edge_mask)
        for key, value in layers.items():
            out[key] = value if edge_mask is None else value[:, edge_mask]
        return out


class LayerwiseHeteroExplanation(HeteroExplanation):
    r"""A :class:`~torch_geometric.explain.HeteroExplanation` with layer masks ``[L, E_t]`` per edge type.

    ``get_explanation_subgraph`` and ``get_complement_subgraph`` keep the
    columns of :data:`LAYER_KEYS` that belong to the kept edges.
    """

    def _apply_masks(self, node_mask_dict: Dict[Any, Tensor], edge_mask_dict: Dict[Any, Tensor]) -> "LayerwiseHeteroExplanation":
        inner = copy.copy(self)
        layers = {}
        for store in inner.edge_stores:
            for key in LAYER_KEYS:
                if key in store:
                    layers[store._key, key] = store[key]
                    del store[key]
        out = HeteroExplanation._apply_masks(inner, node_mask_dict, edge_mask_dict)
        for (edge_type, key), value in layers.items():
            kept = edge_mask_dict.get(edge_type)
            out[edge_type][key] = value if kept is None else value[:, kept]
        return out


__all__ = ["EdgeAttrExplainer", "METHODS", "NORMALIZATIONS", "LayerwiseExplanation", "LayerwiseHeteroExplanation", "normalized"]

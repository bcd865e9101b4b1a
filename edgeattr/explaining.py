r"""One call from a model and its inputs to an :class:`EdgeExplanation`, for PyG and DGL alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Optional

import torch

from edgeattr.adapters import GraphAdapter
from edgeattr.attribution._common import TargetType, resolve_target
from edgeattr.explanation import EdgeExplanation
from edgeattr.methods import method_named


def explain(
    model: torch.nn.Module,
    *inputs: Any,
    method: str = "gradient_sign",
    index: Optional[int] = None,
    target: TargetType = None,
    layerwise: bool = False,
    task: Optional[str] = None,
    mode: Optional[str] = None,
    verify: bool = True,
    options: Optional[Mapping[str, Any]] = None,
    **model_kwargs: Any,
) -> EdgeExplanation:
    r"""Explains one prediction of an unmodified PyG or DGL model by its edges.

    The model is called as your code calls it: ``model(x, edge_index, ...)``
    for PyG, ``model(graph, feat, ...)`` for DGL (recognised by a
    ``dgl.DGLGraph`` first input). The method runs on a
    :class:`~edgeattr.PyGAdapter` or :class:`~edgeattr.DGLAdapter` at the
    all-ones mask, exactly as the attribution classes do:

    .. math::
        \texttt{edge\_mask} = \texttt{Method}(\texttt{Adapter}(\text{model}, \text{inputs},
        \text{index}))\texttt{.attribute}(\mathbf{1})[0]

    With ``layerwise=True`` (implied by ``'layerwise_gradient'`` and
    ``'layerwise_occlusion'``) the same class also runs on a layerwise adapter
    and fills ``layer_masks`` ``(L, E)``. For the two layerwise methods,
    ``edge_mask`` is the sum of ``layer_masks`` over layers (for
    ``'layerwise_gradient'`` that is the input-level gradient); for the
    others it is the input-level attribution.

    Args:
        model (torch.nn.Module): The model, unchanged; it is left as it was.
        *inputs: The model's positional inputs: ``x, edge_index`` (PyG) or
            ``graph, feat`` (DGL).
        method (str, optional): A name of :data:`edgeattr.methods.METHODS`:
            ``'edge_gradient'``, ``'gradient_sign'``, ``'edge_occlusion'``,
            ``'layerwise_gradient'``, ``'layerwise_occlusion'`` or
            ``'gnnexplainer'``. (default: ``'gradient_sign'``)
        index (int, optional): The node to explain (node task), or the graph
            of a batch (graph task; ``None`` for a single graph).
        target (int, optional): The class explained (or the output column, see
            :mod:`edgeattr.modes`); ``None`` is the class the model predicts.
        layerwise (bool, optional): Also attribute per message-passing call.
            (default: ``False``)
        task (str, optional): ``'node'`` or ``'graph'``. Default: ``'graph'``
            for PyG models given a ``batch`` and for batches of several DGL
            graphs, else ``'node'``. A graph classifier of a single graph needs
            ``task='graph'``.
        mode (str, optional): What the output means, one of PyG's
            ``ModelConfig`` modes (see :mod:`edgeattr.modes`); required for a
            model with a single output column.
        verify (bool, optional): Check the adapter's shortcuts against the
            model's own output, falling back to the exact path where they
            differ (see :class:`~edgeattr.PyGAdapter`). (default: ``True``)
        options (Mapping, optional): Options of the method's class, e.g.
            ``{'eps': 1e-3}`` for ``gradient_sign``, ``{'epochs': 200}`` for
            ``gnnexplainer``, ``{'mode': 'remove'}`` for the occlusions.
        **model_kwargs: Keyword arguments of the model call (``batch``,
            ``edge_attr``, ...).

    Returns:
        EdgeExplanation: ``edge_mask`` ``(E,)`` over the edges of the input
        graph (columns of ``edge_index``; DGL edge ids), ``layer_masks``
        ``(L, E)`` or ``None``, and what was explained.

    Raises:
        ValueError: for an unknown method, or an ``index`` naming several
            targets (an explanation holds one; explain them in turn).

    Example::

        >>> explanation = explain(model, data.x, data.edge_index, index=10)
        >>> explanation.topk(5)
        >>> explanation.plot("node10.png")
    """
    chosen = method_named(method)
    options = dict(options or {})

    def adapter_of(layerwise_masks: bool) -> GraphAdapter:
        return _adapter_class(inputs)(
            model, *inputs, index=index, layerwise=layerwise_masks, task=task, mode=mode, verify=verify, **model_kwargs
        )

    adapter = adapter_of(chosen.layerwise)
    with torch.no_grad():
        prediction = adapter(adapter.ones())
    if prediction.size(0) != 1:
        raise ValueError(
            f"index names {prediction.size(0)} targets; an EdgeExplanation holds one: explain them one at a time, "
            f"or use the attribution classes on an adapter for all at once"
        )
    explained = int(resolve_target(adapter, adapter.ones(), target).targets[0])
    attribution = chosen.attribute(adapter, target=explained, **options)[0].detach()
    if chosen.layerwise:
        layer_masks, edge_mask = attribution, attribution.sum(0)
    elif layerwise:
        layer_masks = replace(chosen, layerwise=True).attribute(adapter_of(True), target=explained, **options)[0].detach()
        edge_mask = attribution
    else:
        layer_masks, edge_mask = None, attribution
    return EdgeExplanation(
        edge_mask=edge_mask,
        layer_masks=layer_masks,
        edge_index=adapter.edge_index,
        target=explained,
        prediction=prediction[0],
        method=method,
        index=int(adapter.targets[0]),  # the one target's id, also where index came as a tensor of one id
        task=adapter.task,
        num_nodes=adapter.num_nodes,
        computation_edges=adapter.edge_ids[adapter.message_edges],
        layer_names=[layer.name for layer in adapter.layers],
    )


def _adapter_class(inputs: tuple) -> type:
    """The adapter for the inputs: DGL's for a DGLGraph first, else PyG's."""
    if not inputs:
        raise ValueError("pass the model's inputs after the model: explain(model, x, edge_index, ...) or explain(model, graph, feat, ...)")
    if type(inputs[0]).__module__.split(".")[0] == "dgl":
        from edgeattr.adapters.dgl import DGLAdapter

        return DGLAdapter
    from edgeattr.adapters.pyg import PyGAdapter

    return PyGAdapter


__all__ = ["explain"]

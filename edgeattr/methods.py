r"""The explanation methods by name: one table from a name to an attribution class and its options.

Every entry point that takes a method name (:func:`edgeattr.explain`, the DGL
explainer in :mod:`edgeattr.integrations.dgl`, PyG's ``Explainer``
integration) resolves it here, so that a name means the same computation
everywhere:

=======================  ================================  =========  ===================================================
name                     class                             layerwise  attribution of edge :math:`e` (layer :math:`l`)
=======================  ================================  =========  ===================================================
``edge_gradient``        :class:`EdgeGradient`             no         :math:`g_e = \partial z / \partial w_e`
``gradient_sign``        :class:`GradientSign`             no         :math:`P_e = \mathbb{1}[g_e > \varepsilon]`
``edge_occlusion``       :class:`EdgeOcclusion`            no         :math:`O_e = z(\mathbf{1}) - z(w_e = 0)`
``layerwise_gradient``   :class:`EdgeGradient`             yes        :math:`G_{l,e} = \partial z / \partial W_{l,e}`
``layerwise_occlusion``  :class:`LayerwiseOcclusion`       yes        :math:`O_{l,e} = z(\mathbf{1}) - z(W_{l,e} = 0)`
``gnnexplainer``         :class:`GNNExplainer`             no         the learned mask :math:`\sigma(\theta)`
=======================  ================================  =========  ===================================================

A layerwise method runs on a layerwise adapter and gives one row per
message-passing call, ``(1, L, E)``. ``edge_gradient``, ``layerwise_gradient``
and ``gnnexplainer`` also attribute node features (:attr:`Method.features`):
on an adapter built with ``features=True`` they run on its inputs
``(mask, x)`` and give both attributions.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Tuple, Type

from captum.attr import Attribution

from edgeattr.adapters.base.interface import AdapterInterface
from edgeattr.attribution import EdgeGradient, EdgeOcclusion, GNNExplainer, GradientSign, LayerwiseOcclusion
from edgeattr.attribution._common import TargetType, TensorOrTuple


@dataclass(frozen=True)
class Method:
    r"""An explanation method: an attribution class, the kind of adapter it needs, and its options.

    Args:
        attribution (type): The Captum-style attribution class.
        layerwise (bool): Whether it runs on a layerwise adapter (masks ``(B, L, E)``).
        options (Mapping[str, Any]): Options the name implies, passed to the
            class's constructor or ``attribute`` (the caller's options override them).
        bounded (bool): Whether its attributions already lie in :math:`[0, 1]`
            (a mask, never rescaled for PyG's metrics).
        features (bool): Whether it also attributes node features, given an
            adapter's inputs ``(mask, x)`` (an adapter built with ``features=True``).
    """

    attribution: Type[Attribution]
    layerwise: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    bounded: bool = False
    features: bool = False

    def split_options(self, options: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        r"""Splits options into the class's constructor and ``attribute`` keyword arguments.

        Raises:
            TypeError: for an option neither takes, naming the options there are.
        """
        init = _keywords(self.attribution.__init__)
        call = _keywords(self.attribution.attribute)
        constructor, attribute = {}, {}
        for name, value in {**self.options, **options}.items():
            if name in init:
                constructor[name] = value
            elif name in call:
                attribute[name] = value
            else:
                raise TypeError(
                    f"{self.attribution.__name__} has no option {name!r}; its options are {sorted(init | call)}"
                )
        return constructor, attribute

    def attribute(self, adapter: AdapterInterface, target: TargetType = None, **options: Any) -> TensorOrTuple:
        r"""The method's attribution at the all-ones mask of ``adapter`` (and its node features).

        Args:
            adapter (EdgeMaskAdapter): An adapter, layerwise iff :attr:`layerwise`;
                built with ``features=True`` only for a method with :attr:`features`.
            target (int or Tensor, optional): The explained class; ``None`` is
                the class predicted with every edge at weight 1.
            **options: Options of the class's constructor or ``attribute``
                (e.g. ``eps`` of :class:`GradientSign`, ``epochs`` of
                :class:`GNNExplainer`, ``mode`` of :class:`EdgeOcclusion`).

        Returns:
            Tensor or tuple[Tensor]: Shape ``(1, E)``, or ``(1, L, E)`` for a
            layerwise adapter; with ``features=True`` the tuple of that and
            the node features' attribution ``(1, N, F)`` (GNNExplainer: its
            feature mask, see its ``node_mask_type``).

        Raises:
            ValueError: for an adapter with ``features=True`` and a method without :attr:`features`.
        """
        constructor, attribute = self.split_options(options)
        if adapter.features and not self.features:
            raise ValueError(f"{self.attribution.__name__} attributes edges only; {FEATURES_NEED}")
        inputs = adapter.inputs() if adapter.features else adapter.ones()
        return self.attribution(adapter, **constructor).attribute(inputs, target=target, **attribute)


def _keywords(function: Callable) -> set:
    """Names of the keyword arguments of a method, past ``self`` and its first input."""
    function = inspect.unwrap(function)
    parameters = list(inspect.signature(function).parameters.values())[2:]
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"target", "additional_forward_args"}


#: Method name -> method. The names are shared by every entry point that takes one.
METHODS: Dict[str, Method] = {
    "edge_gradient": Method(EdgeGradient, layerwise=False, features=True),
    "gradient_sign": Method(GradientSign, layerwise=False, bounded=True),
    "edge_occlusion": Method(EdgeOcclusion, layerwise=False),
    "layerwise_gradient": Method(EdgeGradient, layerwise=True, features=True),
    "layerwise_occlusion": Method(LayerwiseOcclusion, layerwise=True),
    "gnnexplainer": Method(GNNExplainer, layerwise=False, bounded=True, features=True),
}

#: What to choose for node-feature attributions, for messages.
FEATURES_NEED = f"node features are attributed by the methods {sorted(name for name, m in METHODS.items() if m.features)}"


def method_named(name: str, features: bool = False) -> Method:
    r"""The method called ``name`` in :data:`METHODS`.

    Args:
        name (str): The method's name.
        features (bool, optional): Whether it must also attribute node
            features (:attr:`Method.features`). (default: ``False``)

    Raises:
        ValueError: for an unknown name, listing the known ones, or a method
            that attributes edges only where ``features`` asks for more.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    if features and not METHODS[name].features:
        raise ValueError(f"method {name!r} attributes edges only; {FEATURES_NEED}")
    return METHODS[name]


__all__ = ["Method", "METHODS", "method_named"]

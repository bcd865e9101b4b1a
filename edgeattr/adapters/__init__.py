"""Framework adapters: a model bound to its graph as a Captum forward_func of an edge mask.

``PyGAdapter`` needs torch_geometric and ``DGLAdapter`` / ``EdgeWeightShim`` need
dgl; each is imported on first use, so that either framework alone suffices.
"""

from importlib import import_module
from typing import Any

from edgeattr.adapters.base import EdgeMaskAdapter, GraphAdapter, Layer

_FRAMEWORK_NAMES = {"PyGAdapter": "pyg", "DGLAdapter": "dgl", "EdgeWeightShim": "dgl"}

__all__ = ["EdgeMaskAdapter", "GraphAdapter", "Layer", *_FRAMEWORK_NAMES]


def __getattr__(name: str) -> Any:
    if name in _FRAMEWORK_NAMES:
        return getattr(import_module(f"edgeattr.adapters.{_FRAMEWORK_NAMES[name]}"), name)
    raise AttributeError(f"module 'edgeattr.adapters' has no attribute {name!r}")

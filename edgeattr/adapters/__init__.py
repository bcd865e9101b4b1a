"""Framework adapters: a model bound to its graph as a Captum forward_func of an edge mask.

``PyGAdapter`` and ``PyGHeteroAdapter`` need torch_geometric and ``DGLAdapter``, ``DGLBlockAdapter``,
``DGLHeteroAdapter`` and ``EdgeWeightShim`` need dgl; each is imported on first use, so that either framework alone suffices.
"""

from importlib import import_module
from importlib.util import find_spec
from typing import Any, Dict, List, Tuple

from edgeattr.adapters.base import AdapterInterface, AdapterWrapper, EdgeMaskAdapter, GraphAdapter, Layer

#: name -> (module of edgeattr.adapters, the framework package it needs)
FRAMEWORK_NAMES: Dict[str, Tuple[str, str]] = {
    "PyGAdapter": ("pyg", "torch_geometric"),
    "PyGHeteroAdapter": ("pyg_hetero", "torch_geometric"),
    "DGLAdapter": ("dgl", "dgl"),
    "DGLBlockAdapter": ("dgl_blocks", "dgl"),
    "DGLHeteroAdapter": ("dgl_hetero", "dgl"),
    "EdgeWeightShim": ("dgl", "dgl"),
}

#: The framework names whose framework is installed (what ``import *`` can resolve).
AVAILABLE: List[str] = [name for name, (_, package) in FRAMEWORK_NAMES.items() if find_spec(package) is not None]

__all__ = ["AdapterInterface", "AdapterWrapper", "EdgeMaskAdapter", "GraphAdapter", "Layer", *AVAILABLE]


def __getattr__(name: str) -> Any:
    if name in FRAMEWORK_NAMES:
        return getattr(import_module(f"edgeattr.adapters.{FRAMEWORK_NAMES[name][0]}"), name)
    raise AttributeError(f"module 'edgeattr.adapters' has no attribute {name!r}")

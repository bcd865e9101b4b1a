"""Framework adapters: a model bound to its graph as a Captum forward_func of an edge mask."""

from edgeattr.adapters.base import EdgeMaskAdapter, GraphAdapter, Layer
from edgeattr.adapters.pyg import PyGAdapter

__all__ = ["EdgeMaskAdapter", "GraphAdapter", "Layer", "PyGAdapter"]

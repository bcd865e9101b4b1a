"""Framework adapters: a model bound to its graph as a Captum forward_func of an edge mask."""

from edgeattr.adapters.base import EdgeMaskAdapter, Layer
from edgeattr.adapters.pyg import PyGAdapter

__all__ = ["EdgeMaskAdapter", "Layer", "PyGAdapter"]

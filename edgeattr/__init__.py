"""edgeattr: Captum-style edge attributions for graph neural networks.

Implements "Explaining GNN Explanations with Edge Gradients" (He, Rafiey, Mishne,
Wang; KDD 2025): edge gradients, the gradient-sign rule, input-level and
layerwise occlusion and GNNExplainer, over unmodified PyG models.
"""

from edgeattr.adapters import EdgeMaskAdapter, PyGAdapter
from edgeattr.attribution import (
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    GradientSign,
    LayerwiseOcclusion,
)
from edgeattr.errors import UnsupportedLayerError
from edgeattr.metrics import cosine_similarity, sign_flips

__version__ = "0.1.0"

__all__ = [
    "PyGAdapter",
    "EdgeMaskAdapter",
    "EdgeGradient",
    "GradientSign",
    "EdgeOcclusion",
    "LayerwiseOcclusion",
    "GNNExplainer",
    "UnsupportedLayerError",
    "cosine_similarity",
    "sign_flips",
]

"""edgeattr: Captum-style edge attributions for graph neural networks.

Implements "Explaining GNN Explanations with Edge Gradients" (He, Rafiey, Mishne,
Wang; KDD 2025): edge gradients, the gradient-sign rule, input-level and
layerwise occlusion and GNNExplainer, over unmodified PyG and DGL models.
"""

from typing import Any

from edgeattr import adapters
from edgeattr.adapters import AdapterInterface, AdapterWrapper, EdgeMaskAdapter, GraphAdapter
from edgeattr.attribution import (
    AMPAve,
    BestWalk,
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    GradientSign,
    LayerwiseOcclusion,
    Walk,
)
from edgeattr.errors import FallbackWarning, InputModifiedError, UnsupportedLayerError, VerificationError
from edgeattr.explaining import explain, read_explanation
from edgeattr.explanation import EdgeExplanation, HeteroEdgeExplanation
from edgeattr.metrics import cosine_similarity, sign_flips
from edgeattr.runs import explain_all
from edgeattr.store import read_attributions, read_manifest

__version__ = "0.1.0"

__all__ = [
    *adapters.AVAILABLE,
    "AdapterInterface",
    "AdapterWrapper",
    "EdgeMaskAdapter",
    "GraphAdapter",
    "EdgeGradient",
    "GradientSign",
    "EdgeOcclusion",
    "LayerwiseOcclusion",
    "GNNExplainer",
    "BestWalk",
    "AMPAve",
    "Walk",
    "UnsupportedLayerError",
    "FallbackWarning",
    "VerificationError",
    "InputModifiedError",
    "explain",
    "explain_all",
    "read_attributions",
    "read_explanation",
    "read_manifest",
    "EdgeExplanation",
    "HeteroEdgeExplanation",
    "cosine_similarity",
    "sign_flips",
]


def __getattr__(name: str) -> Any:
    # The framework adapters import their framework on first use.
    if name in adapters.FRAMEWORK_NAMES:
        return getattr(adapters, name)
    raise AttributeError(f"module 'edgeattr' has no attribute {name!r}")

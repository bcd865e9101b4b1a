"""Attribution methods following Captum's API, over edge masks."""

from edgeattr.attribution.gnnexplainer import GNNExplainer
from edgeattr.attribution.gradient import EdgeGradient, GradientSign
from edgeattr.attribution.occlusion import EdgeOcclusion, LayerwiseOcclusion

__all__ = ["EdgeGradient", "GradientSign", "EdgeOcclusion", "LayerwiseOcclusion", "GNNExplainer"]

"""Attribution methods following Captum's API, over edge masks."""

from edgeattr.attribution.gnnexplainer import GNNExplainer
from edgeattr.attribution.gradient import EdgeGradient, GradientSign
from edgeattr.attribution.occlusion import EdgeOcclusion, LayerwiseOcclusion
from edgeattr.attribution.paths import AMPAve, BestWalk, Walk

__all__ = ["EdgeGradient", "GradientSign", "EdgeOcclusion", "LayerwiseOcclusion", "GNNExplainer", "BestWalk", "AMPAve", "Walk"]

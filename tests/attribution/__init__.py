"""Tests of edgeattr.attribution: gradients, occlusion, GNNExplainer and the walk searches."""

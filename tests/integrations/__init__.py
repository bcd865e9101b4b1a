"""Tests of edgeattr.integrations: edgeattr inside PyG's Explainer and DGL's explainers."""

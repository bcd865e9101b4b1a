"""Integrations with PyG's Explainer and DGL's explainer calls."""

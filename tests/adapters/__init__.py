"""Tests of edgeattr.adapters: the PyG and DGL adapters, their checks and guards."""

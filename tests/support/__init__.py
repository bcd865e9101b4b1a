"""Helpers the test modules import: small graphs and models (zoo, dgl_zoo), the lanes, offline datasets."""

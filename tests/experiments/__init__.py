"""Tests of edgeattr.experiments: the reproduction experiments, their data, cache and outputs."""

"""Tests of edgeattr.benchmarks."""

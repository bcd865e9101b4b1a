"""Hypothesis strategies for random graphs."""

import torch
from hypothesis import strategies as st

from tests.support.zoo import FEATURES


@st.composite
def graphs(draw, max_nodes=10, max_edges=24):
    """Directed graphs with multi-edges, self-loops and isolated nodes, float64 features, a target."""
    num_nodes = draw(st.integers(1, max_nodes))
    num_edges = draw(st.integers(1, max_edges))
    src = draw(st.lists(st.integers(0, num_nodes - 1), min_size=num_edges, max_size=num_edges))
    dst = draw(st.lists(st.integers(0, num_nodes - 1), min_size=num_edges, max_size=num_edges))
    seed = draw(st.integers(0, 2**16))
    x = torch.randn(num_nodes, FEATURES, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return x, torch.tensor([src, dst]), draw(st.integers(0, num_nodes - 1))

"""Fixtures shared by the test modules of several packages.

Helpers that tests call directly (graphs, models, references, lanes) live in tests/support;
this file holds only the pytest fixtures that more than one module requests.
"""

import pytest


@pytest.fixture(scope="module")
def layered():
    """A layerwise-gradient explanation of node 4 of a 12-node, 50-edge graph with parallel and opposite edges.

    Module-scoped: each module that uses it gets its own, as when each module defined it.
    """
    from edgeattr import explain
    from tests.support.zoo import model_of, random_graph

    x, edge_index, _ = random_graph(num_nodes=12, num_edges=50, seed=3)
    return explain(model_of("GraphConv"), x, edge_index, method="layerwise_gradient", index=4)

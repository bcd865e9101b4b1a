"""The ground-truth datasets: their ground truths checked by brute force."""

import networkx as nx
import pytest
import torch

from edgeattr.experiments.ground_truth_data import (
    ba_2motifs,
    ba_shapes,
    infection_path_edges,
    motif_instances,
    own_motif_edges,
    unique_path_nodes,
)
from edgeattr.experiments.infection import infection_graphs


def test_ba_shapes_truth_is_the_nodes_own_house():
    graph = ba_shapes(num_nodes=30, num_edges=3, num_motifs=4, seed=1)
    assert graph.num_nodes == 30 + 4 * 5 and graph.y.bincount().tolist() == [30, 8, 8, 4]
    houses = graph.motif[30:].view(4, 5)
    assert (graph.motif[:30] == -1).all() and (houses == houses[:, :1]).all() and houses[:, 0].unique().numel() == 4
    for node in range(30, 50):
        truth = own_motif_edges(graph, node)
        ends = graph.edge_index[:, truth]
        assert int(truth.sum()) == 12 and (graph.edge_mask[truth] == 1).all()  # a house: 6 edges, both directions
        assert set(ends.view(-1).tolist()) == set((graph.motif == graph.motif[node]).nonzero().view(-1).tolist())
    with pytest.raises(ValueError, match="no motif"):
        own_motif_edges(graph, 0)
    assert torch.equal(ba_shapes(num_nodes=30, num_edges=3, num_motifs=4, seed=1).edge_index, graph.edge_index)  # seeded, NumPy too


def test_ba_2motifs_has_one_motif_per_graph_and_both_labels():
    graphs = ba_2motifs(num_graphs=10, num_nodes=8, seed=0)
    assert sorted(int(g.y) for g in graphs) == [0] * 5 + [1] * 5
    for graph in graphs:
        motif_edges = int(graph.edge_mask.sum())
        assert motif_edges == (12 if int(graph.y) == 0 else 10)  # a house has 6 edges, a 5-cycle 5, both directions
        assert (motif_instances(graph.edge_index, graph.edge_mask, graph.num_nodes) >= 0).sum() == 5
        assert graph.num_nodes == 13 and graph.x.shape == (13, 1)


def test_infection_truth_is_the_unique_shortest_path_from_the_infection():
    graph = infection_graphs(1, 60, 0.06, 4, 3, seed=2)[0]
    digraph = nx.DiGraph(graph.edge_index.t().tolist())
    infected = (graph.y == 0).nonzero().view(-1).tolist()
    unique = set(unique_path_nodes(graph, 3).tolist())
    assert len(unique) >= 5
    for node in ((graph.y >= 1) & (graph.y <= 3)).nonzero().view(-1).tolist():
        paths = [p for s in infected if nx.has_path(digraph, s, node) for p in nx.all_shortest_paths(digraph, s, node)]
        shortest = [p for p in paths if len(p) - 1 == int(graph.y[node])]
        truth = infection_path_edges(graph, node)
        on_paths = {(a, b) for path in shortest for a, b in zip(path[:-1], path[1:])}
        assert {tuple(e) for e in graph.edge_index[:, truth].t().tolist()} == on_paths
        assert (node in unique) == (len(shortest) == 1)
    assert not infection_path_edges(graph, infected[0]).any()

"""Figures of explanations: written, non-trivial, one panel per layer, undirected pairs once, a symmetric scale."""

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection

from edgeattr import explain
from edgeattr.plotting import plot_edge_attribution
from tests.support.zoo import graph_batch, model_of

matplotlib.use("Agg")


def coloured_edges(axis):
    """The values of the edges drawn in colour on one panel (the line collection with a colour array)."""
    (collection,) = [c for c in axis.collections if isinstance(c, LineCollection) and c.get_array() is not None]
    return sorted(collection.get_array().tolist())


def expected_pairs(edge_index, values, edges):
    """Brute force: per unordered pair among ``edges`` (no self-loops), the value of largest magnitude, non-zero ones."""
    best = {}
    for e in sorted(edges):
        u, v = edge_index[:, e].tolist()
        if u == v:
            continue
        key = frozenset((u, v))
        if key not in best or abs(values[e]) > abs(best[key]):
            best[key] = values[e]
    return sorted(v for v in best.values() if v != 0)


def image_of(path):
    pixels = matplotlib.image.imread(str(path))[..., :3]
    return pixels, len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))


# ``layered``, a layerwise explanation of node 4, is the fixture of tests/conftest.py.


def test_a_layerwise_explanation_is_one_panel_per_layer_on_one_symmetric_scale(layered, tmp_path):
    path = tmp_path / "layers.png"
    figure = layered.plot(str(path))
    *panels, colour_bar = figure.axes
    assert len(panels) == len(layered.layer_names) == 2
    assert [a.get_title() for a in panels] == ["layer 0: conv1", "layer 1: conv2"]
    edges = layered.computation_edges.tolist()
    for axis, row in zip(panels, layered.layer_masks):
        assert coloured_edges(axis) == pytest.approx(expected_pairs(layered.edge_index, row.tolist(), edges), abs=0)
    limit = float(layered.layer_masks[:, edges].abs().max())
    assert colour_bar.get_ylim() == pytest.approx((-limit, limit))
    pixels, colours = image_of(path)
    assert pixels.shape[1] > 1.8 * pixels.shape[0]  # panels side by side
    assert colours > 200 and (pixels < 0.95).any(-1).mean() > 0.01


def test_one_panel_marks_the_target_and_draws_only_the_computation_subgraph(layered, tmp_path):
    path = tmp_path / "input.png"
    figure = layered.plot(str(path), layers=False)
    panel, _ = figure.axes
    assert coloured_edges(panel) == pytest.approx(
        expected_pairs(layered.edge_index, layered.edge_mask.tolist(), layered.computation_edges.tolist()), abs=0
    )
    drawn_nodes = {int(t.get_text()) for t in panel.texts}
    assert drawn_nodes == set(layered.edge_index[:, layered.computation_edges].reshape(-1).tolist()) | {4}
    assert drawn_nodes != set(range(layered.num_nodes))
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["target node 4"]
    assert image_of(path)[1] > 200


def test_a_graph_explanation_draws_that_graph_and_marks_no_node(tmp_path):
    x, edge_index, _, batch = graph_batch()
    explanation = explain(model_of("GraphConv", pool=True), x, edge_index, method="edge_occlusion", index=1, batch=batch)
    figure = explanation.plot(str(tmp_path / "graph.png"))
    panel, _ = figure.axes
    assert {int(t.get_text()) for t in panel.texts} == set((batch == 1).nonzero().view(-1).tolist())
    assert not figure.legends and panel.figure.get_suptitle().endswith("graph 1")
    assert image_of(tmp_path / "graph.png")[1] > 100


def test_the_default_edges_are_those_with_an_attribution_and_opposite_signs_do_not_cancel(tmp_path):
    edge_index = torch.tensor([[0, 1, 1, 2, 3], [1, 0, 2, 1, 3]])
    attribution = torch.tensor([0.5, -0.8, 0.0, 0.0, 2.0], dtype=torch.float64)
    figure = plot_edge_attribution(edge_index, attribution, 0, str(tmp_path / "small.png"))
    panel, colour_bar = figure.axes
    assert coloured_edges(panel) == [-0.8]  # the pair (0, 1) once, by magnitude; the self-loop is not drawn
    assert colour_bar.get_ylim() == pytest.approx((-0.8, 0.8))


def test_bad_shapes_are_named(tmp_path):
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"attribution must have shape \(2,\) or \(L, 2\)"):
        plot_edge_attribution(edge_index, torch.ones(3), 0, str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="panel_titles holds 1 titles for 2 rows"):
        plot_edge_attribution(edge_index, torch.ones(2, 2), 0, str(tmp_path / "x.png"), panel_titles=["a"])

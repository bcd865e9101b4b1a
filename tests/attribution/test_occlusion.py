"""EdgeOcclusion and LayerwiseOcclusion against brute-force loops over the model."""

import pytest
import torch

from edgeattr import EdgeOcclusion, LayerwiseOcclusion, PyGAdapter
from tests.support.zoo import explained, model_of, random_graph, reference_output

NODE = 10
LAYERS = ["GCNConv", "GATConv", "SAGEConv-mean", "GINConv", "GraphConv"]


def setup(name):
    x, edge_index, _ = random_graph()
    model = model_of(name)
    target = int(model(x, edge_index)[NODE].argmax())
    return model, x, edge_index, target


@pytest.mark.parametrize("name", LAYERS)
def test_message_occlusion_equals_a_loop_zeroing_one_message(name):
    model, x, edge_index, target = setup(name)
    E = edge_index.size(1)
    ones = torch.ones(E, dtype=torch.float64)
    with torch.no_grad():
        base = explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, ones), target)
        expected = torch.stack([
            base - explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, ones.index_fill(0, torch.tensor([e]), 0.0)), target)
            for e in range(E)
        ])
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    for per_eval in (None, 1, 7):
        got = EdgeOcclusion(adapter).attribute(adapter.ones(), perturbations_per_eval=per_eval)[0]
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    assert expected.abs().sum() > 0
    sample = expected.nonzero().view(-1)[::2]
    got = EdgeOcclusion(adapter).attribute(adapter.ones(), edges=sample)[0]
    torch.testing.assert_close(got, torch.zeros_like(expected).index_copy(0, sample, expected[sample]), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_remove_mode_equals_deleting_the_edge_from_edge_index(name):
    model, x, edge_index, target = setup(name)
    E = edge_index.size(1)
    with torch.no_grad():
        base = explained(model(x, edge_index)[NODE], target)
        expected = torch.stack([
            base - explained(model(x, torch.cat([edge_index[:, :e], edge_index[:, e + 1 :]], 1))[NODE], target)
            for e in range(E)
        ])
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    got = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove", perturbations_per_eval=5)[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_layerwise_message_occlusion_equals_a_loop_over_layers_and_edges(name):
    model, x, edge_index, target = setup(name)
    E = edge_index.size(1)
    ones = [torch.ones(E, dtype=torch.float64) for _ in range(2)]
    expected = torch.zeros(2, E, dtype=torch.float64)
    with torch.no_grad():
        base = explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, ones), target)
        for layer in range(2):
            for e in range(E):
                masks = [m.clone() for m in ones]
                masks[layer][e] = 0
                expected[layer, e] = base - explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, masks), target)
    adapter = PyGAdapter(model, x, edge_index, index=NODE, layerwise=True)
    got = LayerwiseOcclusion(adapter).attribute(adapter.ones())[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    sample = expected.abs().sum(0).nonzero().view(-1)[::2]  # occlude some edges only, in both layers
    chosen = torch.isin(torch.arange(E), sample)
    got = LayerwiseOcclusion(adapter).attribute(adapter.ones(), edges=sample)[0]
    torch.testing.assert_close(got[:, chosen], expected[:, chosen], rtol=1e-9, atol=1e-12)
    assert (got[:, ~chosen] == 0).all() and (expected[:, ~chosen] != 0).any()


@pytest.mark.parametrize("name", ["GCNConv", "SAGEConv-mean", "GATConv"])
def test_layerwise_remove_mode_deletes_the_edge_from_one_layer_only(name):
    model, x, edge_index, target = setup(name)
    E = edge_index.size(1)

    def run(ei1, ei2):
        return explained(model.conv2(model.conv1(x, ei1).relu(), ei2)[NODE], target)

    expected = torch.zeros(2, E, dtype=torch.float64)
    with torch.no_grad():
        base = run(edge_index, edge_index)
        for e in range(E):
            cut = torch.cat([edge_index[:, :e], edge_index[:, e + 1 :]], 1)
            expected[0, e] = base - run(cut, edge_index)
            expected[1, e] = base - run(edge_index, cut)
    adapter = PyGAdapter(model, x, edge_index, index=NODE, layerwise=True)
    got = LayerwiseOcclusion(adapter).attribute(adapter.ones(), mode="remove")[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    # Removing from one layer differs from zeroing its message for degree-normalised layers.
    if name == "GCNConv":
        assert not torch.allclose(got, LayerwiseOcclusion(adapter).attribute(adapter.ones())[0])


def test_occlusion_of_a_batch_of_masks_with_per_mask_targets():
    model, x, edge_index, _ = setup("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    masks = torch.rand(3, edge_index.size(1), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    targets = [0, 2, 1]
    got = EdgeOcclusion(adapter).attribute(masks, target=targets)
    for b in range(3):
        single = EdgeOcclusion(adapter).attribute(masks[b : b + 1], target=targets[b])
        torch.testing.assert_close(got[b : b + 1], single, rtol=1e-9, atol=1e-12)
        e = int(adapter.edge_ids[0])
        occluded = masks[b].clone()
        occluded[e] = 0
        with torch.no_grad():
            drop = reference_output(model, (x, edge_index), {}, edge_index, NODE, masks[b])[targets[b]] - reference_output(
                model, (x, edge_index), {}, edge_index, NODE, occluded
            )[targets[b]]
        torch.testing.assert_close(got[b, e], drop, rtol=1e-9, atol=1e-12)


def test_occlusion_rejects_bad_modes_and_layerwise_needs_a_layerwise_adapter():
    model, x, edge_index, _ = setup("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    with pytest.raises(ValueError, match="mode must be one of"):
        EdgeOcclusion(adapter).attribute(adapter.ones(), mode="zero")
    with pytest.raises(ValueError, match="0/1 masks"):
        EdgeOcclusion(adapter).attribute(adapter.ones() * 0.5, mode="remove")
    with pytest.raises(ValueError, match="layerwise=True"):
        LayerwiseOcclusion(adapter)

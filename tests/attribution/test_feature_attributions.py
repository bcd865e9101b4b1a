"""Node-feature attributions beside edge masks: adapters built with features=True, through edgeattr's and Captum's methods.

Every gradient is checked against torch.autograd.grad of the model's own output (PyG's set_masks
for masks other than 1), computed on the full graph without edgeattr.
"""

import pytest
import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv
from torch_geometric.utils import k_hop_subgraph

from edgeattr import EdgeGradient, EdgeOcclusion, FallbackWarning, GradientSign, PyGAdapter, PyGHeteroAdapter
from edgeattr.adapters.base import AdapterInterface
from tests.support.hetero import NODE_TYPE, NodeModel, hetero_graph
from tests.support.zoo import graph_batch, model_of, random_graph, reference_output
from tests.zoo.pyg_models import GAT, GCN

TARGETS = torch.tensor([3, 7, 11])
CLASSES = [0, 2, 1]


def examples(name):
    """A model as PyG's examples write it (examples/gcn.py, examples/gat.py), seeded, in float64 and eval mode."""
    torch.manual_seed(0)
    model = GCN(5, 8, 3) if name == "GCN" else GAT(5, 4, 3, heads=2)
    return model.double().eval()


def graph():
    return random_graph(num_nodes=30, num_edges=80, seed=2)[:2]


def reference_feature_gradient(model, x, edge_index, node, target, mask=None):
    """dz/dx of the model's own output on the full graph, the mask (if any) applied by PyG's set_masks."""
    x = x.detach().clone().requires_grad_(True)
    if mask is None:
        z = model(x, edge_index)[node, target]
    else:
        z = reference_output(model, (x, edge_index), {}, edge_index, node, mask)[target]
    return torch.autograd.grad(z, x)[0]


@pytest.mark.parametrize("name", ["GCN", "GAT"])
@pytest.mark.parametrize("restrict", [True, False])
def test_feature_gradients_of_several_targets_are_autograds_of_the_model(name, restrict):
    x, edge_index = graph()
    model = examples(name)
    adapter = PyGAdapter(model, x, edge_index, index=TARGETS, features=True, restrict=restrict)
    assert isinstance(adapter, AdapterInterface) and adapter.features
    mask, features = adapter.inputs()
    assert mask.shape == (3, edge_index.size(1)) and features.shape == (3,) + tuple(x.shape)
    assert torch.equal(features, x.expand(3, -1, -1)) and features.data_ptr() != x.data_ptr()
    edge_grad, feature_grad = EdgeGradient(adapter).attribute((mask, features), target=CLASSES)
    for t, (node, target) in enumerate(zip(TARGETS.tolist(), CLASSES)):
        torch.testing.assert_close(feature_grad[t], reference_feature_gradient(model, x, edge_index, node, target), rtol=0, atol=1e-12)
    # The edge attribution is the one of the mask alone.
    torch.testing.assert_close(edge_grad, EdgeGradient(adapter).attribute(mask, target=CLASSES), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["GCN", "GAT"])
def test_row_b_of_the_features_feeds_the_pass_of_mask_row_b(name):
    # Two rounds of three targets, run as copies in one pass: each row has masks and features of its own.
    x, edge_index = graph()
    model = examples(name)
    adapter = PyGAdapter(model, x, edge_index, index=TARGETS, features=True)
    assert adapter.copies_per_pass > 1
    generator = torch.Generator().manual_seed(1)
    masks = torch.rand(6, edge_index.size(1), generator=generator, dtype=torch.float64)
    features = x + 0.3 * torch.randn((6,) + tuple(x.shape), generator=generator, dtype=torch.float64)
    _, feature_grad = EdgeGradient(adapter).attribute((masks, features), target=CLASSES * 2)
    for b in range(6):
        node, target = int(TARGETS[b % 3]), CLASSES[b % 3]
        expected = reference_feature_gradient(model, features[b], edge_index, node, target, mask=masks[b])
        torch.testing.assert_close(feature_grad[b], expected, rtol=0, atol=1e-12)
    with torch.no_grad():
        rows = adapter(masks, features)
    for b in range(6):
        expected = reference_output(model, (features[b], edge_index), {}, edge_index, int(TARGETS[b % 3]), masks[b])
        torch.testing.assert_close(rows[b], expected.detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["GCN", "GAT"])
def test_features_outside_the_computation_subgraph_get_exact_zeros(name):
    x, edge_index = graph()
    adapter = PyGAdapter(examples(name), x, edge_index, index=TARGETS, features=True)
    _, feature_grad = EdgeGradient(adapter).attribute(adapter.inputs(), target=CLASSES)
    for t, node in enumerate(TARGETS.tolist()):
        inside = torch.zeros(x.size(0), dtype=torch.bool)
        inside[k_hop_subgraph(node, 2, edge_index, num_nodes=x.size(0))[0]] = True
        assert (feature_grad[t][~inside] == 0).all()
        assert (~inside).any() and (feature_grad[t][inside].abs().sum(1) > 0).all()


def test_a_graph_target_gets_its_graphs_feature_gradients_and_zeros_elsewhere():
    x, edge_index, _, batch = graph_batch()
    model = model_of("GCNConv", pool=True)
    adapter = PyGAdapter(model, x, edge_index, batch=batch, index=torch.tensor([2, 0]), features=True)
    _, feature_grad = EdgeGradient(adapter).attribute(adapter.inputs(), target=[1, 0])
    for t, (graph_id, target) in enumerate([(2, 1), (0, 0)]):
        leaf = x.clone().requires_grad_(True)
        expected = torch.autograd.grad(model(leaf, edge_index, batch=batch)[graph_id, target], leaf)[0]
        torch.testing.assert_close(feature_grad[t], expected, rtol=0, atol=1e-12)
        assert (feature_grad[t][batch != graph_id] == 0).all()


def test_integrated_gradients_are_complete_over_the_mask_and_the_features():
    x, edge_index = graph()
    adapter = PyGAdapter(examples("GCN"), x, edge_index, index=TARGETS, features=True)
    inputs = adapter.inputs()
    baselines = tuple(torch.zeros_like(value) for value in inputs)
    (mask_ig, feature_ig), delta = IntegratedGradients(adapter).attribute(
        inputs, baselines=baselines, target=CLASSES, n_steps=300, return_convergence_delta=True
    )
    with torch.no_grad():
        classes = torch.tensor(CLASSES).view(-1, 1)
        gap = (adapter(*inputs).gather(1, classes) - adapter(*baselines).gather(1, classes)).view(-1)
    total = mask_ig.sum(1) + feature_ig.flatten(1).sum(1)
    torch.testing.assert_close(total, gap, rtol=0, atol=1e-3)
    assert delta.abs().max() < 1e-3
    assert feature_ig.abs().sum() > 0 and mask_ig.abs().sum() > 0


def test_saliency_and_noise_tunnel_take_the_mask_and_the_features():
    x, edge_index = graph()
    adapter = PyGAdapter(examples("GAT"), x, edge_index, index=TARGETS, features=True)
    inputs = adapter.inputs()
    gradients = EdgeGradient(adapter).attribute(inputs, target=CLASSES)
    with pytest.warns(UserWarning, match="did not already require gradients"):
        saliency = Saliency(adapter).attribute(inputs, target=CLASSES)
    for ours, theirs in zip(gradients, saliency):
        torch.testing.assert_close(theirs, ours.abs(), rtol=0, atol=0)
    # NoiseTunnel repeats each row in place (row b's samples side by side), so it takes one target per adapter.
    single = PyGAdapter(examples("GAT"), x, edge_index, index=int(TARGETS[1]), features=True)
    inputs = single.inputs()
    gradients = EdgeGradient(single).attribute(inputs, target=CLASSES[1])
    # Without noise, SmoothGrad is the gradient; with noise, both attributions keep their shapes.
    still = NoiseTunnel(EdgeGradient(single)).attribute(inputs, nt_type="smoothgrad", nt_samples=3, stdevs=0.0, target=CLASSES[1])
    for ours, theirs in zip(gradients, still):
        torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-12)
    torch.manual_seed(0)
    noisy = NoiseTunnel(IntegratedGradients(single)).attribute(inputs, nt_type="smoothgrad", nt_samples=3, stdevs=(0.1, 0.1), target=CLASSES[1], n_steps=8)
    assert [value.shape for value in noisy] == [value.shape for value in inputs]
    assert all(value.abs().sum() > 0 for value in noisy)


def test_the_gradients_convergence_delta_sums_both_attributions():
    x, edge_index = graph()
    adapter = PyGAdapter(examples("GCN"), x, edge_index, index=TARGETS, features=True)
    inputs = adapter.inputs()
    gradients = EdgeGradient(adapter).attribute(inputs, target=CLASSES)
    delta = EdgeGradient(adapter).compute_convergence_delta(gradients, None, inputs, target=CLASSES)
    with torch.no_grad():
        classes = torch.tensor(CLASSES).view(-1, 1)
        gap = (adapter(*inputs).gather(1, classes) - adapter(*(torch.zeros_like(v) for v in inputs)).gather(1, classes)).view(-1)
    torch.testing.assert_close(delta, gradients[0].sum(1) + gradients[1].flatten(1).sum(1) - gap, rtol=0, atol=1e-12)


class Centred(torch.nn.Module):
    """A GCN whose hidden features are centred over all nodes: not local, so the adapter falls back to the exact path."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(5, 8), GCNConv(8, 3)

    def forward(self, x, edge_index):
        h = self.conv1(x, edge_index).relu()
        return self.conv2(h - h.mean(0), edge_index)


def test_the_exact_path_gives_the_models_feature_gradients():
    x, edge_index = graph()
    torch.manual_seed(0)
    model = Centred().double().eval()
    with pytest.warns(FallbackWarning):
        adapter = PyGAdapter(model, x, edge_index, index=TARGETS, features=True)
    assert adapter.exact_path
    _, feature_grad = EdgeGradient(adapter).attribute(adapter.inputs(), target=CLASSES)
    for t, (node, target) in enumerate(zip(TARGETS.tolist(), CLASSES)):
        torch.testing.assert_close(feature_grad[t], reference_feature_gradient(model, x, edge_index, node, target), rtol=0, atol=1e-12)


class OnData(torch.nn.Module):
    """A GCN called with a PyG Data object, model(data), that also carries node positions."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(5, 8), GCNConv(8, 3)

    def forward(self, data):
        h = self.conv1(data.x + data.pos.sum(1, keepdim=True), data.edge_index).relu()
        return self.conv2(h, data.edge_index)


def test_features_inside_a_data_object_are_named_with_features_arg():
    x, edge_index = graph()
    pos = torch.randn(x.size(0), 2, dtype=x.dtype, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    model = OnData().double().eval()
    data = Data(x=x, edge_index=edge_index, pos=pos)
    with pytest.raises(ValueError, match=r"several floating node-level arguments, \['x', 'pos'\]; name the one .* features_arg="):
        PyGAdapter(model, data, index=3, features=True)
    adapter = PyGAdapter(model, data, index=3, features=True, features_arg="x")
    _, feature_grad = EdgeGradient(adapter).attribute(adapter.inputs(), target=1)
    leaf = x.clone().requires_grad_(True)
    expected = torch.autograd.grad(model(Data(x=leaf, edge_index=edge_index, pos=pos))[3, 1], leaf)[0]
    torch.testing.assert_close(feature_grad[0], expected, rtol=0, atol=1e-12)


def test_features_in_another_dtype_are_cast_and_their_gradient_comes_back_in_theirs():
    x, edge_index = graph()
    torch.manual_seed(0)
    model = GCN(5, 8, 3).eval()  # float32
    adapter = PyGAdapter(model, x.float(), edge_index, index=3, features=True)
    mask, features = adapter.inputs()
    _, single = EdgeGradient(adapter).attribute((mask, features), target=1)
    _, double = EdgeGradient(adapter).attribute((mask, features.double()), target=1)
    assert double.dtype == torch.float64
    torch.testing.assert_close(double.float(), single, rtol=0, atol=0)


def test_wrong_feature_inputs_are_refused_naming_the_fix():
    x, edge_index = graph()
    model = examples("GCN")
    plain = PyGAdapter(model, x, edge_index, index=3)
    assert plain.inputs()[0].shape == plain.ones().shape and len(plain.inputs()) == 1 and not plain.features
    with pytest.raises(TypeError, match="built without features=True: build it with features=True"):
        plain(plain.ones(), x.unsqueeze(0))
    with pytest.raises(ValueError, match="pass features=True too"):
        PyGAdapter(model, x, edge_index, index=3, features_arg="x")
    with pytest.raises(ValueError, match="features_arg='edge_index' names an argument that is not a floating tensor"):
        PyGAdapter(model, x, edge_index, index=3, features=True, features_arg="edge_index")
    with pytest.raises(ValueError, match="features_arg='h' names no argument"):
        PyGAdapter(model, x, edge_index, index=3, features=True, features_arg="h")
    adapter = PyGAdapter(model, x, edge_index, index=TARGETS, features=True)
    mask, features = adapter.inputs()
    with pytest.raises(ValueError, match=r"shape \(3, 30, 5\) \(B = 3 rows of the mask\), got \(1, 30, 5\)"):
        adapter(mask, features[:1])
    with pytest.raises(ValueError, match="contains NaN or inf"):
        adapter(mask, features * float("nan"))
    with pytest.raises(TypeError, match="must have a floating dtype"):
        adapter(mask, features.long())
    with pytest.raises(ValueError, match=r"this method attributes edges only; the inputs \(mask, x\)"):
        EdgeOcclusion(adapter).attribute((mask, features))
    with pytest.raises(ValueError, match="this method attributes edges only"):
        GradientSign(adapter).attribute((mask, features))
    with pytest.raises(ValueError, match="the node features hold 1 rows for 3 masks"):
        EdgeGradient(adapter).attribute((mask, features[:1]))


def test_hetero_adapters_refuse_features_naming_the_alternative():
    x_dict, edge_index_dict = hetero_graph()
    with pytest.raises(ValueError, match="PyGHeteroAdapter attributes edges only, not node features.*CaptumExplainer"):
        PyGHeteroAdapter(NodeModel().eval(), x_dict, edge_index_dict, index=0, node_type=NODE_TYPE, features=True)
    adapter = PyGHeteroAdapter(NodeModel().eval(), x_dict, edge_index_dict, index=0, node_type=NODE_TYPE)
    assert not adapter.features and len(adapter.inputs()) == 1
    with pytest.raises(TypeError, match="takes an edge mask only, so x .* cannot be passed; for node features, attribute x_dict"):
        adapter(adapter.ones(), x_dict[NODE_TYPE].unsqueeze(0))


class DetachesItsFeatures(torch.nn.Module):
    """Runs on x detached: its output does not depend on the features, for autograd."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        return self.conv(x.detach(), edge_index)


def test_an_output_that_does_not_depend_on_the_features_is_refused():
    x, edge_index = graph()
    adapter = PyGAdapter(DetachesItsFeatures().double().eval(), x, edge_index, index=3, features=True)
    with pytest.raises(ValueError, match="does not depend on the node features x"):
        EdgeGradient(adapter).attribute(adapter.inputs(), target=0)

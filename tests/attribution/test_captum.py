"""Captum's own methods and metrics on the adapter, and edgeattr's methods inside Captum."""

import pytest
import torch
from captum.attr import FeatureAblation, IntegratedGradients, NoiseTunnel, Saliency
from captum.metrics import infidelity, sensitivity_max

from edgeattr import EdgeGradient, GradientSign, PyGAdapter
from tests.support.zoo import explained, model_of, random_graph, reference_gradient, reference_output

NODE = 10


@pytest.fixture()
def case():
    x, edge_index, _ = random_graph()
    model = model_of("GATConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    target = int(model(x, edge_index)[NODE].argmax())
    return model, x, edge_index, adapter, target


def z_at(case, mask):
    model, x, edge_index, _, target = case
    with torch.no_grad():
        return explained(reference_output(model, (x, edge_index), {}, edge_index, NODE, mask.view(-1)), target)


class Recorder:
    """A forward_func that records the masks Captum passes to the adapter."""

    def __init__(self, adapter):
        self.adapter, self.masks = adapter, []

    def __call__(self, mask):
        self.masks.append(mask.detach().clone())
        return self.adapter(mask)


def test_saliency_on_the_adapter_is_the_reference_gradient(case):
    model, x, edge_index, adapter, target = case
    got = Saliency(adapter).attribute(adapter.ones(), target=target, abs=False)
    torch.testing.assert_close(got[0], reference_gradient(model, (x, edge_index), {}, edge_index, NODE, target), rtol=1e-9, atol=1e-12)


def test_noise_tunnel_over_edge_gradient_averages_reference_gradients(case):
    model, x, edge_index, adapter, target = case
    recorder = Recorder(adapter)
    torch.manual_seed(0)
    got = NoiseTunnel(EdgeGradient(recorder)).attribute(adapter.ones(), nt_type="smoothgrad", nt_samples=4, stdevs=0.1, target=target)
    noisy = [m for m in recorder.masks if m.size(0) == 4][0]
    assert noisy.std() > 0.05  # the masks really were perturbed
    expected = torch.stack([reference_gradient(model, (x, edge_index), {}, edge_index, NODE, target, at=m) for m in noisy]).mean(0)
    torch.testing.assert_close(got[0], expected, rtol=1e-9, atol=1e-12)
    assert isinstance(NoiseTunnel(GradientSign(adapter)).attribute((adapter.ones(),), nt_samples=2, target=target), tuple)


def test_integrated_gradients_is_complete(case):
    _, _, _, adapter, target = case
    attributions, delta = IntegratedGradients(adapter).attribute(
        adapter.ones(), baselines=torch.zeros_like(adapter.ones()), target=target, n_steps=64, return_convergence_delta=True
    )
    assert abs(float(delta)) < 1e-3
    total = z_at(case, adapter.ones()) - z_at(case, torch.zeros_like(adapter.ones()))
    assert abs(float(attributions.sum() - total)) < 1e-3 and abs(float(total)) > 1e-2


def test_feature_ablation_with_several_perturbations_per_eval_is_brute_force_occlusion(case):
    _, _, _, adapter, target = case
    got = FeatureAblation(adapter).attribute(adapter.ones(), target=target, perturbations_per_eval=8)
    base = z_at(case, adapter.ones())
    expected = torch.stack([base - z_at(case, adapter.ones().index_fill(1, torch.tensor([e]), 0.0)) for e in range(adapter.num_edges)])
    torch.testing.assert_close(got[0], expected, rtol=1e-9, atol=1e-12)


def test_infidelity_with_default_batching_matches_its_definition(case):
    _, _, _, adapter, target = case
    attributions = EdgeGradient(adapter).attribute(adapter.ones(), target=target)
    generator = torch.Generator().manual_seed(0)
    drawn = []

    def perturb(inputs):
        noise = torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype) * 0.2
        drawn.append(noise)
        return noise, inputs - noise

    got = infidelity(adapter, perturb, adapter.ones(), attributions, target=target, n_perturb_samples=5)
    noise = torch.cat(drawn)
    assert noise.size(0) == 5
    base = z_at(case, adapter.ones())
    errors = [(float((n * attributions[0]).sum()) - float(base - z_at(case, adapter.ones()[0] - n))) ** 2 for n in noise]
    assert abs(float(got) - sum(errors) / len(errors)) < 1e-9


def test_sensitivity_max_runs_gradient_methods_under_no_grad(case):
    _, _, _, adapter, target = case
    explain = EdgeGradient(adapter).attribute
    generator = torch.Generator().manual_seed(1)
    drawn = []

    def perturb(inputs):
        noise = (torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype) - 0.5) * 0.04
        drawn.append(inputs + noise)
        return inputs + noise

    got = sensitivity_max(explain, adapter.ones(), perturb_func=perturb, n_perturb_samples=4, target=target)
    base = explain(adapter.ones(), target=target)
    expected = max(float((explain(m.view(1, -1), target=target) - base).norm() / base.norm()) for m in torch.cat(drawn))
    assert float(got) > 0
    assert abs(float(got) - expected) < 1e-9


def test_tuple_in_tuple_out_and_additional_forward_args_are_refused(case):
    _, _, _, adapter, _ = case
    out = EdgeGradient(adapter).attribute((adapter.ones(),))
    assert isinstance(out, tuple) and out[0].shape == adapter.ones().shape
    with pytest.raises(ValueError, match="bind the graph"):
        EdgeGradient(adapter).attribute(adapter.ones(), additional_forward_args=(1,))

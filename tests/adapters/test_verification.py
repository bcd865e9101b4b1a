"""The adapter checks its shortcuts against the model's own output: local models pass, others fall back and stay exact."""

import copy
import gc
import warnings
import weakref

import pytest
import torch
from torch_geometric.nn import GCNConv, GraphNorm, GraphSizeNorm, InstanceNorm, LayerNorm, MeanSubtractionNorm, PairNorm, global_mean_pool

from edgeattr import EdgeGradient, EdgeOcclusion, FallbackWarning, PyGAdapter, VerificationError
from tests.support.zoo import graph_batch, model_of, random_graph, reference_gradient, reference_output

NODE = 10
TARGETS = torch.tensor([10, 3, 0, 7])


class Normalised(torch.nn.Module):
    """conv -> normalisation -> relu -> conv, as PyG's examples place a norm between convolutions."""

    def __init__(self, norm):
        super().__init__()
        self.conv1, self.norm, self.conv2 = GCNConv(5, 8), norm, GCNConv(8, 3)

    def forward(self, x, edge_index):
        h = self.norm(self.conv1(x, edge_index))
        return self.conv2(h.relu(), edge_index)


class Functional(torch.nn.Module):
    """A global operation written inline in forward, on all nodes of the input."""

    def __init__(self, op):
        super().__init__()
        self.conv1, self.conv2, self.op = GCNConv(5, 8), GCNConv(8, 3), op

    def forward(self, x, edge_index):
        h = self.op(self.conv1(x, edge_index))
        return self.conv2(h.relu(), edge_index)


#: Models whose output at a node depends on nodes outside its computation subgraph, or whose copies interact.
NOT_LOCAL = {
    "GraphNorm": lambda: Normalised(GraphNorm(8)),
    "LayerNorm(mode='graph')": lambda: Normalised(LayerNorm(8, mode="graph")),
    "PairNorm": lambda: Normalised(PairNorm()),
    "InstanceNorm": lambda: Normalised(InstanceNorm(8)),
    "GraphSizeNorm": lambda: Normalised(GraphSizeNorm()),
    "MeanSubtractionNorm": lambda: Normalised(MeanSubtractionNorm()),
    "BatchNorm1d(track_running_stats=False)": lambda: Normalised(torch.nn.BatchNorm1d(8, track_running_stats=False)),
    "h - h.mean(0)": lambda: Functional(lambda h: h - h.mean(0)),
    "global softmax": lambda: Functional(lambda h: torch.softmax(h, 0)),
}


def not_local(name):
    torch.manual_seed(0)
    return NOT_LOCAL[name]().double().eval()


def brute_force_occlusion(model, x, edge_index, node, target):
    """z(1) - z(w_e = 0) for every edge, each through PyG's own set_masks on the full graph."""
    ones = torch.ones(edge_index.size(1), dtype=torch.float64)
    base = reference_output(model, (x, edge_index), {}, edge_index, node, ones)[target]
    dropped = []
    for edge in range(edge_index.size(1)):
        mask = ones.clone()
        mask[edge] = 0
        dropped.append(reference_output(model, (x, edge_index), {}, edge_index, node, mask)[target])
    return base - torch.stack(dropped)


@pytest.mark.parametrize("name", list(NOT_LOCAL))
def test_a_model_that_is_not_local_falls_back_with_a_warning_and_equals_the_reference(name):
    x, edge_index, _ = random_graph()
    model = not_local(name)
    with pytest.warns(FallbackWarning, match="not local|see each other"):
        adapter = PyGAdapter(model, x, edge_index, index=NODE)
    assert adapter.exact_path
    target = int(model(x, edge_index)[NODE].argmax())
    expected = reference_gradient(model, (x, edge_index), {}, edge_index, NODE, target)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)
    occlusion = EdgeOcclusion(adapter).attribute(adapter.ones(), target=target)[0]
    torch.testing.assert_close(occlusion, brute_force_occlusion(model, x, edge_index, NODE, target), rtol=1e-9, atol=1e-12)
    # Without the check, the restricted pass explains another function: the silent wrong answer it prevents.
    unverified = PyGAdapter(model, x, edge_index, index=NODE, verify=False)
    assert not torch.allclose(EdgeGradient(unverified).attribute(unverified.ones())[0], expected, atol=1e-6)


@pytest.mark.parametrize("name", ["GraphNorm", "BatchNorm1d(track_running_stats=False)", "h - h.mean(0)"])
def test_many_targets_and_batched_masks_of_a_model_that_is_not_local_equal_one_at_a_time(name):
    x, edge_index, _ = random_graph()
    model = not_local(name)
    with pytest.warns(FallbackWarning):
        adapter = PyGAdapter(model, x, edge_index, index=TARGETS)
    masks = torch.rand(3 * TARGETS.numel(), edge_index.size(1), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gradient = EdgeGradient(adapter).attribute(masks, target=0)
    for row, node in enumerate(TARGETS.repeat(3).tolist()):
        expected = reference_gradient(model, (x, edge_index), {}, edge_index, node, 0, at=masks[row])
        torch.testing.assert_close(gradient[row], expected, rtol=1e-9, atol=1e-12)


def test_graphnorm_per_graph_in_a_graph_task_is_local():
    """With the batch vector, GraphNorm normalises each graph alone: the restricted, batched path is exact."""

    class GraphClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm, self.head = GCNConv(5, 8), GraphNorm(8), torch.nn.Linear(8, 3)

        def forward(self, x, edge_index, batch):
            h = self.norm(self.conv(x, edge_index), batch).relu()
            return self.head(global_mean_pool(h, batch))

    x, edge_index, _, batch = graph_batch()
    torch.manual_seed(0)
    model = GraphClassifier().double().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        adapter = PyGAdapter(model, x, edge_index, batch=batch, index=torch.tensor([0, 2]))
    assert not adapter.exact_path and adapter.copies_per_pass > 1
    gradient = EdgeGradient(adapter).attribute(adapter.ones(), target=1)
    for row, graph in enumerate((0, 2)):
        expected = reference_gradient(model, (x, edge_index), {"batch": batch}, edge_index, graph, 1)
        torch.testing.assert_close(gradient[row], expected, rtol=1e-9, atol=1e-12)


class Counting:
    """Counts the model's calls on the user's own node features (the verification's full-graph pass)."""

    def __init__(self, model, x):
        self.calls = 0
        model.register_forward_pre_hook(lambda module, args: self._seen(args[0] is x))

    def _seen(self, full):
        self.calls += full


def test_a_local_model_passes_without_fallback_and_a_loop_over_nodes_runs_the_full_graph_once():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    counting = Counting(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        adapters = [PyGAdapter(model, x, edge_index, index=node) for node in (10, 3, 0, 7, 13)]
    assert counting.calls == 1 and not any(adapter.exact_path for adapter in adapters)
    for adapter in adapters:
        target = int(model(x, edge_index)[adapter.index].argmax())
        expected = reference_gradient(model, (x, edge_index), {}, edge_index, adapter.index, target)
        torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)


def test_the_check_is_run_again_when_parameters_settings_or_inputs_change():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    counting = Counting(model, x)
    PyGAdapter(model, x, edge_index, index=NODE)
    PyGAdapter(model, x, edge_index, index=3)
    assert counting.calls == 1
    with torch.no_grad():
        model.conv1.lin.weight.mul_(1.5)  # an in-place update, as an optimiser step makes
    PyGAdapter(model, x, edge_index, index=NODE)
    assert counting.calls == 2
    model.conv1.normalize = False
    PyGAdapter(model, x, edge_index, index=NODE)
    assert counting.calls == 3
    PyGAdapter(model, x.clone(), edge_index, index=NODE)  # other inputs: not counted, but checked anew
    PyGAdapter(model, x, edge_index, index=NODE)
    assert counting.calls == 3


class Noisy(torch.nn.Module):
    """Adds fresh noise in forward, also in eval mode: no two runs agree."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        return self.conv(x, edge_index) + torch.randn(x.size(0), 3, dtype=x.dtype)


def test_a_model_that_is_not_deterministic_is_a_clear_error_not_a_fallback():
    x, edge_index, _ = random_graph()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        with pytest.raises(VerificationError, match="not deterministic"):
            PyGAdapter(Noisy().double(), x, edge_index, index=NODE)


def test_verify_false_skips_the_full_graph_pass():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    counting = Counting(model, x)
    adapter = PyGAdapter(model, x, edge_index, index=NODE, verify=False)
    assert counting.calls == 0
    torch.testing.assert_close(adapter(adapter.ones())[0], model(x, edge_index)[NODE], rtol=0, atol=1e-12)


def test_a_single_conv_model_is_freed_after_its_explanation():
    x, edge_index, _ = random_graph()
    model = GCNConv(5, 3).double()
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    EdgeGradient(adapter).attribute(adapter.ones())
    alive = weakref.ref(model)
    del model, adapter
    gc.collect()
    assert alive() is None


def test_a_changed_self_loop_setting_is_discovered_anew():
    x, edge_index, _ = random_graph(self_loops=True, seed=3)
    assert (edge_index[0] == edge_index[1]).any()
    torch.manual_seed(0)
    model = GCNConv(5, 3).double()
    PyGAdapter(model, x, edge_index, index=NODE)  # discovers a layer that replaces input self-loops
    model.add_self_loops = False
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    target = int(model(x, edge_index)[NODE].argmax())
    expected = reference_gradient(model, (x, edge_index), {}, edge_index, NODE, target)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)


def test_the_copy_of_a_model_is_checked_on_its_own():
    x, edge_index, _ = random_graph()
    model = not_local("GraphNorm")
    with pytest.warns(FallbackWarning):
        PyGAdapter(model, x, edge_index, index=NODE)
    twin = copy.deepcopy(model)
    with pytest.warns(FallbackWarning):
        assert PyGAdapter(twin, x, edge_index, index=NODE).exact_path


def test_an_adapter_is_freed_as_soon_as_it_goes_out_of_scope():
    """No reference cycle keeps an adapter (and the copies of the graph it holds) alive until a garbage collection."""
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=torch.tensor([3, 10]))
    EdgeGradient(adapter).attribute(adapter.ones())
    alive = weakref.ref(adapter)
    gc.disable()
    try:
        del adapter
        assert alive() is None
    finally:
        gc.enable()

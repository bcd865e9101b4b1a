"""On a GPU: every method, explain(), explain_all and link prediction give on CUDA tensors what they give on the CPU.

The model and graph move to the GPU as a user's code moves them (``.to('cuda')``); the results are
compared with the same calls on the CPU copies. Skipped where torch sees no CUDA device.
"""

import pytest
import torch

from edgeattr import (
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    GradientSign,
    LayerwiseOcclusion,
    PyGAdapter,
    explain,
    explain_all,
    read_attributions,
)
from tests.support.links import GCNDot
from tests.support.zoo import model_of, random_graph

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU checks run where torch sees one")

CUDA = torch.device("cuda")
NODES = torch.tensor([0, 4, 9])


@pytest.fixture(scope="module")
def twins():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv").float()
    return (model, x.float(), edge_index), (model_of("GCNConv").float().to(CUDA), x.float().to(CUDA), edge_index.to(CUDA))


def _assert_equal_on_both(cpu, gpu, atol=1e-5):
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("method, layerwise", [(EdgeGradient, False), (GradientSign, False), (EdgeOcclusion, False), (LayerwiseOcclusion, True)])
@pytest.mark.parametrize("index", [4, NODES], ids=["one node", "three nodes"])
def test_each_method_on_cuda_equals_the_cpu(twins, method, layerwise, index):
    results = []
    for model, x, edge_index in twins:
        adapter = PyGAdapter(model, x, edge_index, index=index.to(x.device) if isinstance(index, torch.Tensor) else index, layerwise=layerwise)
        assert adapter.device == x.device
        results.append(method(adapter).attribute(adapter.ones()))
    _assert_equal_on_both(*results)


def test_gnnexplainer_on_cuda_learns_a_mask_of_the_same_shape_within_bounds(twins):
    (_, x, _), (model, gpu_x, edge_index) = twins
    adapter = PyGAdapter(model, gpu_x, edge_index, index=4)
    mask = GNNExplainer(adapter, epochs=20).attribute(adapter.ones())
    assert mask.device.type == "cuda" and mask.shape == (1, edge_index.size(1))
    assert ((mask >= 0) & (mask <= 1)).all()


def test_explain_with_features_on_cuda_equals_the_cpu(twins):
    explanations = [explain(model, x, edge_index, index=9, method="edge_gradient", features=True, layerwise=True) for model, x, edge_index in twins]
    cpu, gpu = explanations
    for field in ("edge_mask", "layer_masks", "feature_mask", "node_mask", "prediction"):
        _assert_equal_on_both(getattr(cpu, field), getattr(gpu, field))
    assert torch.equal(gpu.topk(3).indices.cpu(), cpu.topk(3).indices)


def test_explain_all_writes_cuda_attributions_equal_to_the_cpu_run(twins, tmp_path):
    for name, (model, x, edge_index) in zip(("cpu", "cuda"), twins):
        explain_all(model, x, edge_index, method="edge_gradient", out=tmp_path / name, shard_size=5)
    cpu, gpu = (read_attributions(tmp_path / name).to_dense() for name in ("cpu", "cuda"))
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_link_prediction_on_cuda_equals_the_cpu():
    x, edge_index, _ = random_graph()
    pairs = torch.tensor([[0, 3, 5], [7, 1, 11]])
    results = []
    for device in ("cpu", CUDA):
        torch.manual_seed(0)
        model = GCNDot().float().eval().to(device)
        adapter = PyGAdapter(model, x.float().to(device), edge_index.to(device), edge_label_index=pairs.to(device), index=torch.arange(3, device=device),
                             mode="binary_classification")
        results.append(EdgeGradient(adapter).attribute(adapter.ones()))
    _assert_equal_on_both(*results)

"""What the adapter refuses or handles instead of explaining something else than the model's own computation."""

import copy

import pytest
import torch
from torch.utils.checkpoint import checkpoint
from torch_geometric.nn import DeepGCNLayer, GCNConv, GENConv
from torch_geometric.utils import to_torch_coo_tensor

from edgeattr import EdgeGradient, InputModifiedError, PyGAdapter, UnsupportedLayerError
from tests.support.zoo import assert_float64_masks_give_float32_values, model_of, random_graph, reference_gradient

NODE = 10


class SortsInPlace(torch.nn.Module):
    """Sorts edge_index by target in place before its convolution, as some preprocessing code does."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        order = edge_index[1].argsort()
        edge_index.copy_(edge_index[:, order])
        return self.conv(x, edge_index)


class ReluInPlace(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        return self.conv(x.relu_(), edge_index)


@pytest.mark.parametrize("model", [SortsInPlace, ReluInPlace], ids=["edge_index sorted in place", "x.relu_()"])
def test_a_model_that_edits_its_inputs_in_place_is_refused_and_the_users_inputs_are_kept(model):
    x, edge_index, _ = random_graph()
    x_before, edge_index_before = x.clone(), edge_index.clone()
    with pytest.raises(InputModifiedError, match="in place during forward"):
        PyGAdapter(model().double(), x, edge_index, index=NODE)
    assert torch.equal(x, x_before) and torch.equal(edge_index, edge_index_before)


def test_inputs_modified_after_the_adapter_was_built_are_refused():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=NODE)
    x[0, 0] += 1.0
    with pytest.raises(InputModifiedError, match="'x' was modified in place after the adapter was built"):
        EdgeGradient(adapter).attribute(adapter.ones())


class Weighted(torch.nn.Module):
    """A GCN whose forward takes a per-edge weight under a name that does not say so."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index, weights):
        return self.conv(x, edge_index, weights)


def square_graph():
    """A graph with as many edges as nodes, so that sizes cannot tell node from edge arguments."""
    x, edge_index, _ = random_graph(num_nodes=14, num_edges=14, seed=4)
    weights = torch.rand(14, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 0.5
    return x, edge_index, weights


def test_an_argument_that_could_follow_nodes_or_edges_is_an_error_naming_the_fix():
    x, edge_index, weights = square_graph()
    torch.manual_seed(0)
    model = Weighted().double()
    with pytest.raises(ValueError, match=r"'weights' has 14 rows.*edge_args=\['weights'\]"):
        PyGAdapter(model, x, edge_index, weights, index=3)
    adapter = PyGAdapter(model, x, edge_index, weights, index=3, edge_args=["weights"])
    target = int(model(x, edge_index, weights)[3].argmax())
    expected = reference_gradient(model, (x, edge_index, weights), {}, edge_index, 3, target)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="not one per node"):
        PyGAdapter(model, x, edge_index, weights[:10], index=3, node_args=["weights"])
    with pytest.raises(ValueError, match="no arguments of the model call"):
        PyGAdapter(model, x, edge_index, weights, index=3, edge_args=["weight"])


def test_names_that_say_edge_decide_where_sizes_cannot():
    x, edge_index, weights = square_graph()
    torch.manual_seed(0)
    model = GCNConv(5, 3).double()  # forward(x, edge_index, edge_weight=None)
    adapter = PyGAdapter(model, x, edge_index, edge_weight=weights, index=3)
    target = int(model(x, edge_index, edge_weight=weights)[3].argmax())
    expected = reference_gradient(model, (x, edge_index), {"edge_weight": weights}, edge_index, 3, target)
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)


class SparseProduct(torch.nn.Module):
    """A convolution plus an aggregation by a sparse adjacency product that no hook sees."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3)

    def forward(self, x, edge_index):
        adjacency = to_torch_coo_tensor(edge_index, size=x.size(0)).to(x.dtype)
        return self.conv(x, edge_index) + torch.sparse.mm(adjacency, x)[:, :3]


def test_an_aggregation_by_sparse_matrix_product_is_refused():
    x, edge_index, _ = random_graph()
    with pytest.raises(UnsupportedLayerError, match="sparse matrix.*bypasses message passing"):
        PyGAdapter(SparseProduct().double(), x, edge_index, index=NODE)


class Checkpointed(torch.nn.Module):
    """Two convolutions under torch.utils.checkpoint, or plain (``reentrant=None``)."""

    def __init__(self, reentrant):
        super().__init__()
        self.conv1, self.conv2, self.reentrant = GCNConv(5, 6), GCNConv(6, 3), reentrant

    def forward(self, x, edge_index):
        if self.reentrant is None:
            return self.conv2(self.conv1(x, edge_index).relu(), edge_index)
        h = checkpoint(self.conv1, x, edge_index, use_reentrant=self.reentrant).relu()
        return checkpoint(self.conv2, h, edge_index, use_reentrant=self.reentrant)


class DeeperGCN(torch.nn.Module):
    """PyG's DeeperGCN example: DeepGCNLayer blocks with gradient checkpointing (ckpt_grad=True)."""

    def __init__(self, checkpointed=True):
        super().__init__()
        self.encoder, self.head = torch.nn.Linear(5, 6), torch.nn.Linear(6, 3)
        self.layers = torch.nn.ModuleList([
            DeepGCNLayer(GENConv(6, 6, aggr="softmax", t=1.0, learn_t=True), torch.nn.LayerNorm(6), torch.nn.ReLU(), block="res+", ckpt_grad=checkpointed)
            for _ in range(2)
        ])

    def forward(self, x, edge_index):
        h = self.encoder(x)
        for layer in self.layers:
            h = layer(h, edge_index)
        return self.head(h)


def plain(model):
    """The same model with checkpointing off: the reference computation."""
    copied = copy.deepcopy(model)
    if isinstance(copied, Checkpointed):
        copied.reentrant = None
    else:
        for layer in copied.layers:
            layer.ckpt_grad = False
    return copied


@pytest.mark.parametrize("model", [lambda: Checkpointed(True), lambda: Checkpointed(False), DeeperGCN], ids=["reentrant", "non-reentrant", "DeeperGCN"])
def test_checkpointed_models_are_explained_exactly(model):
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    model = model().double().eval()
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    target = int(model(x, edge_index)[NODE].argmax())
    expected = reference_gradient(plain(model), (x, edge_index), {}, edge_index, NODE, target)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(EdgeGradient(adapter).attribute(adapter.ones())[0], expected, rtol=1e-9, atol=1e-12)
    layerwise = PyGAdapter(model, x, edge_index, index=NODE, layerwise=True)
    torch.testing.assert_close(EdgeGradient(layerwise).attribute(layerwise.ones())[0].sum(0), expected, rtol=1e-9, atol=1e-12)


def test_a_float64_mask_on_a_float32_model_gives_the_float32_masks_values():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv").float()
    assert_float64_masks_give_float32_values(PyGAdapter(model, x.float(), edge_index, index=NODE))

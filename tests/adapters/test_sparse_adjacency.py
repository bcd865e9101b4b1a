"""PyG's sparse adjacency convention (``T.ToSparseTensor``: ``model(x, adj_t)``): masks index the stored entries."""

import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.nn import GCNConv, GINConv, SAGEConv
from torch_geometric.utils import coalesce, to_edge_index, to_torch_csr_tensor

from edgeattr import EdgeGradient, EdgeOcclusion, PyGAdapter, explain
from edgeattr.errors import UnsupportedLayerError
from tests.support.zoo import assert_same_state, state_of

NODE = 4


class TwoLayers(torch.nn.Module):
    """conv -> relu -> conv over ``adj_t``, as PyG's examples write models for ``T.ToSparseTensor``."""

    def __init__(self, conv):
        super().__init__()
        self.conv1, self.conv2 = conv(5, 8), conv(8, 3)

    def forward(self, x, adj_t):
        return self.conv2(self.conv1(x, adj_t).relu(), adj_t)


def graph(layout=torch.sparse_csr, normalized=False):
    torch.manual_seed(0)
    edge_index = coalesce(torch.randint(0, 20, (2, 70)))
    data = Data(x=torch.randn(20, 5, dtype=torch.float64), edge_index=edge_index)
    if normalized:
        data = T.GCNNorm()(data)
    data = T.ToSparseTensor(layout=layout)(data)
    return data.x, data.adj_t.to(torch.float64)


def stored_edges(adj_t):
    """The stored entries as (source, target) columns and their values, in the order masks index them."""
    indices, values = to_edge_index(adj_t)
    return torch.stack([indices[1], indices[0]]), values


def set_masks_gradient(model, x, edge_index, edge_weight=None):
    """dz/dw through PyG's own set_masks on the same model called with the equivalent edge_index."""
    mask = torch.ones(edge_index.size(1), dtype=torch.float64, requires_grad=True)
    set_masks(model, mask, edge_index, apply_sigmoid=False)
    try:
        extra = () if edge_weight is None else (edge_weight,)
        out = model.conv2(model.conv1(x, edge_index, *extra).relu(), edge_index, *extra)
        return torch.autograd.grad(out[NODE, out[NODE].argmax()], mask)[0]
    finally:
        clear_masks(model)


@pytest.mark.parametrize("layout", [torch.sparse_csr, torch.sparse_coo], ids=["csr", "coo"])
@pytest.mark.parametrize("conv", [SAGEConv, lambda i, o: GINConv(torch.nn.Linear(i, o))], ids=["SAGEConv", "GINConv"])
def test_masks_index_the_stored_entries_and_equal_pyg_masks_on_the_same_edges(layout, conv):
    x, adj_t = graph(layout)
    torch.manual_seed(1)
    model = TwoLayers(conv).double().eval()
    edge_index, _ = stored_edges(adj_t)
    before = state_of(model)
    adapter = PyGAdapter(model, x, adj_t, index=NODE)
    assert adapter.num_edges == adj_t._nnz() and torch.equal(adapter.edge_index, edge_index)
    gradient = EdgeGradient(adapter).attribute(adapter.ones())[0]
    assert_same_state(before, state_of(model))  # before PyG's set_masks, which leaves attributes behind
    torch.testing.assert_close(gradient, set_masks_gradient(model, x, edge_index), rtol=1e-10, atol=1e-12)


def test_a_gcn_norm_baked_into_adj_t_is_kept_not_recomputed():
    """T.GCNNorm stores the normalised weights as adj_t's values; the explanation weights those messages, no NaN."""
    x, adj_t = graph(normalized=True)
    torch.manual_seed(1)
    model = TwoLayers(lambda i, o: GCNConv(i, o, normalize=False)).double().eval()
    edge_index, values = stored_edges(adj_t)
    gradient = explain(model, x, adj_t, index=NODE, method="edge_gradient").edge_mask
    assert torch.isfinite(gradient).all()
    torch.testing.assert_close(gradient, set_masks_gradient(model, x, edge_index, values), rtol=1e-10, atol=1e-12)


def test_occlusion_equals_deleting_the_stored_entry():
    x, adj_t = graph()
    torch.manual_seed(1)
    model = TwoLayers(GCNConv).double().eval()
    adapter = PyGAdapter(model, x, adj_t, index=NODE)
    occlusion = EdgeOcclusion(adapter).attribute(adapter.ones(), mode="remove")[0]
    (indices, values), full = to_edge_index(adj_t), model(x, adj_t)[NODE]
    target = full.argmax()
    checked = (occlusion != 0).nonzero().view(-1)[:5]
    assert checked.numel() == 5
    for entry in checked.tolist():
        keep = torch.ones(indices.size(1), dtype=torch.bool)
        keep[entry] = False
        cut = to_torch_csr_tensor(indices[:, keep], values[keep], tuple(adj_t.shape))
        torch.testing.assert_close(occlusion[entry], full[target] - model(x, cut)[NODE, target], rtol=1e-10, atol=1e-12)


def test_fused_kernels_are_set_aside_and_restored():
    x, adj_t = graph()
    model = TwoLayers(GCNConv).double().eval()
    assert model.conv1.fuse and model.conv2.fuse
    adapter = PyGAdapter(model, x, adj_t, index=NODE)
    torch.testing.assert_close(adapter(adapter.ones())[0], model(x, adj_t)[NODE], rtol=0, atol=1e-12)
    assert model.conv1.fuse and model.conv2.fuse


def test_a_torch_sparse_sparse_tensor_is_refused_with_the_conversion():
    class SparseTensor:  # stands for torch_sparse.SparseTensor, which this environment does not install
        pass

    with pytest.raises(UnsupportedLayerError, match="to_torch_sparse_csr_tensor"):
        PyGAdapter(TwoLayers(GCNConv), torch.randn(3, 5), SparseTensor(), index=0)

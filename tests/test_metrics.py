"""Cosine similarity and the sign-flip diagnostic against closed forms."""

import math

import pytest
import torch

from edgeattr import PyGAdapter, cosine_similarity, sign_flips
from tests.support.zoo import model_of, random_graph


def test_cosine_similarity_closed_form():
    a = torch.tensor([[1.0, 0.0, 1.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 1.0, 0.0], [2.0, 4.0, 6.0], [1.0, 0.0, 0.0]])
    got = cosine_similarity(a, b)
    torch.testing.assert_close(got, torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(cosine_similarity(a, b, entries=torch.tensor([0, 1]))[0], torch.tensor(1 / math.sqrt(2), dtype=torch.float64))
    with pytest.raises(ValueError, match="same shape"):
        cosine_similarity(a, b[:, :2])


class Polynomial:
    """z(w) = sum_e c_e (w_e - r_e)^2 on two 'classes': dz/dw_e changes sign at r_e."""

    def __init__(self, roots):
        self.roots = roots

    def __call__(self, mask):
        z = ((mask - self.roots) ** 2).sum(-1)
        return torch.stack([z, -z], -1)


def test_sign_flips_counts_sign_changes_of_a_known_gradient():
    roots = torch.tensor([0.5, 2.0, -1.0, 0.25], dtype=torch.float64)  # inside [0, 1] for edges 0 and 3
    result = sign_flips(Polynomial(roots), torch.ones(1, 4, dtype=torch.float64), target=0, steps=21)
    assert result.entries.tolist() == [0, 1, 2, 3]
    assert result.flips.tolist() == [1, 0, 0, 1]
    assert result.rate == 0.5
    torch.testing.assert_close(result.gradients[:, 0], 2 * (0 - roots))


def test_a_one_layer_linear_model_never_flips():
    x, edge_index, _ = random_graph()
    torch.manual_seed(0)
    from torch_geometric.nn import SGConv

    model = SGConv(5, 3, K=1).double()
    adapter = PyGAdapter(model, x, edge_index, index=10)
    result = sign_flips(adapter, adapter.ones(), steps=5)
    assert torch.equal(result.entries, (edge_index[1] == 10).nonzero().view(-1))  # the in-edges carry messages
    assert result.rate == 0.0 and (result.gradients != 0).all()


def test_gcn_gradients_can_flip():
    x, edge_index, _ = random_graph()
    adapter = PyGAdapter(model_of("GCNConv"), x, edge_index, index=10, layerwise=True)
    result = sign_flips(adapter, adapter.ones(), steps=11)
    assert result.gradients.shape == (2 * adapter.message_edges.numel(), 11)
    assert 0.0 <= result.rate <= 1.0


def test_sign_flips_backpropagates_one_forward_pass_of_the_adapter_at_a_time():
    # Autograd keeps every pass of a backward alive: a sweep larger than copies_per_pass must not run as one.
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=10, copies_per_pass=4)
    sizes = []
    run = adapter.forward_subgraph

    def recorded(mask):
        sizes.append(mask.size(0))
        return run(mask)

    adapter.forward_subgraph = recorded
    chunked = sign_flips(adapter, adapter.ones(), steps=7)
    assert max(sizes) == 4 and sum(sizes) == 7 * chunked.entries.numel()
    whole = sign_flips(PyGAdapter(model, x, edge_index, index=10), adapter.ones(), steps=7, per_eval=1024)
    torch.testing.assert_close(chunked.gradients, whole.gradients, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="per_eval"):
        sign_flips(adapter, adapter.ones(), per_eval=0)

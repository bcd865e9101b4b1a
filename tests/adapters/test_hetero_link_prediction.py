"""Link prediction on a heterogeneous user-item model built with to_hetero, as PyG's hetero link-prediction example builds it."""

import pytest
import torch
from torch_geometric.explain.algorithm.utils import clear_masks, set_hetero_masks
from torch_geometric.nn import SAGEConv, to_hetero

from edgeattr import EdgeGradient, EdgeOcclusion, PyGHeteroAdapter, explain

RATES, REVERSE = ("user", "rates", "item"), ("item", "rev_rates", "user")


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv((-1, -1), 8), SAGEConv((-1, -1), 8)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class EdgeDecoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1, self.lin2 = torch.nn.Linear(16, 8), torch.nn.Linear(8, 1)

    def forward(self, z_dict, edge_label_index):
        row, col = edge_label_index
        return self.lin2(self.lin1(torch.cat([z_dict["user"][row], z_dict["item"][col]], dim=-1)).relu()).view(-1)


class UserItemModel(torch.nn.Module):
    def __init__(self, metadata):
        super().__init__()
        self.encoder = to_hetero(Encoder(), metadata, aggr="sum")
        self.decoder = EdgeDecoder()

    def forward(self, x_dict, edge_index_dict, edge_label_index):
        return self.decoder(self.encoder(x_dict, edge_index_dict), edge_label_index)


@pytest.fixture(scope="module")
def case():
    g = torch.Generator().manual_seed(0)
    x = {"user": torch.randn(12, 4, generator=g, dtype=torch.float64), "item": torch.randn(9, 4, generator=g, dtype=torch.float64)}
    rates = torch.stack([torch.randint(0, 12, (30,), generator=g), torch.randint(0, 9, (30,), generator=g)])
    edges = {RATES: rates, REVERSE: rates.flip(0)}
    torch.manual_seed(0)
    model = UserItemModel((["user", "item"], [RATES, REVERSE])).double()
    model(x, edges, rates[:, :1])  # materialises the lazy layers
    pairs = torch.tensor([[int(rates[0, 3]), 1, 7], [int(rates[1, 3]), 8, 2]])  # a rated item, two pairs that are no edges
    return model.eval(), x, edges, pairs


def _reference(model, x, edges, pairs, p):
    ones = {t: torch.ones(e.size(1), dtype=torch.float64, requires_grad=True) for t, e in edges.items()}
    set_hetero_masks(model, ones, edges, apply_sigmoid=False)
    try:
        score = model(x, edges, pairs[:, p : p + 1])[0]
    finally:
        clear_masks(model)
    return torch.cat(torch.autograd.grad(score, list(ones.values())))


def test_each_pair_equals_set_hetero_masks_autograd_and_brute_force_deletion(case):
    model, x, edges, pairs = case
    fwd = PyGHeteroAdapter(model, x, edges, pairs, index=torch.arange(pairs.size(1)), mode="regression")
    gradient, removed = EdgeGradient(fwd).attribute(fwd.ones()), EdgeOcclusion(fwd).attribute(fwd.ones(), mode="remove")
    own = model(x, edges, pairs)
    for p in range(pairs.size(1)):
        reference = _reference(model, x, edges, pairs, p)
        assert reference.abs().max() > 1e-4
        torch.testing.assert_close(gradient[p], reference, rtol=1e-9, atol=1e-11)
    for e in range(0, edges[RATES].size(1), 4):  # a rating deleted from the graph, its reverse kept
        keep = torch.arange(edges[RATES].size(1)) != e
        with torch.no_grad():
            deleted = model(x, {RATES: edges[RATES][:, keep], REVERSE: edges[REVERSE]}, pairs)
        torch.testing.assert_close(removed[:, e], own - deleted, rtol=1e-9, atol=1e-11)


def test_explain_names_the_edge_task_and_keys_masks_by_edge_type(case):
    model, x, edges, pairs = case
    explanation = explain(model, x, edges, edge_label_index=pairs, index=2, task="edge", method="edge_gradient", mode="regression")
    assert explanation.task == "edge" and explanation.index == 2
    reference = _reference(model, x, edges, pairs, 2)
    torch.testing.assert_close(torch.cat([explanation.edge_mask_dict[RATES], explanation.edge_mask_dict[REVERSE]]), reference, rtol=1e-9, atol=1e-11)


def test_edge_attr_explainer_on_a_heterogeneous_link_predictor(case):
    from torch_geometric.explain import Explainer, HeteroExplanation

    from edgeattr.integrations.pyg import EdgeAttrExplainer

    model, x, edges, pairs = case
    explainer = Explainer(
        model, algorithm=EdgeAttrExplainer("edge_gradient", normalize=None), explanation_type="model", edge_mask_type="object",
        model_config=dict(mode="regression", task_level="edge", return_type="raw"),
    )
    explanation = explainer(x, edges, edge_label_index=pairs, index=1)
    assert isinstance(explanation, HeteroExplanation)
    reference = _reference(model, x, edges, pairs, 1)
    got = torch.cat([explanation[RATES].edge_attribution, explanation[REVERSE].edge_attribution])
    torch.testing.assert_close(got, reference, rtol=1e-9, atol=1e-11)

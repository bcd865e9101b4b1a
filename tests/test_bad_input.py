"""Bad input raises from edgeattr's own checks, naming the problem and the fix; degenerate input works."""

import pytest
import torch
from torch_geometric.explain.algorithm.utils import set_masks
from torch_geometric.nn import EdgeConv, GCNConv, GraphConv

from edgeattr import (
    EdgeGradient,
    EdgeOcclusion,
    GNNExplainer,
    GradientSign,
    LayerwiseOcclusion,
    PyGAdapter,
    UnsupportedLayerError,
    sign_flips,
)
from tests.support.zoo import model_of, random_graph

X, EDGE_INDEX, _ = random_graph()
NODE = 10


def adapter(layerwise=False):
    return PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=NODE, layerwise=layerwise)


#: An edge given twice with two weights: a layer keeping one of them cannot say which by its endpoints.
PARALLEL = (torch.cat([EDGE_INDEX, EDGE_INDEX[:, :1]], 1), torch.cat([torch.ones(40, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]))


class HeavyEdges(torch.nn.Module):
    """Passes messages along the edges of positive weight only: a subset no relation argument names."""

    def __init__(self):
        super().__init__()
        self.conv = GraphConv(5, 3).double()

    def forward(self, x, edge_index, edge_weight):
        return self.conv(x, edge_index[:, edge_weight > 0])


class NearestNeighbours(torch.nn.Module):
    """DGCNN's pattern: EdgeConv over a k-nearest-neighbour graph of the features, built in forward."""

    def __init__(self):
        super().__init__()
        self.conv = EdgeConv(torch.nn.Linear(10, 3)).double()

    def forward(self, x, edge_index):
        nearest = torch.cdist(x, x).topk(3, largest=False).indices[:, 1:]
        return self.conv(x, torch.stack([nearest.reshape(-1), torch.arange(x.size(0)).repeat_interleave(2)]))


class WithLoss(torch.nn.Module):
    """SuperGAT's pattern: the prediction and an auxiliary loss."""

    def __init__(self):
        super().__init__()
        self.conv = GCNConv(5, 3).double()

    def forward(self, x, edge_index):
        out = self.conv(x, edge_index)
        return out, out.pow(2).mean()


class Detached(torch.nn.Module):
    """Runs its convolution but returns something that does not depend on it."""

    def __init__(self):
        super().__init__()
        self.conv, self.lin = GCNConv(5, 3).double(), torch.nn.Linear(5, 3).double()

    def forward(self, x, edge_index):
        self.conv(x, edge_index)
        return self.lin(x)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 3).double()

    def forward(self, x, edge_index):
        return self.lin(x)


def masked_model():
    """A model on which PyG's own set_masks is still applied."""
    model = model_of("GCNConv")
    set_masks(model, torch.ones(40, dtype=torch.float64), EDGE_INDEX, apply_sigmoid=False)
    return model


def batch_with_an_empty_graph():
    """Graph 1 of three has no node: nodes 0-6 are graph 0, nodes 7-13 graph 2."""
    return torch.tensor([0] * 7 + [2] * 7)


def nan_features():
    """NaN in a feature of the explained node's in-neighbour, which the explanation reads."""
    x = X.clone()
    x[int(EDGE_INDEX[0, EDGE_INDEX[1] == NODE][0]), 1] = float("nan")
    return x


#: case -> (the call, the exception, a fragment of the message naming problem or fix)
CASES = {
    "mask of wrong width": (lambda: adapter()(torch.ones(1, 7, dtype=torch.float64)), ValueError, r"shape \(B, 40\)"),
    "mask of wrong rank": (lambda: adapter()(torch.ones(40, dtype=torch.float64)), ValueError, "must have shape"),
    "integer mask": (lambda: adapter()(torch.ones(1, 40, dtype=torch.long)), TypeError, "floating dtype"),
    "mask on another device": (lambda: adapter()(torch.ones(1, 40, dtype=torch.float64, device="meta")), ValueError, "mask.to"),
    "NaN in mask": (lambda: adapter()(torch.full((1, 40), float("nan"), dtype=torch.float64)), ValueError, "NaN or inf"),
    "inf in mask": (lambda: adapter()(torch.full((1, 40), float("inf"), dtype=torch.float64)), ValueError, "NaN or inf"),
    "empty batch of masks": (lambda: adapter()(torch.ones(0, 40, dtype=torch.float64)), ValueError, "at least one mask"),
    "NaN in features": (lambda: PyGAdapter(model_of("GCNConv"), nan_features(), EDGE_INDEX, index=NODE), ValueError, "'x' holds NaN"),
    "edge_index out of range": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX + 100, index=0), ValueError, "outside"),
    "float edge_index": (lambda: PyGAdapter(model_of("GCNConv"), x=X, edge_index=EDGE_INDEX.double(), index=0), ValueError, "integer tensor of shape"),
    "edge_index of shape (3, E)": (lambda: PyGAdapter(model_of("GCNConv"), x=X, edge_index=EDGE_INDEX[:1].repeat(3, 1), index=0), ValueError, r"\(2, E\)"),
    "no edge_index": (lambda: PyGAdapter(model_of("GCNConv"), X, index=0), ValueError, "no edge_index found"),
    "index out of range": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=14), IndexError, "out of range"),
    "negative index": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=-1), IndexError, "out of range"),
    "float index": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=1.5), TypeError, "integer"),
    "missing index": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX), ValueError, "index is required"),
    "target class out of range": (lambda: EdgeGradient(adapter()).attribute(adapter().ones(), target=3), ValueError, "out of range for a model with 3 classes"),
    "target per mask of wrong length": (lambda: EdgeGradient(adapter()).attribute(adapter().ones(), target=[0, 1]), ValueError, "one per mask"),
    "layerwise mask on input-level adapter": (lambda: adapter()(torch.ones(1, 2, 40, dtype=torch.float64)), ValueError, "layerwise=True"),
    "input-level mask on layerwise adapter": (lambda: adapter(True)(torch.ones(1, 40, dtype=torch.float64)), ValueError, r"\(B, L, E\)"),
    "LayerwiseOcclusion on input-level adapter": (lambda: LayerwiseOcclusion(adapter()), ValueError, "layerwise=True"),
    "remove mode with weighted masks": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones() / 2, mode="remove"), ValueError, "0/1 masks"),
    "unknown occlusion mode": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), mode="drop"), ValueError, "mode must be one of"),
    "additional_forward_args": (lambda: GradientSign(adapter()).attribute(adapter().ones(), additional_forward_args=(X,)), ValueError, "bind the graph"),
    "model without message passing (MLP)": (lambda: PyGAdapter(MLP(), X, EDGE_INDEX, index=NODE), UnsupportedLayerError, "no message-passing call"),
    "detached branch": (lambda: EdgeGradient(PyGAdapter(Detached(), X, EDGE_INDEX, index=NODE)).attribute(torch.ones(1, 40, dtype=torch.float64)), ValueError, "does not depend on the edge mask"),
    "parallel edges split by another rule": (lambda: PyGAdapter(HeavyEdges(), X, *PARALLEL, index=int(PARALLEL[0][1, 0])), UnsupportedLayerError, "GraphConv.*same source and destination"),
    "graph built inside forward": (lambda: PyGAdapter(NearestNeighbours(), X, EDGE_INDEX, index=NODE), UnsupportedLayerError, "EdgeConv.*(built inside forward|cannot be matched)"),
    "tuple output without output=": (lambda: PyGAdapter(WithLoss(), X, EDGE_INDEX, index=NODE), TypeError, "output=0"),
    "decomposed_layers > 1": (lambda: PyGAdapter(GCNConv(5, 3, decomposed_layers=2), X, EDGE_INDEX, index=0), UnsupportedLayerError, "decomposed_layers"),
    "rectangular sparse matrix as the graph": (
        lambda: PyGAdapter(GCNConv(5, 3).double(), X, torch.sparse_coo_tensor(EDGE_INDEX, torch.ones(40), (14, 15)), edge_index_arg=1, index=0),
        ValueError,
        r"edge_index must be an integer tensor of shape \(2, E\)",
    ),
    "copies_per_pass of 0": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=0, copies_per_pass=0), ValueError, "copies_per_pass"),
    "task name": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=0, task="link"), ValueError, "task must be"),
    "edge task without pairs": (
        lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=0, task="edge"), ValueError, "no argument of the model call holds the pairs",
    ),
    "not a model": (lambda: PyGAdapter(lambda x, edge_index: x, X, EDGE_INDEX, index=0), TypeError, "torch.nn.Module"),
    "GradientSign eps NaN": (lambda: GradientSign(adapter(), eps=float("nan")), ValueError, "eps must be a finite number"),
    "GradientSign eps inf": (lambda: GradientSign(adapter(), eps=float("inf")), ValueError, "eps must be a finite number"),
    "GradientSign eps -inf": (lambda: GradientSign(adapter(), eps=float("-inf")), ValueError, "eps must be a finite number"),
    "GradientSign eps negative": (lambda: GradientSign(adapter(), eps=-0.1), ValueError, "at least 0"),
    "GradientSign eps a string": (lambda: GradientSign(adapter(), eps="0.1"), ValueError, "eps must be a finite number"),
    "occlusion edges out of range": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), edges=torch.tensor([3, 40])), ValueError, r"edge id 40 is out of range.*\[0, 40\)"),
    "occlusion edges negative": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), edges=[-1, 2]), ValueError, "edge id -1 is out of range"),
    "occlusion edges float": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), edges=torch.tensor([1.0, 2.0])), TypeError, "integer edge ids"),
    "occlusion edges bool": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), edges=torch.ones(40, dtype=torch.bool)), TypeError, "nonzero"),
    "occlusion edges of two dimensions": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), edges=torch.tensor([[1, 2]])), ValueError, "1-D"),
    "perturbations_per_eval a float": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), perturbations_per_eval=2.5), ValueError, "perturbations_per_eval must be a positive integer"),
    "perturbations_per_eval zero": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), perturbations_per_eval=0), ValueError, "perturbations_per_eval must be a positive integer"),
    "sign_flips steps a float": (lambda: sign_flips(adapter(), adapter().ones(), steps=2.5), ValueError, "steps must be an integer of at least 2"),
    "sign_flips steps one": (lambda: sign_flips(adapter(), adapter().ones(), steps=1), ValueError, "steps must be an integer of at least 2"),
    "sign_flips per_eval a float": (lambda: sign_flips(adapter(), adapter().ones(), per_eval=0.5), ValueError, "per_eval must be a positive integer"),
    "sign_flips edges out of range": (lambda: sign_flips(adapter(), adapter().ones(), edges=[41]), ValueError, "edge id 41 is out of range"),
    "GNNExplainer on an output apart from the mask": (lambda: GNNExplainer(PyGAdapter(Detached(), X, EDGE_INDEX, index=NODE), epochs=2).attribute(torch.ones(1, 40, dtype=torch.float64)), ValueError, "does not depend on the edge mask"),
    "GNNExplainer target out of range": (lambda: GNNExplainer(adapter(), epochs=2).attribute(adapter().ones(), target=3), ValueError, "out of range for a model with 3 classes"),
    "GNNExplainer lr NaN": (lambda: GNNExplainer(adapter(), lr=float("nan")), ValueError, "lr must be a finite number, positive"),
    "GNNExplainer lr zero": (lambda: GNNExplainer(adapter(), lr=0.0), ValueError, "lr must be a finite number, positive"),
    "GNNExplainer epochs a float": (lambda: GNNExplainer(adapter(), epochs=1.5), ValueError, "epochs must be a positive integer"),
    "GNNExplainer epochs a bool": (lambda: GNNExplainer(adapter(), epochs=True), ValueError, "epochs must be a positive integer"),
    "GNNExplainer edge_size negative": (lambda: GNNExplainer(adapter(), edge_size=-1.0), ValueError, "edge_size must be a finite number, at least 0"),
    "GNNExplainer edge_ent inf": (lambda: GNNExplainer(adapter(), edge_ent=float("inf")), ValueError, "edge_ent must be a finite number"),
    "a string target": (lambda: EdgeGradient(adapter()).attribute(adapter().ones(), target="cat"), TypeError, "target must be an integer"),
    "a float target": (lambda: EdgeOcclusion(adapter()).attribute(adapter().ones(), target=1.5), TypeError, "target must be an integer"),
    "PyG's set_masks still applied": (lambda: PyGAdapter(masked_model(), X, EDGE_INDEX, index=NODE), ValueError, "clear_masks"),
    "features on the meta device": (lambda: PyGAdapter(model_of("GCNConv"), X.to("meta"), EDGE_INDEX, index=NODE), ValueError, "'x' is on the meta device"),
    "edge_index on the meta device": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX.to("meta"), index=NODE), ValueError, "'edge_index' is on the meta device"),
    "parameters on the meta device": (lambda: PyGAdapter(model_of("GCNConv").to("meta"), X, EDGE_INDEX, index=NODE), ValueError, "parameters are on the meta device"),
    "graph without nodes": (lambda: PyGAdapter(model_of("GCNConv", pool=True), X, EDGE_INDEX, batch=batch_with_an_empty_graph(), index=1), ValueError, "graph 1 of the input has no nodes"),
    "copies_per_pass a float": (lambda: PyGAdapter(model_of("GCNConv"), X, EDGE_INDEX, index=0, copies_per_pass=2.5), ValueError, "copies_per_pass"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_a_clear_error(case):
    call, error, message = CASES[case]
    with pytest.raises(error, match=message):
        call()


def test_the_error_comes_from_edgeattr_not_from_deep_inside_torch():
    for case, (call, error, _) in CASES.items():
        try:
            call()
        except error as raised:
            frames = []
            tb = raised.__traceback__
            while tb is not None:
                frames.append(tb.tb_frame.f_code.co_filename)
                tb = tb.tb_next
            assert "edgeattr" in frames[-1], (case, frames[-1])


def test_isolated_nodes_multi_edges_and_input_self_loops_work():
    x, edge_index, _ = random_graph(num_nodes=20, num_edges=30, self_loops=True, seed=9)
    edge_index = torch.cat([edge_index, edge_index[:, :5]], 1)  # multi-edges
    isolated = torch.ones(20, dtype=torch.bool)
    isolated[edge_index.view(-1)] = False
    assert isolated.any() and (edge_index[0] == edge_index[1]).any()
    model = model_of("GINConv")
    for node in (int(isolated.nonzero()[0]), int(edge_index[1, 0])):
        fwd = PyGAdapter(model, x, edge_index, index=node)
        torch.testing.assert_close(fwd(fwd.ones())[0], model(x, edge_index)[node], rtol=0, atol=1e-12)
        gradient = EdgeGradient(fwd).attribute(fwd.ones())
        assert torch.isfinite(gradient).all()


def test_nan_features_outside_the_computation_graph_do_not_block_an_explanation():
    fwd = adapter()
    outside = sorted(set(range(14)) - set(EDGE_INDEX[:, fwd.edge_ids].view(-1).tolist()) - {NODE})
    assert outside
    x = X.clone()
    x[outside[0]] = float("nan")
    gradient = EdgeGradient(PyGAdapter(model_of("GCNConv"), x, EDGE_INDEX, index=NODE)).attribute(fwd.ones())
    torch.testing.assert_close(gradient, EdgeGradient(fwd).attribute(fwd.ones()), rtol=0, atol=0)


def test_nan_is_refused_where_the_explanation_reads_it_and_only_there():
    from torch_geometric.utils import k_hop_subgraph

    model = model_of("GCNConv")
    # Beyond three hops: no edge of the two-hop computation subgraph reaches it, not even to set a degree.
    subset, _, _, _ = k_hop_subgraph(NODE, 3, EDGE_INDEX, num_nodes=X.size(0), flow="source_to_target")
    reach, _, _, _ = k_hop_subgraph(NODE, 3, EDGE_INDEX, num_nodes=X.size(0), flow="target_to_source")
    outside = [v for v in range(X.size(0)) if v not in set(subset.tolist()) | set(reach.tolist())]
    assert outside, "the graph needs a node beyond the explained node's three hops"
    x = X.clone()
    x[outside[0], 0] = float("nan")
    adapter = PyGAdapter(model, x, EDGE_INDEX, index=NODE)  # read by no pass: accepted
    assert torch.isfinite(EdgeGradient(adapter).attribute(adapter.ones())).all()
    with pytest.raises(ValueError, match="'x' holds NaN"):
        PyGAdapter(model, x, EDGE_INDEX, index=NODE, restrict=False)  # the whole graph is read
    weight = torch.ones(EDGE_INDEX.size(1), dtype=torch.float64)
    weight[int((EDGE_INDEX[1] == NODE).nonzero()[0])] = float("inf")
    with pytest.raises(ValueError, match="'edge_weight' holds NaN or inf"):
        PyGAdapter(model, X, EDGE_INDEX, edge_weight=weight, index=NODE)


def test_nan_written_into_features_after_an_adapter_is_found_by_the_next_adapter():
    model, x = model_of("GCNConv"), X.clone()
    PyGAdapter(model, x, EDGE_INDEX, index=NODE)  # its check of x is kept for this version of x
    x[int(EDGE_INDEX[0, EDGE_INDEX[1] == NODE][0]), 1] = float("nan")  # an in-neighbour of NODE, in place
    with pytest.raises(ValueError, match="'x' holds NaN"):
        PyGAdapter(model, x, EDGE_INDEX, index=NODE)

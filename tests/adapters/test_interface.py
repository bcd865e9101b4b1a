"""The adapter interface the methods rely on: every adapter provides it, and a wrapper forwards it whole."""

import pytest
import torch
from torch_geometric.nn import MessagePassing
from typing_extensions import get_protocol_members

from edgeattr import EdgeGradient, EdgeOcclusion, PyGAdapter, PyGHeteroAdapter, UnsupportedLayerError
from edgeattr.adapters.base import AdapterInterface, AdapterWrapper, adapter_of
from tests.support.zoo import graph_batch, model_of, random_graph, reference_gradient

NODE = 3

#: What a method may use of an adapter.
MEMBERS = sorted(get_protocol_members(AdapterInterface))


def adapters():
    x, edge_index, edge_attr = random_graph()
    xb, eib, _, batch = graph_batch()
    model = model_of("GCNConv")
    hetero_x = {"paper": x}
    hetero_edges = {("paper", "cites", "paper"): edge_index}

    class Hetero(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = model.conv1

        def forward(self, x_dict, edge_index_dict):
            return self.conv(x_dict["paper"], edge_index_dict[("paper", "cites", "paper")])

    return {
        "node": PyGAdapter(model, x, edge_index, index=NODE),
        "many nodes": PyGAdapter(model, x, edge_index, index=torch.tensor([1, 4, 7])),
        "layerwise": PyGAdapter(model, x, edge_index, index=NODE, layerwise=True),
        "graph": PyGAdapter(model_of("GCNConv", pool=True), xb, eib, batch=batch, index=1),
        "hetero": PyGHeteroAdapter(Hetero().eval(), hetero_x, hetero_edges, index=NODE, node_type="paper"),
    }


@pytest.mark.parametrize("name", ["node", "many nodes", "layerwise", "graph", "hetero"])
def test_every_adapter_provides_the_interface(name):
    adapter = adapters()[name]
    assert isinstance(adapter, AdapterInterface) and adapter_of(adapter) is adapter
    for member in MEMBERS:
        assert hasattr(adapter, member), member


def test_a_plain_function_is_no_adapter():
    def forward(mask):
        return mask.sum(-1, keepdim=True)

    assert not isinstance(forward, AdapterInterface) and adapter_of(forward) is None


class Affine(AdapterWrapper):
    """Maps every output y to 2 y + 1."""

    def map_output(self, output):
        return 2 * output + 1


@pytest.mark.parametrize("name", ["node", "many nodes", "layerwise"])
def test_a_wrapper_maps_every_way_of_running_masks_and_forwards_the_rest(name):
    adapter = adapters()[name]
    wrapper = Affine(adapter)
    assert isinstance(wrapper, AdapterInterface)
    ones = adapter.ones()
    compact = adapter.compact(ones)
    with torch.no_grad():
        torch.testing.assert_close(wrapper(ones), 2 * adapter(ones) + 1, rtol=0, atol=0)
        torch.testing.assert_close(wrapper.remove(ones != 0), 2 * adapter.remove(ones != 0) + 1, rtol=0, atol=0)
        torch.testing.assert_close(wrapper.forward_subgraph(compact), 2 * adapter.forward_subgraph(compact) + 1, rtol=0, atol=0)
        torch.testing.assert_close(wrapper.remove_subgraph(compact != 0), 2 * adapter.remove_subgraph(compact != 0) + 1, rtol=0, atol=0)
    for member in MEMBERS:
        if member not in ("__call__", "remove", "forward_subgraph", "remove_subgraph"):
            mine, theirs = getattr(wrapper, member), getattr(adapter, member)
            assert (torch.equal(mine, theirs) if isinstance(mine, torch.Tensor) else mine == theirs), member
    assert wrapper.edge_index is adapter.edge_index or torch.equal(wrapper.edge_index, adapter.edge_index)


def test_methods_through_a_wrapper_see_its_outputs():
    x, edge_index, _ = random_graph()
    model = model_of("GCNConv")
    adapter = PyGAdapter(model, x, edge_index, index=NODE)
    target = int(model(x, edge_index)[NODE].argmax())
    wrapper = Affine(adapter)
    # z' = 2 z + 1: twice the reference gradient, and twice each occlusion (run in subgraph coordinates).
    expected = 2 * reference_gradient(model, (x, edge_index), {}, edge_index, NODE, target)
    torch.testing.assert_close(EdgeGradient(wrapper).attribute(adapter.ones(), target=target)[0], expected)
    occlusion = EdgeOcclusion(adapter).attribute(adapter.ones(), target=target)
    torch.testing.assert_close(EdgeOcclusion(wrapper).attribute(adapter.ones(), target=target), 2 * occlusion)


class FusedSum(MessagePassing):
    """Sums messages by a kernel of its own between PyG's propagate hooks, never calling message(): a fused kernel as edgeattr sees one."""

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)

    def propagate(self, edge_index, size=None, **kwargs):
        for hook in self._propagate_forward_pre_hooks.values():
            hook(self, (edge_index, size, kwargs))
        x = kwargs["x"]
        out = torch.zeros_like(x).index_add(0, edge_index[1], x[edge_index[0]])
        for hook in self._propagate_forward_hooks.values():
            hook(self, (edge_index, size, kwargs), out)
        return out


def test_a_fused_kernel_is_refused_already_when_the_layers_are_counted():
    x, edge_index, _ = random_graph()
    # verify=False: no weighted pass runs while the adapter is built, only the counting ones.
    with pytest.raises(UnsupportedLayerError, match="without calling message"):
        PyGAdapter(FusedSum().eval(), x, edge_index, index=NODE, verify=False)


def test_the_old_names_warn_and_give_the_new_values():
    adapter = adapters()["many nodes"]
    with pytest.warns(DeprecationWarning, match="column_targets is renamed to edge_segment"):
        assert torch.equal(adapter.column_targets, adapter.edge_segment)
    with pytest.warns(DeprecationWarning, match="edges is renamed to edge_ids"):
        assert torch.equal(adapter.segments.edges, adapter.edge_ids)
    with pytest.warns(DeprecationWarning, match="carriers is renamed to message_edges"):
        assert torch.equal(adapter.segments.carriers, adapter.message_edges)

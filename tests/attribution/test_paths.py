"""The walk searches against brute-force enumeration of every walk and against the per-node reference."""

import itertools

import pytest
import torch
from torch_geometric.nn import GraphSAGE, SAGEConv
from torch_geometric.utils import erdos_renyi_graph

from edgeattr import AMPAve, BestWalk, PyGAdapter
from edgeattr.attribution.paths import _ComputationGraph
from edgeattr.benchmarks.reference_paths import reference_walk
from tests.support.zoo import random_graph


def sage(in_channels, hidden, layers, classes, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return GraphSAGE(in_channels, hidden, num_layers=layers, out_channels=classes, aggr="sum").to(dtype).eval()


def layer_jacobians(model, x, edge_index, target):
    """Per layer k: the features entering it and its full Jacobian (N, d_out, N, d_in), by autograd.functional."""
    inputs, jacobians, h = [], [], x
    for k, conv in enumerate(model.convs):
        last = k == len(model.convs) - 1

        def layer(features, conv=conv, last=last):
            out = conv(features, edge_index)
            return out[:, target:target + 1] if last else model.act(out)

        inputs.append(h)
        jacobians.append(torch.autograd.functional.jacobian(layer, h))
        h = layer(h).detach()
    return inputs, jacobians


def every_walk(edge_index, target, layers):
    """All walks (u_0, ..., u_L = target): each step follows an edge into the next node or stays."""
    senders = {}
    for u, v in edge_index.t().tolist():
        senders.setdefault(v, set()).add(u)
    walks = [[target]]
    for _ in range(layers):
        walks = [[u] + walk for walk in walks for u in sorted(senders.get(walk[0], set()) | {walk[0]})]
    return walks


def chained_score(walk, inputs, jacobians):
    vector = torch.ones(1, 1, dtype=inputs[0].dtype)
    for k in range(len(jacobians) - 1, -1, -1):
        vector = vector @ jacobians[k][walk[k + 1], :, walk[k], :]
    return float(vector @ inputs[0][walk[0]])


def averaged_score(walk, inputs, jacobians):
    return sum(float(inputs[k][walk[k]] @ jacobians[k][walk[k + 1], :, walk[k], :].mean(0)) for k in range(len(jacobians)))


def brute_force(model, x, edge_index, node, target, score):
    inputs, jacobians = layer_jacobians(model, x, edge_index, target)
    scored = [(score(walk, inputs, jacobians), walk) for walk in every_walk(edge_index, node, len(jacobians))]
    return scored, inputs, jacobians


def search(method, model, x, edge_index, node, target):
    return method(PyGAdapter(model, x, edge_index, index=node, layerwise=True)).walk(target=target)


@pytest.mark.parametrize("node", [0, 3, 7])
def test_amp_ave_finds_the_longest_walk_of_all(node):
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=node)
    model = sage(x.size(1), 4, 3, 3, seed=node)
    scored, _, _ = brute_force(model, x, edge_index, node, 1, averaged_score)
    best_score, best_walk = max(scored, key=lambda pair: pair[0])
    walk = search(AMPAve, model, x, edge_index, node, 1)
    assert walk.nodes.tolist() == best_walk
    assert walk.score == pytest.approx(best_score, rel=1e-9)


@pytest.mark.parametrize("node", [0, 3, 7])
def test_best_walk_scores_its_walk_by_the_chained_jacobians(node):
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=node)
    model = sage(x.size(1), 4, 3, 3, seed=node)
    scored, inputs, jacobians = brute_force(model, x, edge_index, node, 2, chained_score)
    walk = search(BestWalk, model, x, edge_index, node, 2)
    assert walk.nodes[-1] == node and walk.nodes.tolist() in [w for _, w in scored]
    assert walk.score == pytest.approx(chained_score(walk.nodes.tolist(), inputs, jacobians), rel=1e-9)
    assert walk.score <= max(score for score, _ in scored) + 1e-12


@pytest.mark.parametrize("layers, hidden", [(1, 4), (3, 1)])
def test_best_walk_is_the_best_of_all_walks_where_the_greedy_rule_is_exact(layers, hidden):
    # One layer: nothing to be greedy about. Width-1 layers with non-negative weights and
    # features: every chained Jacobian is a non-negative number, so the best prefix is best.
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=22, seed=5)
    x = x.abs() + 0.1
    model = sage(x.size(1), hidden, layers, 2, seed=3)
    if hidden == 1:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.abs_()
    for node in range(4):
        scored, _, _ = brute_force(model, x, edge_index, node, 1, chained_score)
        best_score, best_walk = max(scored, key=lambda pair: pair[0])
        walk = search(BestWalk, model, x, edge_index, node, 1)
        assert walk.score == pytest.approx(best_score, rel=1e-9)
        assert walk.nodes.tolist() == best_walk


@pytest.mark.parametrize("method, name", [(BestWalk, "best"), (AMPAve, "amp")])
def test_agrees_with_the_per_node_reference(method, name):
    torch.manual_seed(1)
    edge_index = erdos_renyi_graph(14, 0.2)
    x = torch.randn(14, 3)
    model = sage(3, 6, 3, 4, seed=2, dtype=torch.float32)
    for node in (0, 5):
        target = int(model(x, edge_index)[node].argmax())
        walk = search(method, model, x, edge_index, node, target)
        nodes, score = reference_walk(model, x, edge_index, node, target, name)
        assert walk.nodes.tolist() == nodes
        assert walk.score == pytest.approx(score, rel=1e-4, abs=1e-6)


def test_attribute_marks_the_walk_edges_layer_by_layer():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    model = sage(x.size(1), 4, 3, 3, seed=2)
    adapter = PyGAdapter(model, x, edge_index, index=2, layerwise=True)
    search_ = BestWalk(adapter)
    walk = search_.walk()
    marked = search_.attribute(adapter.ones())
    assert marked.shape == (1, 3, edge_index.size(1))
    nodes = walk.nodes.tolist()
    for layer, edge in enumerate(walk.edges.tolist()):
        if edge < 0:
            assert nodes[layer] == nodes[layer + 1] and marked[0, layer].sum() == 0
        else:
            assert edge_index[:, edge].tolist() == [nodes[layer], nodes[layer + 1]]
            assert marked[0, layer].nonzero().view(-1).tolist() == [edge]


def test_a_node_without_edges_is_its_own_source():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    edge_index = edge_index[:, (edge_index != 8).all(0)]
    model = sage(x.size(1), 4, 2, 3, seed=2)
    walk = search(BestWalk, model, x, edge_index, 8, 0)
    assert walk.nodes.tolist() == [8, 8, 8] and walk.edges.tolist() == [-1, -1]


def test_needs_a_layerwise_node_adapter_and_one_mask():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    model = sage(x.size(1), 4, 2, 3)
    with pytest.raises(ValueError, match="layerwise=True"):
        BestWalk(PyGAdapter(model, x, edge_index, index=1)).walk()
    adapter = PyGAdapter(model, x, edge_index, index=1, layerwise=True)
    with pytest.raises(ValueError, match="one mask at a time"):
        AMPAve(adapter).walk(adapter.ones().repeat(2, 1, 1))


def test_leaves_the_model_as_it_was():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    model = sage(x.size(1), 4, 3, 3)
    before = {name: p.clone() for name, p in model.state_dict().items()}
    BestWalk(PyGAdapter(model, x, edge_index, index=4, layerwise=True)).walk()
    assert all(not module._forward_pre_hooks for module in model.modules())
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())
    assert not model.training


def test_walk_count_of_the_brute_force_is_complete():
    # a path 0 -> 1 -> 2: walks of two layers into 2 are (2,2,2), (1,2,2), (1,1,2), (0,1,2)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    assert sorted(every_walk(edge_index, 2, 2)) == [[0, 1, 2], [1, 1, 2], [1, 2, 2], [2, 2, 2]]
    assert list(itertools.chain.from_iterable(every_walk(edge_index, 0, 1))) == [0, 0]


@pytest.mark.parametrize("method, name", [(BestWalk, "best"), (AMPAve, "amp")])
def test_the_walks_of_several_nodes_found_together_are_those_of_the_per_node_reference(method, name):
    torch.manual_seed(4)
    edge_index = erdos_renyi_graph(16, 0.2)
    x = torch.randn(16, 3)
    model = sage(3, 6, 3, 4, seed=5, dtype=torch.float32)
    nodes = torch.tensor([11, 0, 5, 3, 14])  # overlapping computation subgraphs, not in id order
    targets = model(x, edge_index)[nodes].argmax(1)
    walks = method(PyGAdapter(model, x, edge_index, index=nodes, layerwise=True)).walks(target=targets)
    assert len(walks) == nodes.numel()
    for walk, node, target in zip(walks, nodes.tolist(), targets.tolist()):
        expected, score = reference_walk(model, x, edge_index, node, target, name)
        assert walk.nodes.tolist() == expected
        assert walk.score == pytest.approx(score, rel=1e-4, abs=1e-6)


def test_amp_ave_finds_the_longest_walk_of_every_node_of_one_adapter():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=6)
    model = sage(x.size(1), 4, 3, 3, seed=6)
    walks = AMPAve(PyGAdapter(model, x, edge_index, index=torch.arange(9), layerwise=True)).walks(target=1)
    for node, walk in enumerate(walks):
        scored, _, _ = brute_force(model, x, edge_index, node, 1, averaged_score)
        best_score, best_walk = max(scored, key=lambda pair: pair[0])
        assert walk.nodes.tolist() == best_walk
        assert walk.score == pytest.approx(best_score, rel=1e-9)


def test_the_edges_of_several_walks_are_the_first_of_their_steps_also_among_parallel_edges():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=7)
    edge_index = torch.cat([edge_index, edge_index[:, :8]], 1)  # eight edges twice
    model = sage(x.size(1), 4, 3, 3, seed=7)
    nodes = torch.tensor([1, 4, 6])
    adapter = PyGAdapter(model, x, edge_index, index=nodes, layerwise=True)
    search_ = BestWalk(adapter)
    walks = search_.walks()
    marked = search_.attribute(adapter.ones())
    assert marked.shape == (3, 3, edge_index.size(1))
    segments = adapter.segments
    for row, walk in enumerate(walks):
        own = (segments.edge_segment == row).nonzero().view(-1)  # this target's edges, in the adapter's order
        for layer, (a, b) in enumerate(zip(walk.nodes.tolist()[:-1], walk.nodes.tolist()[1:])):
            edge = int(walk.edges[layer])
            if a == b:
                assert edge == -1 and marked[row, layer].sum() == 0
                continue
            first = next(int(adapter.edge_ids[k]) for k in own.tolist() if edge_index[:, adapter.edge_ids[k]].tolist() == [a, b])
            assert edge == first
            assert marked[row, layer].nonzero().view(-1).tolist() == [edge]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_receiver_classes_share_no_sender_and_are_the_greedy_colouring(seed):
    x, edge_index, _ = random_graph(num_nodes=30, num_edges=90, seed=seed)
    model = sage(x.size(1), 4, 3, 3, seed=seed)
    graph = _ComputationGraph(PyGAdapter(model, x, edge_index, index=torch.tensor([2, 17, 29]), layerwise=True))
    for level in range(graph.num_layers):
        v, u = graph.steps(level)
        colour, classes = graph.colouring(v, u)
        senders = {}  # closed in-neighbourhood of each receiver, from the edge list
        for a, b in zip(graph.src.tolist(), graph.dst.tolist()):
            senders.setdefault(b, {b}).add(a)
        receivers = graph.levels[level].nonzero().view(-1).tolist()
        expected = {}
        for receiver in receivers:  # greedy by position, over pairs of receivers with a common sender
            near = senders.get(receiver, {receiver})
            taken = {expected[other] for other in expected if near & senders.get(other, {other})}
            expected[receiver] = min(set(range(len(taken) + 1)) - taken)
        assert {node: int(colour[node]) for node in receivers} == expected
        assert classes == max(expected.values()) + 1
        assert (colour[~graph.levels[level]] == -1).all()
        fan_out = max(sum(sender in senders.get(r, {r}) for r in receivers) for sender in range(graph.size))
        assert classes >= fan_out  # a sender of r receivers needs r classes


class GlobalTerm(torch.nn.Module):
    """Two sum-SAGE layers with the mean over all nodes in between: no computation subgraph reproduces it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.conv2 = SAGEConv(5, 4, aggr="sum"), SAGEConv(4, 3, aggr="sum")

    def forward(self, x, edge_index):
        h = self.conv1(x, edge_index).relu()
        return self.conv2(h + h.mean(0, keepdim=True), edge_index)


def test_several_nodes_run_in_several_passes_are_refused_with_the_fix():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    model = GlobalTerm().double().eval()
    with pytest.warns(UserWarning, match="alone on the full input"):
        alone = PyGAdapter(model, x, edge_index, index=3, layerwise=True)
    assert BestWalk(alone).walk().nodes[-1] == 3
    together = PyGAdapter(model, x, edge_index, index=torch.tensor([3, 4]), layerwise=True)  # warned once per inputs
    assert together.exact_path
    with pytest.raises(ValueError, match="several passes.*fewer targets"):
        BestWalk(together).walks()
    assert all(not module._forward_pre_hooks for module in model.modules())


def test_walk_is_for_one_node_and_walks_for_several():
    x, edge_index, _ = random_graph(num_nodes=9, num_edges=20, seed=2)
    model = sage(x.size(1), 4, 2, 3)
    adapter = PyGAdapter(model, x, edge_index, index=torch.tensor([1, 2]), layerwise=True)
    with pytest.raises(ValueError, match="walks\\(\\)"):
        BestWalk(adapter).walk()
    with pytest.raises(ValueError, match="one mask at a time"):
        BestWalk(adapter).walks(adapter.ones().repeat(2, 1, 1))

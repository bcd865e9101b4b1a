"""The negative-evidence recipes: the reference's count cycle and graphs, per-graph Adam steps, and the spread over seeds."""

import itertools
import random

import pytest
import torch
import torch.nn.functional as F

from edgeattr.experiments.models import SumSAGE
from edgeattr.experiments.negative_evidence import explained_nodes, train_sum_sage
from edgeattr.experiments.negative_evidence_recipes import count_cycle, cycled_negative_evidence_graph, recipe_graphs, train_per_graph
from edgeattr.experiments.seed_spread import spread, spread_over_seeds


def test_count_cycle_is_the_references_sequence_of_ordered_pairs():
    assert count_cycle(2, 1, 3) == [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    assert count_cycle(3, 1, 3) == [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)]
    assert len(count_cycle(2, 1, 10)) == 90 and count_cycle(2, 1, 10)[:3] == [(1, 2), (1, 3), (1, 4)]
    with pytest.raises(ValueError, match="distinct counts for 3 colours"):
        count_cycle(3, 1, 2)


def _reference_graph(rng, num_nodes, per_colour, num_colours, max_links, p_white):
    """The reference notebooks' construction, step by step, with networkx (independent of edgeattr's)."""
    nx = pytest.importorskip("networkx")
    graph = nx.Graph()
    graph.add_nodes_from(range(num_nodes))
    colours = [c for c in range(1, num_colours + 1) for _ in range(per_colour)] + [0] * (num_nodes - num_colours * per_colour)
    groups = [[i for i in range(num_nodes) if colours[i] == c] for c in range(1, num_colours + 1)]
    white = [i for i in range(num_nodes) if colours[i] == 0]
    for u, v in itertools.combinations(white, 2):
        if rng.random() < p_white:
            graph.add_edge(u, v)
    combinations = list(itertools.permutations(range(1, max_links + 1), num_colours))
    labels = [c - 1 for c in colours]
    for index, node in enumerate(white):
        counts = combinations[index % len(combinations)]
        for group, count in zip(groups, counts):
            for u in rng.sample(group, count):
                graph.add_edge(node, u)
        labels[node] = max(range(num_colours), key=lambda c: counts[c])
    edges = list(graph.to_directed().edges())
    return torch.tensor(edges).t(), torch.tensor(labels), torch.tensor(colours)


@pytest.mark.parametrize("num_colours", [2, 3])
def test_cycled_graphs_are_the_references_edge_for_edge(num_colours):
    reference_rng, rng = random.Random(5), random.Random(5)
    for _ in range(2):  # the second graph continues the same stream
        edge_index, labels, colours = _reference_graph(reference_rng, 90, 5, num_colours, 4, 0.05)
        data = cycled_negative_evidence_graph(rng, num_nodes=90, nodes_per_colour=5, num_colours=num_colours, min_links=1, max_links=4, p_white=0.05)
        assert torch.equal(data.edge_index, edge_index), "same edges in the same order"
        assert torch.equal(data.y, labels) and torch.equal(data.x.argmax(1), colours)
        cycle = count_cycle(num_colours, 1, 4)
        white = colours.eq(0).nonzero().view(-1).tolist()
        for index, node in enumerate(white):
            sources = edge_index[0, edge_index[1] == node]
            counted = tuple(int(colours[sources].eq(c).sum()) for c in range(1, num_colours + 1))
            assert counted == cycle[index % len(cycle)] == tuple(data.link_counts[node].tolist())


def test_paper_graphs_select_the_papers_1232_nodes():
    shape = dict(num_nodes=2000, nodes_per_colour=10, num_colours=2, min_links=1, max_links=10, p_white=0.0)
    _, test = recipe_graphs("paper", shape, 0, 0)
    # 1980 white nodes = 22 turns of the 90 ordered pairs; 56 pairs have both counts >= 2 and differ by >= 2
    assert int(explained_nodes(test, min_margin=2).sum()) == 22 * 56 == 1232
    with pytest.raises(ValueError, match="recipe must be one of"):
        recipe_graphs("other", shape, 1, 0)


def _tiny_graphs(count):
    rng = random.Random(0)
    graphs = [cycled_negative_evidence_graph(rng, num_nodes=60, nodes_per_colour=5, max_links=5, p_white=0.02) for _ in range(count)]
    return graphs, [explained_nodes(g) for g in graphs]


def test_per_graph_training_takes_one_adam_step_per_graph_and_equals_a_hand_loop(monkeypatch):
    graphs, masks = _tiny_graphs(3)
    torch.manual_seed(1)
    model, twin = SumSAGE(3, 1), SumSAGE(3, 1)
    twin.load_state_dict(model.state_dict())
    steps = []
    step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: (steps.append(1), step(self, *a, **k))[1])
    train_per_graph(model, graphs, masks, epochs=5, lr=0.05, l1=0.01)
    assert len(steps) == 5 * 3
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    weight = twin.conv.lin_l.weight
    optimizer = torch.optim.Adam([weight], lr=0.05)
    for _ in range(5):
        for g, m in zip(graphs, masks):
            optimizer.zero_grad()
            messages = torch.zeros(g.num_nodes, 3).index_add_(0, g.edge_index[1], g.x[g.edge_index[0]])
            logits = (messages @ weight.t()).view(-1)
            loss = F.binary_cross_entropy_with_logits(logits[m], g.y[m].float()) + 0.01 * weight.abs().sum()
            loss.backward()
            optimizer.step()
    assert torch.allclose(model.conv.lin_l.weight, weight, atol=1e-6)


@pytest.mark.parametrize("recipe,steps_per_epoch", [("paper", 3), ("edgeattr", 1)])
def test_recipes_take_their_number_of_steps_per_epoch(monkeypatch, recipe, steps_per_epoch):
    graphs, masks = _tiny_graphs(3)
    steps = []
    step = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: (steps.append(1), step(self, *a, **k))[1])
    train_sum_sage(graphs, masks, epochs=4, lr=0.05, recipe=recipe)
    assert len(steps) == 4 * steps_per_epoch
    with pytest.raises(ValueError, match="recipe must be one of"):
        train_sum_sage(graphs, masks, epochs=1, lr=0.05, recipe="other")


def test_spread_is_mean_sample_std_min_max_and_first():
    assert spread([1.0, 3.0, 2.0]) == pytest.approx({"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0, "first": 1.0, "n": 3})
    assert spread([0.5]) == {"mean": 0.5, "std": 0.0, "min": 0.5, "max": 0.5, "first": 0.5, "n": 1}
    both = spread_over_seeds([{"a": 1.0, "b": 4.0}, {"a": 2.0}])
    assert list(both) == ["a"] and both["a"]["std"] == pytest.approx(0.5 ** 0.5)
    with pytest.raises(ValueError, match="at least one seed"):
        spread([])

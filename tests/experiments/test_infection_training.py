"""The infection recipes: the paper's draws as the reference makes them, and the cache keys of its models."""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.datasets import InfectionDataset
from torch_geometric.datasets.graph_generator import ERGraph
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GraphSAGE

from edgeattr.experiments.infection_training import InfectionSizes, dataloader_order, trained_infection_model

TINY = InfectionSizes(graphs=3, num_nodes=40, edge_prob=0.08, infected=3, max_path_length=2, hidden=8)


def test_dataloader_order_draws_as_a_shuffling_dataloader():
    torch.manual_seed(5)
    loader = torch.utils.data.DataLoader(list(range(7)), shuffle=True)
    expected = [[int(batch) for batch in loader] for _ in range(3)]
    after = torch.get_rng_state()
    torch.manual_seed(5)
    assert [dataloader_order(7) for _ in range(3)] == expected
    assert torch.equal(torch.get_rng_state(), after)  # the same draws from the global generator, no more
    assert sorted(expected[0]) == list(range(7)) and len({tuple(order) for order in expected}) > 1


def reference_training(sizes, seed, epochs):
    """The reference's nbks/infection.py at these sizes: one seed, the dataset, a shuffling loader, the model,
    clip_grad_norm_ before backward, the last epoch kept."""
    torch.manual_seed(seed)
    dataset = InfectionDataset(graph_generator=ERGraph(num_nodes=sizes.num_nodes, edge_prob=sizes.edge_prob), num_graphs=sizes.graphs,
                               num_infected_nodes=sizes.infected, max_path_length=sizes.max_path_length)
    loader = DataLoader(dataset[:-1], shuffle=True)
    model = GraphSAGE(2, hidden_channels=sizes.hidden, num_layers=sizes.max_path_length, out_channels=sizes.max_path_length + 2, aggr="sum")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=3e-4)
    for _ in range(epochs):
        model.train()
        for data in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data.x, data.edge_index), data.y)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            loss.backward()
            optimizer.step()
    return model


@pytest.mark.parametrize("seed", [0, 3])
def test_paper_recipe_gives_the_references_weights(seed):
    graphs, model, metrics = trained_infection_model(TINY, "paper", seed, epochs=6, cache_dir="")
    reference = reference_training(TINY, seed, epochs=6)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    _, ours, _ = trained_infection_model(TINY, "edgeattr", seed, epochs=6, cache_dir="")
    assert not all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), reference.state_dict().values()))
    test = graphs[-1]
    assert metrics["test_accuracy"] == pytest.approx(float((reference.eval()(test.x, test.edge_index).argmax(-1) == test.y).float().mean()))


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="choose one of paper, edgeattr"):
        trained_infection_model(TINY, "captum", 0, epochs=1, cache_dir="")


def test_cached_model_is_the_trained_one(tmp_path):
    _, trained, first = trained_infection_model(TINY, "paper", 1, epochs=4, cache_dir=str(tmp_path))
    _, loaded, second = trained_infection_model(TINY, "paper", 1, epochs=4, cache_dir=str(tmp_path))
    assert first == second and len(list(tmp_path.iterdir())) == 1
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), loaded.state_dict().values()))
    trained_infection_model(TINY, "edgeattr", 1, epochs=4, cache_dir=str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 2  # another recipe, another model

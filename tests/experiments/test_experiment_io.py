"""The trained-model cache and the result folder shared by the experiments."""

import csv
import json

import pytest
import torch

from edgeattr.experiments.cache import configuration_key, load_or_train
from edgeattr.experiments.outputs import ResultFolder, progress


def test_cache_trains_once_and_restores_the_same_weights(tmp_path):
    calls = []

    def train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.normal_()
        return {"accuracy": 0.5}

    torch.manual_seed(0)
    first = torch.nn.Linear(3, 2)
    config = {"model": "linear", "seed": 0, "epochs": 1}
    assert load_or_train(first, config, train, str(tmp_path)) == {"accuracy": 0.5}
    second = torch.nn.Linear(3, 2)
    assert load_or_train(second, dict(reversed(config.items())), train, str(tmp_path)) == {"accuracy": 0.5}
    assert len(calls) == 1
    assert torch.equal(first.weight, second.weight) and torch.equal(first.bias, second.bias)
    load_or_train(torch.nn.Linear(3, 2), {**config, "seed": 1}, train, str(tmp_path))
    assert len(calls) == 2


def test_disabled_cache_always_trains(tmp_path):
    calls = []
    for _ in range(2):
        load_or_train(torch.nn.Linear(2, 2), {"seed": 0, "epochs": 1}, lambda m: calls.append(1) or {}, "")
    assert len(calls) == 2


def test_result_folder_writes_csv_and_json(tmp_path):
    folder = ResultFolder(str(tmp_path / "run"))
    rows = [{"dataset": "Cora", "cosine": 0.5}, {"dataset": "Texas", "cosine": 0.25}]
    with open(folder.write_csv("table.csv", rows)) as handle:
        assert list(csv.DictReader(handle)) == [{"dataset": "Cora", "cosine": "0.5"}, {"dataset": "Texas", "cosine": "0.25"}]
    with open(folder.write_json("summary.json", {"b": 1, "a": [1, 2]})) as handle:
        assert json.load(handle) == {"a": [1, 2], "b": 1}
    assert list(progress(iter(range(3)), "count", total=3)) == [0, 1, 2]


def test_grid_figure_extends_its_axes_down_to_negative_bands_only():
    import matplotlib.pyplot as plt

    from edgeattr.experiments.grid import plot_grid

    def cells(low):
        return [
            {"dataset": d, "architecture": "GCN", "depth": depth, "cos_mean": 0.5, "cos_std": 0.5 - low if d == "B" else 0.1}
            for d in ("A", "B")
            for depth in (1, 2)
        ]

    for low, expected in [(0.2, 0.0), (-0.4, -0.42), (-3.0, -1.02)]:
        figure = plot_grid(cells(low), {"cos": "cosine"}, "cos", "title")
        assert [round(axis.get_ylim()[0], 6) for axis in figure.axes] == [expected, expected]
        plt.close(figure)


@pytest.fixture
def training_module(tmp_path, monkeypatch):
    """Writes and imports a module ``name`` whose ``train`` runs ``body``."""
    import importlib.util
    import sys

    def write(name, body):
        path = tmp_path / f"{name}.py"
        path.write_text(f"def train(model):\n    {body}\n    return {{}}\n")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return write


def test_key_changes_with_everything_that_changes_training(training_module):
    first = training_module("recipe_a", "model.weight.data.zero_()")
    same = training_module("recipe_a_copy", "model.weight.data.zero_()")
    other = training_module("recipe_b", "model.weight.data.fill_(1.0)")
    config = {"recipe": "paper", "seed": 0, "epochs": 100}
    key = configuration_key(config, [first.train])
    assert configuration_key(dict(reversed(config.items())), [first.train]) == key
    changed = [{**config, "recipe": "edgeattr"}, {**config, "seed": 1}, {**config, "epochs": 99}]
    assert all(configuration_key(c, [first.train]) != key for c in changed)
    assert configuration_key(config, [other.train]) != key  # other training code
    assert configuration_key(config, [same.train]) != key  # the module's name is part of the code
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if before != 1 else 2)
        assert configuration_key(config, [first.train]) != key
    finally:
        torch.set_num_threads(before)
    assert configuration_key(config, [first.train]) == key


def test_key_follows_an_edit_of_the_training_code(tmp_path, training_module):
    import linecache

    module = training_module("edited", "model.weight.data.zero_()")
    key = configuration_key({"seed": 0, "epochs": 1}, [module.train])
    (tmp_path / "edited.py").write_text("def train(model):\n    model.weight.data.fill_(2.0)\n    return {}\n")
    linecache.checkcache()
    assert configuration_key({"seed": 0, "epochs": 1}, [module.train]) != key


def test_key_needs_the_seed_and_the_epochs():
    with pytest.raises(ValueError, match="lacks epochs"):
        configuration_key({"seed": 0})
    with pytest.raises(ValueError, match="lacks seed, epochs"):
        load_or_train(torch.nn.Linear(2, 2), {"a": 1}, lambda m: {}, "")

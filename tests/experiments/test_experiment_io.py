"""The trained-model cache and the result folder shared by the experiments."""

import csv
import json

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
    config = {"model": "linear", "seed": 0}
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
        load_or_train(torch.nn.Linear(2, 2), {"a": 1}, lambda m: calls.append(1) or {}, "")
    assert len(calls) == 2
    assert configuration_key({"a": 1, "b": 2}) == configuration_key({"b": 2, "a": 1}) != configuration_key({"a": 1})


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

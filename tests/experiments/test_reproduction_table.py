"""The table of docs/reproduction.md against the committed result files."""

import json
import pathlib

from edgeattr.experiments import reproduction_table
from edgeattr.experiments.reproduction_table import NOT_RUN, PAGE, SECTION, infection_rows, over_seeds, table

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def test_the_page_holds_the_table_of_the_result_files():
    assert SECTION.find((REPOSITORY / PAGE).read_text()) == table(REPOSITORY)


def test_every_result_file_gives_its_rows():
    for results, rows in reproduction_table.SOURCES:
        made = rows(json.loads((REPOSITORY / results).read_text()))
        assert made and all(row.paper and row.command for row in made)
        assert all(row.paper_recipe != NOT_RUN for row in made), f"{results} has no run of the paper recipe"


def test_over_seeds_gives_the_spread_and_the_first_seed():
    spread = {"mean": 0.5, "std": 0.25, "min": 0.2, "max": 0.9, "first": 0.7}
    assert over_seeds(spread, [0, 1, 2], 2) == "0.50 ± 0.25 over 3 seeds (0.20–0.90); seed 0: 0.70"
    assert over_seeds(spread, [4], 3) == "0.700 (seed 4 only)"


def test_infection_rows_take_the_run_of_most_seeds_and_say_what_did_not_run():
    def run(recipe, seeds, threads, first):
        spread = {"mean": first, "std": 1.0, "min": first - 1, "max": first + 1, "first": first}
        return {"config": {"recipe": recipe, "seeds": seeds, "threads": threads}, "cosine_nodes": 0, "cosine_mean": 0.0, "cosine_std": 0.0,
                "spread": {"best_walk_accuracy": spread, "amp_ave_accuracy": spread}}

    rows = infection_rows({"runs": [run("paper", [0], 2, 50.0), run("paper", [0, 1], 1, 60.0), run("paper", [0, 1], 2, 70.0)]})
    assert rows[0].paper == "99.08 %" and rows[0].paper_recipe.startswith("60.00 ± 1.00 over 2 seeds")
    assert rows[0].edgeattr_recipe == NOT_RUN and rows[2].paper_recipe == NOT_RUN


def test_linear_check_rows_take_the_run_of_most_seeds_with_the_seeds_spread_and_the_first_seed():
    def linear_row(depth, item_mean, **spread):
        return {"depth": depth, "count": 20 if spread else 3, "layerwise_grad_vs_occlusion_mean": 1.0, "max_abs_gap_mean": 0.0,
                "gnnexplainer_vs_p_mean": item_mean, "gnnexplainer_vs_p_std": 0.05, **{f"gnnexplainer_vs_p_seed_{k}": v for k, v in spread.items()}}

    grid = {"settings": {"recipe": "paper", "seed": 0, "depths": [1], "explained": 2, "datasets": ["Cora"]},
            "cells": [{"dataset": "Cora", "architecture": "GCN", "depth": 1, "grad_mean": 0.99}], "sgc": [linear_row(1, 0.5), linear_row(2, 0.4)]}
    linear_alone = {"settings": {"recipe": "paper", "seed": 0, "seeds": 2, "depths": [1], "explained": 2, "datasets": []},
                    "sgc": [linear_row(1, 0.9, mean=0.91, std=0.02, first=0.93), linear_row(2, 0.8, mean=0.81, std=0.01, first=0.8)]}
    rows = reproduction_table.layerwise_rows({"runs": [grid, linear_alone]})
    assert rows[0].paper_recipe == "1.000000 at L = 1–2 (largest gap < 5e-05; 20 nodes over 2 seeds, sampled edges)"
    assert rows[1].paper_recipe == "0.910 ± 0.020, 0.810 ± 0.010 (mean ± std of the seeds' means, 20 nodes over 2 seeds per depth); seed 0: 0.930, 0.800"
    assert rows[2].paper_recipe.startswith("node tasks 0.990 (seed 0,")  # the grid row still reads the grid run
    assert rows[0].edgeattr_recipe == NOT_RUN
    assert reproduction_table.layerwise_rows({"runs": [grid]})[1].paper_recipe == "0.500, 0.400 (3 nodes per depth)"

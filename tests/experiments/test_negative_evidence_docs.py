"""The negative-evidence page: its results section is what the generator makes of the committed result file."""

import json
import pathlib

import pytest

from edgeattr.experiments.negative_evidence_docs import PAGE, SECTION, merge_runs, section, write_docs

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_documented_results_are_generated_from_the_committed_result_file():
    results = json.loads((ROOT / "docs" / "results" / "negative_evidence.json").read_text())
    assert SECTION.find((ROOT / PAGE).read_text()) == section(results)
    assert "paper" in results and set(results) <= {"paper", "edgeattr"}
    for entry in results.values():
        assert set(entry["variants"]) == {"2class", "3class"}
        for variant in entry["variants"].values():
            assert [s["seed"] for s in variant["per_seed"]] == entry["seeds"]
    for image in ("negative_evidence.png", "negative_evidence_3class.png"):
        assert (ROOT / "docs" / "images" / image).is_file()


def _seed(seed, cos, accuracy=1.0):
    return {
        "seed": seed, "colours": 2, "explained_nodes": 3, "candidate_nodes": 5, "edges": 40, "test_accuracy": accuracy,
        "train_accuracy": 1.0, "weights": {"conv.lin_l.weight": [[0.0, -1.5, 1.5]]}, "seconds": 60.0,
        "shown": {"node": 7, "label": 1, "blue_links": 2, "red_links": 5, "white_links": 1},
        "cos_sign_gnnexplainer": {"mean": cos, "std": 0.01},
    }


def _run(seeds, cos, settings=None, threads=2):
    per_seed = [_seed(s, c) for s, c in zip(seeds, cos)]
    return {"recipe": "paper", "seeds": seeds, "settings": settings or {"epochs": 10, "classes": [2]}, "threads": threads,
            "variants": {"2class": {"paper": {}, "per_seed": per_seed, "spread": {}}}}


def test_runs_of_one_recipe_merge_into_one_spread_over_their_seeds(tmp_path):
    merged = merge_runs([_run([1], [1.0], threads=1), _run([0], [0.9])])
    entry = merged["paper"]
    assert entry["seeds"] == [0, 1]
    spread = entry["variants"]["2class"]["spread"]["cos_sign_gnnexplainer"]
    assert spread == pytest.approx({"mean": 0.95, "std": 0.1 / 2 ** 0.5, "min": 0.9, "max": 1.0, "first": 0.9, "n": 2})
    text = section(merged)
    assert text.startswith(SECTION.markers[0]) and text.endswith(SECTION.markers[1])
    assert "| cos(P, GNNExplainer) | 0.9979 ± 0.0029 | 0.9000 ± 0.0100 | 0.9500 ± 0.0707 | 0.9000 – 1.0000 |" in text
    assert "--recipe paper --seed S --epochs 10 --classes 2" in text
    assert "for S = 0, 1 (seed 0: 1.0 minutes, 2 torch threads; seed 1: 1.0 minutes, 1 torch thread)" in text
    assert "shows white node 7 (2 blue, 5 red and 1 white neighbours; label red)" in text
    with pytest.raises(ValueError, match="differ in their settings"):
        merge_runs([_run([0], [0.9]), _run([1], [1.0], settings={"epochs": 20})])
    with pytest.raises(ValueError, match="seed 0 of recipe 'paper'"):
        merge_runs([_run([0], [0.9]), _run([0], [1.0])])


def test_write_docs_writes_the_result_file_and_replaces_only_the_section(tmp_path):
    runs = []
    for seed, cos in ((0, 0.9), (1, 1.0)):
        runs.append(tmp_path / f"summary{seed}.json")
        runs[-1].write_text(json.dumps(_run([seed], [cos])))
    results, page = tmp_path / "results.json", tmp_path / "page.md"
    opening, closing = SECTION.markers
    page.write_text(f"# Title\n\nbefore\n\n{opening}\nstale\n{closing}\n\nafter\n")
    write_docs(str(results), str(page), [str(r) for r in runs])
    generated = section(json.loads(results.read_text()))
    assert page.read_text() == f"# Title\n\nbefore\n\n{generated}\n\nafter\n"
    assert json.loads(results.read_text())["paper"]["seeds"] == [0, 1]
    runs[0].write_text(json.dumps(_run([2], [0.8], threads=1)))
    write_docs(str(results), str(page), [str(runs[0])], add=True)
    added = json.loads(results.read_text())["paper"]
    assert added["seeds"] == [0, 1, 2] and [s["threads"] for s in added["variants"]["2class"]["per_seed"]] == [2, 2, 1]
    assert added["variants"]["2class"]["spread"]["cos_sign_gnnexplainer"]["mean"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="seed 2 of recipe 'paper'"):
        write_docs(str(results), str(page), [str(runs[0])], add=True)

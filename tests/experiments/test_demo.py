"""The demo runs end to end at a small size and shows the paper's result."""

import os

from edgeattr.cli import main
from edgeattr.experiments.demo import run_demo


def test_demo_table_and_figure(tmp_path):
    lines = []
    rows = run_demo(out_dir=str(tmp_path), num_nodes=2000, explained=3, log=lines.append)
    by_method = {row.method: row for row in rows}
    assert by_method["GradientSign (eps=0.001)"].cosine_mean > 0.98
    assert by_method["GNNExplainer"].cosine_mean > 0.999
    # occlusion equals the gradient for this linear 1-layer model
    assert abs(by_method["EdgeOcclusion"].cosine_mean - by_method["EdgeGradient"].cosine_mean) < 1e-6  # float32 model
    assert any("cos to GNNExplainer" in line for line in lines)
    figure = tmp_path / "explanation.png"
    assert figure.stat().st_size > 10_000


def test_cli_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--nodes", "2", "--graph-size", "200"]) == 0
    assert "GradientSign" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "explanation.png")

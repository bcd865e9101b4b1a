"""``edgeattr explain --task link``: a link predictor trained on a node dataset's graph, one pair's score explained."""

import matplotlib

matplotlib.use("Agg")

import os  # noqa: E402

import torch  # noqa: E402

from edgeattr.cli import main  # noqa: E402
from edgeattr.experiments.datasets import load_dataset  # noqa: E402
from edgeattr.experiments.link_prediction import split_links, train_link_predictor  # noqa: E402
from tests.support.raw_datasets import write_webkb  # noqa: E402
from tests.support.zoo import reference_gradient  # noqa: E402


def test_explain_link_prints_the_reference_gradients_of_the_trained_pair_score(tmp_path, capsys):
    write_webkb(str(tmp_path), "cornell")
    out = tmp_path / "link.png"
    argv = ["explain", "--dataset", "cornell", "--task", "link", "--pair", "3", "17", "--method", "edge_gradient", "--epochs", "5",
            "--root", str(tmp_path), "--out", str(out), "--cache-dir", ""]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pair (3, 17)" in printed and os.path.getsize(out) > 0
    # The same split and training, seeded, and the gradient of the pair's logit through PyG's set_masks.
    split = split_links(load_dataset("cornell", str(tmp_path)).node_graph(), seed=0)
    model, _ = train_link_predictor("GCN", split, epochs=5, seed=0)
    test, pair = split.test, torch.tensor([[3], [17]])
    logit = float(model(test.x, test.edge_index, pair))
    model.double()  # the reference's masks are float64
    gradient = reference_gradient(model, (test.x.double(), test.edge_index, pair), {}, test.edge_index, 0, int(logit > 0))
    lines = [line for line in printed.splitlines() if line.startswith("  edge ")]
    assert len(lines) == 5
    for line in lines:
        edge, value = int(line.split()[1]), float(line.rsplit(":", 1)[1])
        assert abs(value - float(gradient[edge])) <= 1e-3 * max(1.0, abs(value))
    assert f"logit {logit:+.4g}" in printed

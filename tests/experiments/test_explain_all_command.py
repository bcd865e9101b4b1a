"""``edgeattr explain-all``: every node of a dataset to Parquet, resumable, equal to set_masks gradients of the trained model."""

import argparse
import copy

import torch

from edgeattr import read_attributions, read_manifest
from edgeattr.cli import main
from edgeattr.experiments.datasets import load_dataset
from edgeattr.experiments.explain_command import trained
from tests.support.raw_datasets import WEBKB_NODES, write_webkb
from tests.support.zoo import reference_gradient


def test_explain_all_writes_every_node_and_resumes(tmp_path, capsys):
    write_webkb(str(tmp_path), "cornell")
    cache, out = tmp_path / "cache", tmp_path / "run"
    argv = ["explain-all", "--dataset", "cornell", "--method", "edge_gradient", "--epochs", "5", "--shard-size", "16",
            "--root", str(tmp_path), "--out", str(out), "--cache-dir", str(cache)]
    assert main(argv) == 0
    assert f"{WEBKB_NODES} nodes explained with edge_gradient" in capsys.readouterr().out
    manifest = read_manifest(out)
    assert manifest.targets == list(range(WEBKB_NODES)) and len(manifest.shards) == 4
    stored = read_attributions(out).to_dense()
    # The same model, from the cache of trained models, and PyG's set_masks gradients of its predicted classes.
    data = load_dataset("cornell", str(tmp_path))
    args = argparse.Namespace(model="gcn", layers=2, epochs=5, seed=0, root=str(tmp_path), cache_dir=str(cache))
    model = copy.deepcopy(trained(data, args)[0]).double().eval()
    graph = data.node_graph()
    x = graph.x.double()
    classes = [c for shard in manifest.shards for c in shard.classes]
    for node in (0, 17, 59):
        reference = reference_gradient(model, (x, graph.edge_index), {}, graph.edge_index, node, classes[node])
        torch.testing.assert_close(stored[node].double(), reference, rtol=1e-4, atol=1e-6)
    before = {shard.file: (out / shard.file).stat().st_mtime_ns for shard in manifest.shards}
    assert main(argv) == 0  # finished: nothing is recomputed
    assert {shard.file: (out / shard.file).stat().st_mtime_ns for shard in read_manifest(out).shards} == before
